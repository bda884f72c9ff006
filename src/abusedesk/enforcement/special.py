"""The special paths: CSAM (remove, preserve, report, legal only) and copyright (DMCA
notice, counter-notice, restore after 10 to 14 business days).

CSAM: the material is disabled at once by the playbook, the customer hears nothing before
the removal is applied (the notice is queued by the apply step), the evidence is held for
the preservation period and the mandated report is recorded with its submission state.

DMCA: access is disabled expeditiously and the notice, with the complainant's details,
goes to the customer. A counter-notice with all 512(g)(3) elements is forwarded to the
complainant and schedules the restore 10 business days out (never later than 14) unless
the complainant reports a suit first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.cases.models import Case
from abusedesk.cases.workflow import CaseStatus
from abusedesk.context import Context
from abusedesk.enforcement import playbooks as pb
from abusedesk.enforcement.adapters.mandated import MandatedReporter, RecordingMandatedReporter
from abusedesk.enforcement.flows import add_case_strike, move_case, propose_rung, tell
from abusedesk.enforcement.models import (
    CounterNotice,
    CounterNoticeState,
    MandatedReport,
    MandatedReportState,
    PreservationHold,
)
from abusedesk.enforcement.service import EnforcementError, case_reports, lift_restrictions
from abusedesk.intake.models import RawInput
from abusedesk.jobs.models import Job
from abusedesk.jobs.service import enqueue
from abusedesk.notices.flows import send_plain
from abusedesk.policy.models import ActionKind
from abusedesk.reports.models import Report
from abusedesk.timeutil import isoformat_z, utcnow

MANDATED_JOB = "enforcement.mandated_report"
RESTORE_JOB = "enforcement.counter_notice_restore"

# ------------------------------------------------------------------------------------ CSAM


def run_csam(ctx: Context, session: Session, case: Case, reports: Sequence[Report], *, actor: str) -> None:
    cat = ctx.policy.category(case.category)
    strikes = add_case_strike(ctx, session, case, "opened", actor=actor)
    kind = pb.next_restriction(cat.playbook, strikes) or ActionKind.DISABLE_RESOURCE
    if kind not in (ActionKind.DISABLE_RESOURCE, ActionKind.DISABLE_URL, ActionKind.REMOVE_CONTENT):
        kind = ActionKind.DISABLE_RESOURCE  # removal first; account measures are the legal team's decision
    propose_rung(ctx, session, case, kind, reports, actor=actor, approve=True, reason="apparent child sexual abuse material: removal at once")
    if cat.playbook.preservation is not None:
        hold(session, case, reports, until=utcnow() + cat.playbook.preservation, reason="18 USC 2258A(h) preservation after a mandated report", actor=actor)
    if cat.playbook.mandated_report:
        create_mandated_report(session, case, reports, actor=actor)
    move_case(session, case, CaseStatus.ESCALATED, actor=actor, reason="legal team: removal, preservation, mandated report")


def hold(session: Session, case: Case, reports: Sequence[Report], *, until: datetime, reason: str, actor: str) -> PreservationHold:
    """Hold the case's raw evidence (by content hash) until ``until``; extends, never shortens."""
    raw_ids = sorted({r.raw_id for r in reports})
    shas = sorted(set(session.execute(select(RawInput.sha256).where(RawInput.id.in_(raw_ids))).scalars())) if raw_ids else []
    existing = session.execute(select(PreservationHold).where(PreservationHold.case_id == case.id)).scalar_one_or_none()
    if existing is not None:
        existing.sha256s = sorted(set(existing.sha256s) | set(shas))
        existing.until = max(existing.until, until)
        return existing
    preservation = PreservationHold(case_id=case.id, sha256s=shas, reason=reason, until=until, created_by=actor, created_at=utcnow())
    session.add(preservation)
    session.flush()
    record(session, actor=actor, action="evidence.hold", object_type="case", object_id=case.id, data={"until": isoformat_z(until), "blobs": len(shas)})
    return preservation


