"""The report pipeline: raw input → parsed reports → attribution → case.

Works on batches: a thousand reports cost a handful of statements, which is what makes a
feed of millions of rows or a burst of mail cheap. Every function here runs inside the
caller's transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import secrets
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from abusedesk.audit.service import Entry, record_many
from abusedesk.cases.models import Case, format_ref
from abusedesk.cases.service import Joining, aggregate, case_key
from abusedesk.cases.workflow import CaseStatus
from abusedesk.context import Context
from abusedesk.db import insert_values, one_of
from abusedesk.enforcement.flows import enqueue_playbooks
from abusedesk.formats.base import ParsedReport, ParseError
from abusedesk.formats.registry import parse_input
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.intake.service import (
    RawDraft,
    RawLike,
    insert_raw_drafts,
    plan_raw_many,
    quarantine,
    raw_bytes,
    received_entries,
)
from abusedesk.reports.models import Outcome, Report, ReportStatus
from abusedesk.resources import Resource, ResourceKind
from abusedesk.timeutil import isoformat_z, utcnow


def new_report_ids(count: int) -> list[str]:
    """32 hex digits each: milliseconds since the epoch, then 80 random bits (the UUIDv7 layout).

    Ids that grow with time land at the end of the primary-key index instead of on a
    random page of it, which on a large table is most of the cost of inserting a batch.
    """
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    random = secrets.token_hex(10 * count)
    return [stamp + random[i : i + 20] for i in range(0, 20 * count, 20)]


@dataclass(slots=True)
class ReportOutcome:
    report_id: str
    status: str
    outcome: str | None
    category: str | None
    account: str | None = None
    case_id: int | None = None
    case_ref: str | None = None
    detail: str | None = None
    duplicate: bool = False


@dataclass(slots=True)
class IngestResult:
    raw_id: int
    sha256: str
    duplicate: bool = False
    quarantined: bool = False
    error: str | None = None
    reports: list[ReportOutcome] = field(default_factory=list)


def _dedupe_key(parsed: ParsedReport, raw: RawLike, index: int) -> str:
    if parsed.source_id:
        return f"{parsed.source_format}:{parsed.source_id}"[:300]
    return f"raw:{raw.sha256}:{index}"


@dataclass(slots=True)
class ReportDraft:
    """A report on its way into the database: parsed, then routed, then inserted once.

    Plain objects instead of ORM instances on the batch path: building and flushing
    thousands of instrumented objects costs more than parsing the reports did.
    """

    id: str
    raw_id: int
    index_in_raw: int
    dedupe_key: str
    channel: str
    source_format: str
    category: str | None
    occurred_at: datetime | None
    received_at: datetime
    reporter_email: str | None
    reporter_name: str | None
    summary: str
    evidence: str
    resources: list[dict[str, str]]
    fields: dict[str, Any]
    automated: bool
    confidence: float | None
    no_complaint: bool
    status: str = ReportStatus.QUEUED
    outcome: str | None = None
    outcome_detail: str | None = None
    account_id: str | None = None
    case_id: int | None = None
    attributed_resource: str | None = None
    inventory_resource_id: int | None = None
    completed_at: datetime | None = None


_DRAFT_FIELDS = tuple(f.name for f in fields(ReportDraft))
_draft_values = attrgetter(*_DRAFT_FIELDS)
#: what routing reads and writes: a draft on the batch path, a stored Report in the worker
Routable = ReportDraft | Report


def create_reports(
    session: Session, entries: Sequence[tuple[RawLike, Sequence[ParsedReport]]]
) -> tuple[list[ReportDraft], list[tuple[RawLike, Report]]]:
    """Drafts for the new reports of several inputs, not yet inserted (see :func:`insert_drafts`).

    Also returns, for each report that was already known, the input that repeated it with
    the stored report: a report known by its dedupe key (the sender's id, or hash and
    position) is never inserted again, so re-ingesting an input, or the same XARF report
    by mail and by API, is a no-op.
    """
    keyed = [(_dedupe_key(p, raw, i), raw, i, p) for raw, parsed in entries for i, p in enumerate(parsed)]
    known: dict[str, Report] = {}
    keys = [k for k, _, _, _ in keyed]
    # keys already stored: few, so only those are loaded as instances
    seen = list(session.connection().execute(select(Report.dedupe_key).where(one_of(session, Report.dedupe_key, keys))).scalars()) if keys else []
    if seen:
        for report in session.execute(select(Report).where(one_of(session, Report.dedupe_key, seen))).scalars():
            known[report.dedupe_key] = report
    now = utcnow()
    ids = iter(new_report_ids(len(keyed)))
    new: list[ReportDraft] = []
    fresh_keys: set[str] = set()
    duplicates: list[tuple[RawLike, Report]] = []
    for key, raw, index, p in keyed:
        if key in known:
            duplicates.append((raw, known[key]))
            continue
        if key in fresh_keys:
            continue
        fresh_keys.add(key)
        new.append(ReportDraft(
            next(ids), raw.id, index, key, raw.channel, p.source_format,
            p.category.value if p.category else None, p.occurred_at, now, p.reporter.email,
            p.reporter.name, p.summary, p.evidence, [r.as_dict() for r in p.resources], p.fields,
            p.automated, p.confidence, p.no_complaint,
        ))
    return new, duplicates


def insert_drafts(session: Session, drafts: Sequence[ReportDraft]) -> None:
    if drafts:
        insert_values(session, Report, _DRAFT_FIELDS, [_draft_values(d) for d in drafts])


_KINDS = {kind.value: kind for kind in ResourceKind}


def _resources(report: Routable) -> list[Resource]:
    return [Resource(_KINDS[r["kind"]], r["value"]) for r in report.resources]


def _lock_keys(session: Session, keys: Sequence[tuple[str, str, str]]) -> None:
    """On PostgreSQL, serialize aggregation per case key so two workers never open twins.

    One statement for the whole batch, locks taken in a fixed order (no deadlocks)."""
    if not keys or session.get_bind().dialect.name != "postgresql":
        return
    numbers = sorted({zlib.crc32("|".join(key).encode()) - 2**31 for key in keys})
    session.execute(
        text("SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(CAST(:keys AS integer[])) AS k ORDER BY 1) AS ordered"),
        {"keys": numbers},
    )


def route_reports(ctx: Context, session: Session, reports: Sequence[Routable], *, actor: str) -> dict[int, datetime]:
    """Attribute each queued report and join it to a case, or close it with the reason.

    Returns when each case the reports joined was opened (its year is in the readable id).
    """
    if not reports:
        return {}
    index = ctx.attribution.get(session)
    now = utcnow()
    joining: list[Joining] = []
    by_id: dict[str, Routable] = {}
    audit: list[Entry] = []
    for report in reports:
        report.status = ReportStatus.PROCESSING
        by_id[report.id] = report
        when: datetime = report.occurred_at or report.received_at
        if report.no_complaint or report.category is None:
            _complete(report, Outcome.NO_ACTION, "not a complaint (e.g. an opt-out or not-spam report); recorded only", now)
            continue
        resources = _resources(report)
        if not resources:
            _complete(report, Outcome.NEED_MORE_INFORMATION, "the report names no IP address, domain, URL or e-mail address", now)
            continue
        match = index.attribute(resources, when)
        if match is None:
            names = ", ".join(f"{r.kind.value}:{r.value}" for r in resources[:5])
            _complete(report, Outcome.NOT_OURS, f"no account held {names} at {isoformat_z(when)}", now)
            continue
        report.account_id = match.account
        report.attributed_resource = f"{match.resource.kind.value}:{match.resource.value}"
        report.inventory_resource_id = match.holding.resource_id
        key = case_key(ctx.policy, account=match.account, category=report.category, resource_key=report.attributed_resource)
        joining.append(Joining(key, when, report.reporter_email or report.reporter_name, report.id))
    _lock_keys(session, [j.key for j in joining])
    cases, case_audit = aggregate(session, ctx.policy, joining, actor=actor)
    audit.extend(case_audit)
    for report_id, case in cases.items():
        report = by_id[report_id]
        report.case_id = case.id
        _complete(report, Outcome.CASE, f"joined {case.ref(ctx.settings.case_id_prefix)}", now)
    # one job per batch runs the playbooks of new or reopened cases after this commit
    enqueue_playbooks(session, {case.id for case in cases.values() if case.status == CaseStatus.NEW.value})
    for report in reports:
        audit.append(Entry(actor, "report.completed", "report", report.id, {"outcome": report.outcome, "case": report.case_id, "account": report.account_id}))
    record_many(session, audit)
    return {case.id: case.opened_at for case in cases.values()}


def _complete(report: Routable, outcome: str, detail: str, now: datetime) -> None:
    report.status = ReportStatus.COMPLETED
    report.outcome = outcome
    report.outcome_detail = detail
    report.completed_at = now


def outcome_of(ctx: Context, report: Routable, opened: dict[int, datetime] | None = None, *, duplicate: bool = False) -> ReportOutcome:
    ref = None
    if report.case_id is not None:
        at = (opened or {}).get(report.case_id)
        ref = format_ref(ctx.settings.case_id_prefix, (at or utcnow()).year, report.case_id)
    return ReportOutcome(report.id, report.status, report.outcome, report.category, report.account_id, report.case_id, ref, report.outcome_detail, duplicate)


def _parse(raw: RawLike, payload: bytes) -> list[ParsedReport] | str:
    """Reports, or the error that sends the input to quarantine. Never raises."""
    try:
        return parse_input(payload, filename=raw.filename, format=raw.format_hint)
    except ParseError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a parser bug must quarantine, not lose the input
        return f"parser crashed: {type(exc).__name__}: {exc}"


def process_many(
    ctx: Context, session: Session, raws: Sequence[tuple[RawLike, bytes | None]], *, actor: str, route: bool = True
) -> list[IngestResult]:
    """Parse inputs into reports (and route them) in the caller's transaction; inputs that
    cannot be read are quarantined with the reason.

    Inputs are stored rows, or drafts (:func:`plan_raw_many`) that are inserted here with
    their final status, before the reports that point at them.
    """
    drafts = [raw for raw, _ in raws if isinstance(raw, RawDraft)]
    record_many(session, received_entries(drafts, actor=actor))
    results: dict[int, IngestResult] = {}
    parsed_entries: list[tuple[RawLike, list[ParsedReport]]] = []
    for raw, data in raws:
        result = IngestResult(raw.id, raw.sha256)
        results[raw.id] = result
        outcome = _parse(raw, data if data is not None else raw_bytes(ctx.blobs, raw))
        if isinstance(outcome, str):
            quarantine(session, raw, outcome, actor=actor)
            result.quarantined, result.error = True, outcome
            continue
        raw.status = RawStatus.PARSED
        raw.error = None
        raw.attempts += 1
        raw.source_format = outcome[0].source_format if outcome else None
        raw.report_count = len(outcome)
        parsed_entries.append((raw, outcome))
    new, duplicates = create_reports(session, parsed_entries)
    # routed before the INSERT: each row is written once, complete
    opened = route_reports(ctx, session, new, actor=actor) if route else {}
    session.flush()  # pending ORM changes (cases, stored inputs) before the rows that point at them
    insert_raw_drafts(session, drafts)
    insert_drafts(session, new)
    opened.update(_cases_opened(session, [r for _, r in duplicates]))
    for report in new:
        results[report.raw_id].reports.append(outcome_of(ctx, report, opened))
    for raw, known in duplicates:
        results[raw.id].reports.append(outcome_of(ctx, known, opened, duplicate=True))
    return [results[raw.id] for raw, _ in raws]


def process_raw(
    ctx: Context, session: Session, raw: RawInput, *, data: bytes | None = None, actor: str, route: bool = True
) -> IngestResult:
    return process_many(ctx, session, [(raw, data)], actor=actor, route=route)[0]


def _cases_opened(session: Session, reports: Sequence[Routable]) -> dict[int, datetime]:
    """When each report's case opened: its year is part of the readable case id."""
    ids = sorted({r.case_id for r in reports if r.case_id is not None})
    if not ids:
        return {}
    rows = session.connection().execute(select(Case.id, Case.opened_at).where(one_of(session, Case.id, ids)))
    return {row[0]: row[1] for row in rows}


