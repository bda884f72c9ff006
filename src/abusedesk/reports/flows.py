"""The report pipeline: raw input → parsed reports → attribution → case.

Works on batches: a thousand reports cost a handful of statements, which is what makes a
feed of millions of rows or a burst of mail cheap. Every function here runs inside the
caller's transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from abusedesk.audit.service import Entry, record_many
from abusedesk.cases.models import Case, format_ref
from abusedesk.cases.service import Joining, aggregate, case_key
from abusedesk.context import Context
from abusedesk.formats.base import ParsedReport, ParseError
from abusedesk.formats.registry import parse_input
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.intake.service import quarantine, store_raw
from abusedesk.reports.models import Outcome, Report, ReportStatus
from abusedesk.resources import Resource, ResourceKind
from abusedesk.timeutil import isoformat_z, utcnow


def new_report_id() -> str:
    return secrets.token_hex(16)


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


def _dedupe_key(parsed: ParsedReport, raw: RawInput, index: int) -> str:
    if parsed.source_id:
        return f"{parsed.source_format}:{parsed.source_id}"[:300]
    return f"raw:{raw.sha256}:{index}"


def create_reports(session: Session, raw: RawInput, parsed: Sequence[ParsedReport], *, channel: str) -> tuple[list[Report], list[Report]]:
    """Insert queued reports; returns (new, already known by their dedupe key)."""
    keyed = [(_dedupe_key(p, raw, i), i, p) for i, p in enumerate(parsed)]
    known: dict[str, Report] = {}
    keys = [k for k, _, _ in keyed]
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for report in session.execute(select(Report).where(Report.dedupe_key.in_(chunk))).scalars():
            known[report.dedupe_key] = report
    now = utcnow()
    rows: list[dict[str, object]] = []
    fresh_keys: set[str] = set()
    for key, index, p in keyed:
        if key in known or key in fresh_keys:
            continue
        fresh_keys.add(key)
        rows.append({
            "id": new_report_id(), "raw_id": raw.id, "index_in_raw": index, "dedupe_key": key,
            "channel": channel, "source_format": p.source_format,
            "category": p.category.value if p.category else None, "occurred_at": p.occurred_at,
            "received_at": now, "reporter_email": p.reporter.email, "reporter_name": p.reporter.name,
            "summary": p.summary, "evidence": p.evidence, "resources": [r.as_dict() for r in p.resources],
            "fields": p.fields, "automated": p.automated, "confidence": p.confidence,
            "no_complaint": p.no_complaint, "status": ReportStatus.QUEUED,
        })
    if rows:
        session.execute(Report.__table__.insert(), rows)
    new_ids = [str(r["id"]) for r in rows]
    new_reports: list[Report] = []
    for start in range(0, len(new_ids), 500):
        new_reports.extend(session.execute(select(Report).where(Report.id.in_(new_ids[start : start + 500]))).scalars())
    order = {rid: i for i, rid in enumerate(new_ids)}
    new_reports.sort(key=lambda r: order[r.id])
    duplicates = [known[k] for k, _, _ in keyed if k in known]
    return new_reports, duplicates


def _resources(report: Report) -> list[Resource]:
    return [Resource(ResourceKind(r["kind"]), r["value"]) for r in report.resources]


def _lock_keys(session: Session, keys: Sequence[tuple[str, str, str]]) -> None:
    """On PostgreSQL, serialize aggregation per case key so two workers never open twins."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        number = zlib.crc32("|".join(key).encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})


def route_reports(ctx: Context, session: Session, reports: Sequence[Report], *, actor: str) -> None:
    """Attribute each queued report and join it to a case, or close it with the reason."""
    if not reports:
        return
    index = ctx.attribution.get(session)
    now = utcnow()
    joining: list[Joining] = []
    by_id: dict[str, Report] = {}
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
    for report in reports:
        audit.append(Entry(actor, "report.completed", "report", report.id, {"outcome": report.outcome, "case": report.case_id, "account": report.account_id}))
    record_many(session, audit)