def held_blobs(session: Session, *, now: datetime | None = None) -> set[str]:
    """Content hashes that must not be deleted now (for the evidence store's clean-up)."""
    moment = now or utcnow()
    rows = session.execute(select(PreservationHold.sha256s).where(PreservationHold.until > moment)).scalars()
    return {sha for shas in rows for sha in shas}


def create_mandated_report(session: Session, case: Case, reports: Sequence[Report], *, actor: str) -> MandatedReport:
    existing = session.execute(select(MandatedReport).where(MandatedReport.case_id == case.id)).scalar_one_or_none()
    if existing is not None:
        return existing
    payload: dict[str, Any] = {
        "case": case.id, "account": case.account_id, "resource": case.resource_key,
        "first_seen": isoformat_z(case.first_seen), "last_seen": isoformat_z(case.last_seen),
        "reports": [{"id": r.id, "received_at": isoformat_z(r.received_at), "source_format": r.source_format} for r in reports],
    }
    report = MandatedReport(case_id=case.id, recipient="NCMEC CyberTipline", state=MandatedReportState.PENDING.value, adapter="", payload=payload, created_at=utcnow())
    session.add(report)
    session.flush()
    enqueue(session, MANDATED_JOB, {"mandated_report_id": report.id}, dedupe_key=f"mandated:{report.id}")
    record(session, actor=actor, action="mandated_report.created", object_type="case", object_id=case.id, data={"mandated_report": report.id})
    return report


def mandated_reporter(ctx: Context) -> MandatedReporter:
    override = ctx.adapter_overrides.get("mandated_report")
    return override if override is not None else RecordingMandatedReporter()


def handle_mandated_report(ctx: Context, session: Session, job: Job) -> None:
    report = session.get(MandatedReport, int(job.payload["mandated_report_id"]))
    if report is None or report.state != MandatedReportState.PENDING.value:
        return
    reporter = mandated_reporter(ctx)
    submission = reporter.submit(dict(report.payload))
    report.adapter = reporter.name
    report.state = submission.state
    report.external_id = submission.external_id
    if submission.state == MandatedReportState.SUBMITTED.value:
        report.submitted_at = utcnow()
    record(session, actor="worker", action="mandated_report.state", object_type="case", object_id=report.case_id, data={"state": report.state, "adapter": reporter.name, "detail": submission.detail})


# ------------------------------------------------------------------------------------ DMCA


def run_dmca(ctx: Context, session: Session, case: Case, reports: Sequence[Report], *, actor: str) -> None:
    cat = ctx.policy.category(case.category)
    strikes = add_case_strike(ctx, session, case, "opened", actor=actor)
    kind = pb.next_restriction(cat.playbook, strikes) or ActionKind.DISABLE_URL
    action = propose_rung(ctx, session, case, kind, reports, actor=actor, approve=True, reason="copyright notice: access disabled expeditiously (17 USC 512(c)(1)(C))")
    tell(ctx, session, case, [action], actor=actor)
    move_case(session, case, CaseStatus.NOTIFIED, actor=actor, reason="copyright notice forwarded, access disabled")


#: 512(g)(3) elements: field name → what it must say
COUNTER_NOTICE_ELEMENTS: dict[str, str] = {
    "signature": "(A) physical or electronic signature of the subscriber",
    "material": "(B) identification of the material that was removed",
    "location": "(B) the location at which the material appeared before it was removed",
    "good_faith_statement": "(C) statement under penalty of perjury of good-faith belief that removal was a mistake or misidentification",
    "name": "(D) subscriber's name",
    "address": "(D) subscriber's address",
    "phone": "(D) subscriber's telephone number",
    "jurisdiction_consent": "(D) consent to the jurisdiction of the Federal District Court (or, outside the US, any district where we may be found)",
    "service_consent": "(D) agreement to accept service of process from the complainant",
}


