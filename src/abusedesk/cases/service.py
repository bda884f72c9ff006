"""Case database work: aggregation of attributed reports, lookups, keyset listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import TextualSelect, select, text
from sqlalchemy.orm import Session

from abusedesk.audit.service import Entry
from abusedesk.cases.models import Case, CaseReporter, format_ref, parse_ref
from abusedesk.cases.workflow import OPEN_STATUSES, CaseStatus
from abusedesk.db import allocate_ids, insert_rows, insert_values, rows_parameter, update_values
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


@dataclass(slots=True)
class CaseRow:
    """The columns aggregation reads and writes.

    Plain rows, not ORM instances: a batch touches thousands of cases, and instrumented
    objects with their unit of work cost more than the rest of the pipeline together.
    """

    id: int
    account_id: str
    category: str
    resource_key: str
    status: str
    severity: str
    report_count: int
    reporter_count: int
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    def ref(self, prefix: str = "AD") -> str:
        return format_ref(prefix, self.opened_at.year, self.id)


_CASE_FIELDS = tuple(f.name for f in fields(CaseRow))
_case_values = attrgetter(*_CASE_FIELDS)
_CASE_COLUMNS = [getattr(Case, name) for name in _CASE_FIELDS]
#: the columns a joining report may change; each is indexed for the console's sort orders,
#: so an UPDATE names only those whose value did change
_MUTABLE = ("report_count", "updated_at", "last_seen", "first_seen", "reporter_count", "status", "closed_at")
_mutable_values = attrgetter(*_MUTABLE)


#: the newest cases for a batch of keys, joined against the keys passed as one parameter:
#: one small statement whatever the batch size, and an index search per key (SQLite
#: scans the whole table for a row-value IN list)
_BY_KEY_SQL = {
    "sqlite": "FROM json_each(:rows) AS wanted JOIN cases ON cases.account_id = wanted.value ->> 0 "
    "AND cases.category = wanted.value ->> 1 AND cases.resource_key = wanted.value ->> 2",
    "postgresql": "FROM unnest(CAST(:accounts AS text[]), CAST(:categories AS text[]), CAST(:resources AS text[])) "
    "AS wanted(account, category, resource) JOIN cases ON cases.account_id = wanted.account "
    "AND cases.category = wanted.category AND cases.resource_key = wanted.resource",
}


_KEY_COLUMNS = ("accounts", "categories", "resources")


def _cases_by_key(session: Session) -> TextualSelect:
    columns = ", ".join(f"cases.{name}" for name in _CASE_FIELDS)
    return text(f"SELECT {columns} {_BY_KEY_SQL[session.get_bind().dialect.name]}").columns(*_CASE_COLUMNS)


def aggregate(session: Session, policy: Policy, items: Sequence[Joining], *, actor: str) -> tuple[dict[str, CaseRow], list[Entry]]:
    """Put each item into the open case for its key, opening cases as needed.

    Done per batch: one query finds the candidate cases for every key, so a batch of a
    thousand reports costs a handful of statements, not thousands.
    Returns report id → case, and the audit entries to write.
    """
    keys = sorted({item.key for item in items})
    existing: dict[CaseKey, CaseRow] = {}
    audit: list[Entry] = []
    for chunk_start in range(0, len(keys), 2000):
        chunk = keys[chunk_start : chunk_start + 2000]
        found = session.connection().execute(_cases_by_key(session), rows_parameter(session, chunk, _KEY_COLUMNS))
        for candidate in sorted((CaseRow(*row) for row in found), key=lambda c: c.id, reverse=True):
            key = (candidate.account_id, candidate.category, candidate.resource_key)
            existing.setdefault(key, candidate)  # the newest case per key

    now = utcnow()
    assigned: list[tuple[Joining, CaseRow]] = []
    opened: list[CaseRow] = []
    changed: dict[int, tuple[CaseRow, tuple[Any, ...]]] = {}  # with its values before the batch
    reopened: list[tuple[CaseRow, str, str]] = []
    for item in sorted(items, key=lambda i: i.occurred_at):
        case: CaseRow | None = existing.get(item.key)
        if case is not None and not _joinable(case, item.occurred_at, policy.quiet_window(item.key[1])):
            case = None
        if case is None:
            case = CaseRow(
                0, item.key[0], item.key[1], item.key[2], CaseStatus.NEW.value,
                policy.category(item.key[1]).severity.value, 0, 0, item.occurred_at, item.occurred_at, now, now, None,
            )
            existing[item.key] = case
            opened.append(case)
        else:
            if case.id not in changed:
                changed[case.id] = (case, _mutable_values(case))
            if case.status in (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value):
                reopened.append((case, case.status, item.report_id))
                case.status = CaseStatus.NEW.value
                case.closed_at = None
        case.report_count += 1
        case.first_seen = min(case.first_seen, item.occurred_at)
        case.last_seen = max(case.last_seen, item.occurred_at)
        case.updated_at = now
        assigned.append((item, case))
    for case, new_id in zip(opened, allocate_ids(session, Case, len(opened)), strict=True):
        case.id = new_id
    for case in opened:
        audit.append(Entry(actor, "case.opened", "case", str(case.id), {"account": case.account_id, "category": case.category, "resource": case.resource_key}))
    for case, previous, report_id in reopened:
        audit.append(Entry(actor, "case.transition", "case", str(case.id), {"from": previous, "to": CaseStatus.NEW.value, "reason": f"new report {report_id}"}))

    result: dict[str, CaseRow] = {}
    by_id: dict[int, CaseRow] = {}
    new_reporters: dict[int, set[str]] = {}
    for item, case in assigned:
        result[item.report_id] = case
        by_id[case.id] = case
        if item.reporter:
            new_reporters.setdefault(case.id, set()).add(item.reporter)
    reporter_rows = _new_reporters(session, new_reporters, {c.id for c in opened})
    for row in reporter_rows:
        by_id[row["case_id"]].reporter_count += 1
    _write_cases(session, opened, list(changed.values()))
    if reporter_rows:
        insert_rows(session, CaseReporter, reporter_rows)
    return result, audit


#: which of a batch's (case, reporter) pairs are already stored: the same join as above
_KNOWN_REPORTERS_SQL = {
    "sqlite": "SELECT case_reporters.case_id, case_reporters.reporter FROM json_each(:rows) AS wanted "
    "JOIN case_reporters ON case_reporters.case_id = wanted.value ->> 0 AND case_reporters.reporter = wanted.value ->> 1",
    "postgresql": "SELECT case_reporters.case_id, case_reporters.reporter "
    "FROM unnest(CAST(:cases AS integer[]), CAST(:reporters AS text[])) AS wanted(case_id, reporter) "
    "JOIN case_reporters ON case_reporters.case_id = wanted.case_id AND case_reporters.reporter = wanted.reporter",
}


def _new_reporters(session: Session, reporters: dict[int, set[str]], opened: set[int]) -> list[dict[str, Any]]:
    """``case_reporters`` rows for reporters a case has not heard from yet.

    Only the batch's own pairs are looked up: a busy case can have thousands of reporters.
    """
    pairs = [(cid, name) for cid, names in reporters.items() if cid not in opened for name in sorted(names)]
    known: set[tuple[int, str]] = set()
    if pairs:
        dialect = session.get_bind().dialect.name
        params = rows_parameter(session, pairs, ("cases", "reporters"))
        known.update((row[0], row[1]) for row in session.connection().execute(text(_KNOWN_REPORTERS_SQL[dialect]), params))
    return [
        {"case_id": cid, "reporter": r}
        for cid, names in reporters.items()
        for r in sorted(names)
        if (cid, r) not in known
    ]


def _write_cases(session: Session, opened: Sequence[CaseRow], changed: Sequence[tuple[CaseRow, tuple[Any, ...]]]) -> None:
    """One INSERT for new cases; one executemany UPDATE per set of changed columns.

    Core statements bypass the session, so a loaded ``Case`` of the same id is expired
    and reads the new values on next access.
    """
    if opened:
        insert_values(session, Case, _CASE_FIELDS, [_case_values(case) for case in opened])
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for case, before in changed:
        after = _mutable_values(case)
        columns = tuple(name for name, old, new in zip(_MUTABLE, before, after, strict=True) if old != new)
        groups.setdefault(columns, []).append((*(value for value, old in zip(after, before, strict=True) if value != old), case.id))
    for columns, rows in groups.items():
        if columns:
            update_values(session, Case, columns, rows)
    ids = {case.id for case, _ in changed}
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Case) and loaded.id in ids:
            session.expire(loaded)


def _joinable(case: Case | CaseRow, occurred_at: datetime, window: timedelta) -> bool:
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