def ingest_batch(
    ctx: Context, items: Sequence[bytes], *, channel: str, filenames: Sequence[str | None] | None = None,
    format: str | None = None, metas: Sequence[dict[str, object] | None] | None = None, actor: str = "intake",
    route: bool = True,
) -> list[IngestResult]:
    """Store, parse, attribute and aggregate many inputs in one transaction.

    Raw bytes reach the blob store (and the disk) before the transaction commits, so a crash
    at any point leaves either nothing or stored inputs that the worker or ``quarantine
    retry`` finishes. The same bytes twice, even within one batch, are stored once.
    """
    with ctx.transaction() as session:
        stored = plan_raw_many(session, ctx.blobs, items, channel=channel, filenames=filenames, format_hint=format, metas=metas)
        todo: dict[int, tuple[RawLike, bytes | None]] = {}  # each input once, however often it came
        for s, data in zip(stored, items, strict=True):
            if s.raw.id not in todo and (s.created or s.raw.status == RawStatus.RECEIVED):
                todo[s.raw.id] = (s.raw, data)
        fresh = {raw.id: r for (raw, _), r in zip(todo.values(), process_many(ctx, session, list(todo.values()), actor=actor, route=route), strict=True)}
        results: list[IngestResult] = []
        described: dict[int, IngestResult] = {}
        for s in stored:
            if s.raw.id in fresh:
                results.append(fresh.pop(s.raw.id))
            else:
                if s.raw.id not in described:
                    described[s.raw.id] = describe_existing(ctx, session, s.raw)  # an earlier input, or a repeat in this batch
                results.append(described[s.raw.id])
        return results