def missing_elements(fields: dict[str, Any]) -> list[str]:
    """The 512(g)(3) elements a counter-notice lacks, by field name (empty when complete)."""
    missing = [name for name in COUNTER_NOTICE_ELEMENTS if not str(fields.get(name) or "").strip()]
    statement = str(fields.get("good_faith_statement") or "")
    if "good_faith_statement" not in missing and "perjury" not in statement.lower():
        missing.append("good_faith_statement")  # it must be made under penalty of perjury
    for flag in ("jurisdiction_consent", "service_consent"):
        value = fields.get(flag)
        if flag not in missing and isinstance(value, bool) and not value:
            missing.append(flag)
    return missing


def submit_counter_notice(ctx: Context, session: Session, case: Case, fields: dict[str, Any], *, actor: str) -> CounterNotice:
    """Validate and record a counter-notice; a complete one is copied to the complainant
    and schedules the restore; an incomplete one lists what is missing and does nothing else."""
    playbook = ctx.policy.category(case.category).playbook
    if not playbook.counter_notice:
        raise EnforcementError(f"case {case.id} ({case.category}) takes no counter-notice")
    now = utcnow()
    missing = missing_elements(fields)
    notice = CounterNotice(case_id=case.id, received_at=now, fields=dict(fields), missing=missing, state=CounterNoticeState.INCOMPLETE.value, submitted_by=actor)
    session.add(notice)
    session.flush()
    record(session, actor=actor, action="counter_notice.received", object_type="case", object_id=case.id, data={"counter_notice": notice.id, "missing": missing})
    if missing:
        return notice
    low, high = playbook.restore_after_counter_notice_business_days or (10, 14)
    notice.state = CounterNoticeState.ACCEPTED.value
    notice.restore_earliest = pb.add_business_days(now, low)
    notice.restore_latest = pb.add_business_days(now, high)
    enqueue(session, RESTORE_JOB, {"counter_notice_id": notice.id}, run_after=notice.restore_earliest, dedupe_key=f"counter_notice:{notice.id}:restore")
    complainants = sorted({r.reporter_email for r in case_reports(session, case) if r.reporter_email})
    for email in complainants:
        send_plain(
            ctx, session, case, kind="counter_notice_copy", recipient=email, template="counter_notice_copy", subject="Counter-notice received",
            context={"fields": {k: fields[k] for k in COUNTER_NOTICE_ELEMENTS}, "restore_earliest": isoformat_z(notice.restore_earliest), "restore_latest": isoformat_z(notice.restore_latest)},
            actor=actor,
        )
    return notice


def report_suit(session: Session, case: Case, *, actor: str, note: str = "") -> int:
    """The complainant says they sued: accepted counter-notices of the case restore nothing."""
    notices = list(session.execute(select(CounterNotice).where(CounterNotice.case_id == case.id, CounterNotice.state == CounterNoticeState.ACCEPTED.value)).scalars())
    for notice in notices:
        notice.state = CounterNoticeState.SUIT_FILED.value
    record(session, actor=actor, action="counter_notice.suit_reported", object_type="case", object_id=case.id, data={"counter_notices": [n.id for n in notices], "note": note[:500]})
    return len(notices)


def handle_counter_notice_restore(ctx: Context, session: Session, job: Job) -> None:
    notice = session.get(CounterNotice, int(job.payload["counter_notice_id"]))
    if notice is None or notice.state != CounterNoticeState.ACCEPTED.value:
        return  # suit reported, or restored already
    case = session.get(Case, notice.case_id)
    if case is None:
        return
    restored = lift_restrictions(ctx, session, case.id, actor="system:counter-notice", reason=f"counter-notice {notice.id}: 512(g)(2)(C) restore")
    notice.state = CounterNoticeState.RESTORED.value
    record(session, actor="worker", action="counter_notice.restored", object_type="case", object_id=case.id, data={"restores": [a.id for a in restored]})
