"""Case database work: aggregation of attributed reports, lookups, keyset listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from abusedesk.audit.service import Entry
from abusedesk.cases.models import Case, CaseReporter, parse_ref
from abusedesk.cases.workflow import OPEN_STATUSES, CaseStatus
from abusedesk.db import allocate_ids
from abusedesk.policy.models import Policy
from abusedesk.timeutil import utcnow

CaseKey = tuple[str, str, str]  # account, category, resource_key


def case_key(policy: Policy, *, account: str, category: str, resource_key: str) -> CaseKey:
    """The aggregation key the policy sets for this category (default: all three)."""
    fields = policy.aggregation_key(category)
    return (account, category, resource_key if "resource" in fields else "*")


@dataclass(slots=True)
class Joining:
    """One attributed report about to join a case."""

    key: CaseKey
    occurred_at: datetime
    reporter: str | None
    report_id: str


def aggregate(session: Session, policy: Policy, items: Sequence[Joining], *, actor: str) -> tuple[dict[str, Case], list[Entry]]:
    """Put each item into the open case for its key, opening cases as needed.

    Done per batch: one query finds the candidate cases for every key, so a batch of a
    thousand reports costs a handful of statements, not thousands.
    Returns report id → case, and the audit entries to write.
    """
    keys = sorted({item.key for item in items})
    existing: dict[CaseKey, Case] = {}
    audit: list[Entry] = []
    for chunk_start in range(0, len(keys), 400):
        chunk = keys[chunk_start : chunk_start + 400]
        found = session.execute(
            select(Case)
            .where(tuple_(Case.account_id, Case.category, Case.resource_key).in_(chunk))
            .order_by(Case.id.desc())
        ).scalars()
        for candidate in found:
            key = (candidate.account_id, candidate.category, candidate.resource_key)
            existing.setdefault(key, candidate)  # the newest case per key

    now = utcnow()
    assigned: list[tuple[Joining, Case]] = []
    opened: list[Case] = []
    reopened: list[tuple[Case, str, str]] = []
    for item in sorted(items, key=lambda i: i.occurred_at):
        case: Case | None = existing.get(item.key)
        if case is not None and not _joinable(case, item.occurred_at, policy.quiet_window(item.key[1])):
            case = None
        if case is None:
            case = Case(
                account_id=item.key[0], category=item.key[1], resource_key=item.key[2],
                status=CaseStatus.NEW.value, severity=policy.category(item.key[1]).severity.value,
                report_count=0, reporter_count=0, first_seen=item.occurred_at, last_seen=item.occurred_at,
                opened_at=now, updated_at=now,
            )
            existing[item.key] = case
            opened.append(case)
        elif case.status in (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value):
            reopened.append((case, case.status, item.report_id))
            case.status = CaseStatus.NEW.value
            case.closed_at = None
        case.report_count += 1
        case.first_seen = min(case.first_seen, item.occurred_at)
        case.last_seen = max(case.last_seen, item.occurred_at)
        case.updated_at = now
        assigned.append((item, case))
    if opened:
        for case, new_id in zip(opened, allocate_ids(session, Case, len(opened)), strict=True):
            case.id = new_id
        session.add_all(opened)
        session.flush()  # one INSERT for all new cases
    for case in opened:
        audit.append(Entry(actor, "case.opened", "case", str(case.id), {"account": case.account_id, "category": case.category, "resource": case.resource_key}))
    for case, previous, report_id in reopened:
        audit.append(Entry(actor, "case.transition", "case", str(case.id), {"from": previous, "to": CaseStatus.NEW.value, "reason": f"new report {report_id}"}))

    result: dict[str, Case] = {}
    by_id: dict[int, Case] = {}
    new_reporters: dict[int, set[str]] = {}
    for item, case in assigned:
        result[item.report_id] = case
        by_id[case.id] = case
        if item.reporter:
            new_reporters.setdefault(case.id, set()).add(item.reporter)
    if new_reporters:
        known: set[tuple[int, str]] = set()
        case_ids = list(new_reporters)
        for start in range(0, len(case_ids), 500):
            known.update(
                (row[0], row[1])
                for row in session.execute(
                    select(CaseReporter.case_id, CaseReporter.reporter).where(CaseReporter.case_id.in_(case_ids[start : start + 500]))
                )
            )
        rows: list[dict[str, Any]] = [
            {"case_id": cid, "reporter": r}
            for cid, reporters in new_reporters.items()
            for r in sorted(reporters)
            if (cid, r) not in known
        ]
        if rows:
            session.execute(insert(CaseReporter), rows)
            for row in rows:
                by_id[row["case_id"]].reporter_count += 1
    return result, audit


def _joinable(case: Case, occurred_at: datetime, window: timedelta) -> bool:
    """Open cases take reports while they are not quiet for longer than the window;
    a resolved or closed case is reopened by a report inside the window."""
    return occurred_at - case.last_seen <= window and case.first_seen - occurred_at <= window


def get_case(session: Session, ref_or_id: str | int) -> Case | None:
    case_id = ref_or_id if isinstance(ref_or_id, int) else parse_ref(ref_or_id)
    return session.get(Case, case_id) if case_id is not None else None


@dataclass(frozen=True, slots=True)
class CaseFilter:
    status: str | None = None
    category: str | None = None
    account: str | None = None
    open_only: bool = False


def list_cases(session: Session, filters: CaseFilter, *, before_id: int | None = None, limit: int = 50) -> list[Case]:
    """Newest first; ``before_id`` is the keyset cursor (the last id of the previous page)."""
    query = select(Case)
    if filters.status:
        query = query.where(Case.status == filters.status)
    elif filters.open_only:
        query = query.where(Case.status.in_([s.value for s in OPEN_STATUSES]))
    if filters.category:
        query = query.where(Case.category == filters.category)
    if filters.account:
        query = query.where(Case.account_id == filters.account)
    if before_id is not None:
        query = query.where(Case.id < before_id)
    return list(session.execute(query.order_by(Case.id.desc()).limit(limit)).scalars())