def ingest_bytes(
    ctx: Context, data: bytes, *, channel: str, filename: str | None = None, format: str | None = None,
    meta: dict[str, object] | None = None, actor: str = "intake", route: bool = True,
) -> IngestResult:
    """One input, in its own transaction (the CLI and the demo use this)."""
    return ingest_batch(ctx, [data], channel=channel, filenames=[filename], format=format, metas=[meta], actor=actor, route=route)[0]


def describe_existing(ctx: Context, session: Session, raw: RawLike) -> IngestResult:
    """What an input that was already processed became (storing it again is a no-op)."""
    reports = list(session.execute(select(Report).where(Report.raw_id == raw.id).order_by(Report.index_in_raw)).scalars())
    opened = _cases_opened(session, reports)
    return IngestResult(
        raw.id, raw.sha256, duplicate=True, quarantined=raw.status == RawStatus.QUARANTINED, error=raw.error,
        reports=[outcome_of(ctx, r, opened, duplicate=True) for r in reports],
    )


def retry_raw(ctx: Context, raw_id: int, *, actor: str) -> IngestResult:
    """Re-run a quarantined input, e.g. after a parser fix."""
    with ctx.transaction() as session:
        raw = session.get(RawInput, raw_id)
        if raw is None:
            raise LookupError(f"no raw input {raw_id}")
        if raw.status != RawStatus.QUARANTINED:
            raise LookupError(f"raw input {raw_id} is {raw.status}, not quarantined")
        return process_raw(ctx, session, raw, actor=actor)