def _complete(report: Report, outcome: str, detail: str, now: datetime) -> None:
    report.status = ReportStatus.COMPLETED
    report.outcome = outcome
    report.outcome_detail = detail
    report.completed_at = now


def outcome_of(ctx: Context, report: Report, cases: dict[int, Case] | None = None, *, duplicate: bool = False) -> ReportOutcome:
    ref = None
    if report.case_id is not None:
        case = (cases or {}).get(report.case_id)
        year = case.opened_at.year if case else utcnow().year
        ref = format_ref(ctx.settings.case_id_prefix, year, report.case_id)
    return ReportOutcome(report.id, report.status, report.outcome, report.category, report.account_id, report.case_id, ref, report.outcome_detail, duplicate)


def process_raw(
    ctx: Context, session: Session, raw: RawInput, *, data: bytes | None = None, actor: str, route: bool = True
) -> IngestResult:
    """Parse a stored input into reports (and route them); quarantine it if it cannot be read."""
    result = IngestResult(raw.id, raw.sha256)
    payload = data if data is not None else ctx.blobs.get(raw.sha256)
    try:
        parsed = parse_input(payload, filename=raw.filename, format=raw.format_hint)
    except ParseError as exc:
        quarantine(session, raw, str(exc), actor=actor)
        result.quarantined, result.error = True, str(exc)
        return result
    except Exception as exc:  # noqa: BLE001 - a parser bug must quarantine, not lose the input
        message = f"parser crashed: {type(exc).__name__}: {exc}"
        quarantine(session, raw, message, actor=actor)
        result.quarantined, result.error = True, message
        return result
    raw.status = RawStatus.PARSED
    raw.error = None
    raw.attempts += 1
    raw.source_format = parsed[0].source_format if parsed else None
    raw.report_count = len(parsed)
    new, duplicates = create_reports(session, raw, parsed, channel=raw.channel)
    if route:
        route_reports(ctx, session, new, actor=actor)
    cases = _cases_for(session, [*new, *duplicates])
    result.reports = [outcome_of(ctx, r, cases) for r in new] + [outcome_of(ctx, r, cases, duplicate=True) for r in duplicates]
    return result


def _cases_for(session: Session, reports: Sequence[Report]) -> dict[int, Case]:
    ids = {r.case_id for r in reports if r.case_id is not None}
    if not ids:
        return {}
    return {c.id: c for c in session.execute(select(Case).where(Case.id.in_(ids))).scalars()}


def ingest_bytes(
    ctx: Context, data: bytes, *, channel: str, filename: str | None = None, format: str | None = None,
    meta: dict[str, object] | None = None, actor: str = "intake", route: bool = True,
) -> IngestResult:
    """Store, parse, attribute and aggregate one input in one transaction.

    Raw bytes reach the blob store before the transaction commits, so a crash at any point
    leaves either nothing or a stored input that ``quarantine retry`` / the worker finishes.
    """
    with ctx.transaction() as session:
        stored = store_raw(session, ctx.blobs, data, channel=channel, filename=filename, format_hint=format, meta=dict(meta or {}), actor=actor)
        if not stored.created and stored.raw.status != RawStatus.RECEIVED:
            return _describe_existing(ctx, session, stored.raw)
        return process_raw(ctx, session, stored.raw, data=data, actor=actor, route=route)


def _describe_existing(ctx: Context, session: Session, raw: RawInput) -> IngestResult:
    reports = list(session.execute(select(Report).where(Report.raw_id == raw.id).order_by(Report.index_in_raw)).scalars())
    cases = _cases_for(session, reports)
    return IngestResult(
        raw.id, raw.sha256, duplicate=True, quarantined=raw.status == RawStatus.QUARANTINED, error=raw.error,
        reports=[outcome_of(ctx, r, cases, duplicate=True) for r in reports],
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


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
