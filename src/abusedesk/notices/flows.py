"""Notices about cases: to the customer, to reporters, and per-recipient digests.

Every notice goes through the outbox (``queue_mail``), so it leaves after commit with
retries. Notices of one case thread together (Message-ID / In-Reply-To / References) and
carry the reply address ``abuse+<CASE-REF>@<our domain>``, so the customer's answer lands
on the case. A case gets at most one notice per ``notice_min_interval_seconds``; a skipped
notice returns its reason and is audited rather than silently lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.inventory.models import Account
from abusedesk.jobs.models import Job
from abusedesk.jobs.service import enqueue
from abusedesk.notices.models import OutboundMessage, OutboundStatus
from abusedesk.notices.outbox import add_message, queue_mail
from abusedesk.notices.render import redact_reporter, render_pair, template_exists
from abusedesk.policy.durations import format_duration
from abusedesk.reports.models import Report
from abusedesk.timeutil import as_utc, isoformat_z, utcnow
from abusedesk.users.links import portal_link

CUSTOMER_NOTICE = "notice"
#: the enforcement actions a notice announces (so each restriction's statement goes out once)
ACTIONS_HEADER = "X-Abusedesk-Actions"
DIGEST_JOB = "notices.digest"
SUBJECTS = {
    "spam": "Spam from your service",
    "network": "Abusive network traffic from your service",
    "open_service": "An open service on your address needs fixing",
    "phishing": "Phishing on your service",
    "malware": "Malware on your service",
    "copyright": "Copyright notice about your service",
    "csam_removed": "Material removed from your service",
    "informational": "For your information: an exposed service",
}


@dataclass(frozen=True, slots=True)
class Skipped:
    """Why a notice was not queued: ``repeat-window``, ``no-contact``, ``legal-hold``."""

    reason: str


def case_ref(ctx: Context, case: Case) -> str:
    return case.ref(ctx.settings.case_id_prefix)


def reply_address(ctx: Context, case: Case) -> str:
    """``abuse+AD-2026-000123@example.net``: the intake routes replies to the case by it."""
    return reply_address_for(ctx, case_ref(ctx, case))


def reply_address_for(ctx: Context, ref: str) -> str:
    local, _, domain = ctx.settings.notice_from.partition("@")
    return f"{local.split('+', 1)[0] or 'abuse'}+{ref}@{domain or 'abusedesk.invalid'}"


def _thread(session: Session, case_id: int, recipient: str) -> tuple[str | None, str | None]:
    """(In-Reply-To, References) continuing the case's thread to this recipient."""
    ids = list(session.execute(
        select(OutboundMessage.message_id).where(
            OutboundMessage.case_id == case_id, OutboundMessage.recipient == recipient,
            OutboundMessage.kind == CUSTOMER_NOTICE,
        ).order_by(OutboundMessage.id)
    ).scalars())
    if not ids:
        return None, None
    return ids[-1], " ".join(ids[-20:])


def _recent_notice(session: Session, case_id: int, since: datetime) -> bool:
    found = session.execute(
        select(OutboundMessage.id).where(
            OutboundMessage.case_id == case_id, OutboundMessage.kind == CUSTOMER_NOTICE,
            OutboundMessage.created_at > since,
        ).limit(1)
    ).scalar_one_or_none()
    return found is not None


def evidence_for(ctx: Context, session: Session, case: Case) -> tuple[str, str | None]:
    """(excerpt, reporter identity) from the newest report; identity only when the policy
    says the notice must carry it (copyright), otherwise it is removed from the excerpt."""
    report = session.execute(
        select(Report).where(Report.case_id == case.id).order_by(Report.received_at.desc()).limit(1)
    ).scalar_one_or_none()
    if report is None:
        return "", None
    evidence = report.evidence or report.summary or ""
    if ctx.policy.category(case.category).reporter_identity_in_notice:
        who = ", ".join(x for x in (report.reporter_name, report.reporter_email) if x) or None
        return redact_reporter(evidence, []), who
    return redact_reporter(evidence, [report.reporter_email or "", report.reporter_name or ""]), None


def send_case_notice(
    ctx: Context, session: Session, case: Case, *, actor: str, actions: Sequence[str] = (),
    deadline: datetime | None = None, template: str | None = None, force: bool = False,
    statements: Sequence[dict[str, str]] = (), action_ids: Sequence[int] = (),
) -> OutboundMessage | Skipped:
    """Queue the customer notice for ``case`` (rendered from the category's template)."""
    cat = ctx.policy.category(case.category)
    now = utcnow()
    if not force and _recent_notice(session, case.id, now - timedelta(seconds=ctx.settings.notice_min_interval_seconds)):
        record(session, actor=actor, action="notice.skipped", object_type="case", object_id=case.id, data={"reason": "repeat-window"})
        return Skipped("repeat-window")
    account = session.get(Account, case.account_id)
    if account is None or not account.email:
        record(session, actor=actor, action="notice.skipped", object_type="case", object_id=case.id, data={"reason": "no-contact"})
        return Skipped("no-contact")
    name = template or cat.playbook.notice_template
    if not template_exists(name):
        name = "generic"
    ref = case_ref(ctx, case)
    subject = f"[{ref}] {SUBJECTS.get(name, 'Abuse report about your service')}"
    evidence, reporter = evidence_for(ctx, session, case)
    resource = case.resource_key.partition(":")[2] or case.resource_key
    context: dict[str, Any] = {
        "subject": subject, "account_name": account.name or account.id, "resource": resource, "case_ref": ref,
        "category": case.category, "clause": cat.clause, "description": cat.description, "help": cat.help,
        "actions": list(actions), "statements": list(statements), "deadline": isoformat_z(deadline) if deadline else None,
        "deadline_in": format_duration(cat.playbook.deadline), "reporter": reporter, "evidence": evidence,
        "redress": ctx.policy.policy.redress, "report_count": case.report_count, "port": cat.playbook.restrict_port,
        "portal_url": portal_link(ctx, case.account_id, case.id),
    }
    body_text, body_html = render_pair(f"notice/{name}", context)
    in_reply_to, references = _thread(session, case.id, account.email)
    headers = {"X-Abusedesk-Case": ref}
    if action_ids:
        headers[ACTIONS_HEADER] = ",".join(str(i) for i in action_ids)
    if ctx.settings.notice_digest:
        return _hold_for_digest(ctx, session, case, account.email, subject, body_text, body_html, in_reply_to, references, headers, actor=actor)
    return queue_mail(
        session, kind=CUSTOMER_NOTICE, recipient=account.email, sender=ctx.settings.notice_from, subject=subject,
        body_text=body_text, body_html=body_html, reply_to=reply_address(ctx, case), case_id=case.id,
        in_reply_to=in_reply_to, references=references, headers=headers, actor=actor,
    )


def announced_actions(session: Session, case_id: int) -> set[int]:
    """Actions whose notice (with the statement of reasons) has been queued for the case."""
    ids: set[int] = set()
    for headers in session.execute(select(OutboundMessage.headers).where(OutboundMessage.case_id == case_id, OutboundMessage.kind == CUSTOMER_NOTICE)).scalars():
        ids.update(int(i) for i in str((headers or {}).get(ACTIONS_HEADER, "")).split(",") if i.strip().isdigit())
    return ids


def next_notice_allowed(ctx: Context, session: Session, case_id: int) -> datetime:
    """When the repeat window lets the next notice of the case go out."""
    last = session.execute(
        select(OutboundMessage.created_at).where(OutboundMessage.case_id == case_id, OutboundMessage.kind == CUSTOMER_NOTICE)
        .order_by(OutboundMessage.created_at.desc()).limit(1)
    ).scalar_one_or_none()
    now = utcnow()
    return now if last is None else max(now, as_utc(last) + timedelta(seconds=ctx.settings.notice_min_interval_seconds + 1))


def _hold_for_digest(
    ctx: Context, session: Session, case: Case, recipient: str, subject: str, body_text: str, body_html: str | None,
    in_reply_to: str | None, references: str | None, headers: dict[str, str], *, actor: str,
) -> OutboundMessage:
    """Keep the notice (so threading and the repeat window still see it) and make sure one
    digest job per recipient is waiting; the digest sends everything held by then."""
    message = add_message(
        session, status=OutboundStatus.HELD, kind=CUSTOMER_NOTICE, case_id=case.id, recipient=recipient,
        sender=ctx.settings.notice_from, reply_to=reply_address(ctx, case), subject=subject, body_text=body_text,
        body_html=body_html, in_reply_to=in_reply_to, references=references, headers=headers,
    )
    enqueue(
        session, DIGEST_JOB, {"recipient": recipient},
        run_after=utcnow() + timedelta(seconds=ctx.settings.notice_digest_window_seconds), dedupe_key=f"digest:{recipient}",
    )
    record(session, actor=actor, action="notice.held", object_type="outbound_message", object_id=message.id, data={"case": case.id, "to": recipient})
    return message


def handle_digest(ctx: Context, session: Session, job: Job) -> None:
    """Send one mail with every notice held for the recipient; repeating finds none held."""
    recipient = str(job.payload["recipient"])
    held = list(session.execute(
        select(OutboundMessage).where(OutboundMessage.recipient == recipient, OutboundMessage.status == OutboundStatus.HELD)
        .order_by(OutboundMessage.id)
    ).scalars())
    if not held:
        return
    items = [{"subject": m.subject, "reply_to": m.reply_to, "body": m.body_text} for m in held]
    body_text, _ = render_pair("digest", {"items": items})
    queue_mail(
        session, kind="digest", recipient=recipient, sender=ctx.settings.notice_from,
        subject=f"Abuse notices for your account ({len(held)})", body_text=body_text, actor="worker",
    )
    for message in held:
        message.status = OutboundStatus.DIGESTED


def sweep_held_digests(ctx: Context, session: Session) -> int:
    """Digest jobs for notices held longer than the window without one (a notice held while
    its recipient's digest was running); idempotent by the same dedupe key."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.notice_digest_window_seconds)
    recipients = session.execute(
        select(OutboundMessage.recipient).where(OutboundMessage.status == OutboundStatus.HELD, OutboundMessage.created_at <= cutoff).distinct()
    ).scalars()
    added = 0
    for recipient in recipients:
        added += enqueue(session, DIGEST_JOB, {"recipient": recipient}, dedupe_key=f"digest:{recipient}") is not None
    return added


OUTCOME_TEXT = {
    "actioned": "We found a breach of our acceptable use policy and took action.",
    "closed": "We have finished handling this matter and closed the case.",
}


def notify_reporters(ctx: Context, session: Session, case: Case, *, outcome: str, actor: str) -> list[OutboundMessage]:
    """Tell each reporter of ``case`` how it ended, once per outcome, if the category's
    playbook says so; the customer is never named."""
    cat = ctx.policy.category(case.category)
    if not cat.playbook.notify_reporter or cat.restricted_to_legal:
        return []
    rows = session.execute(
        select(Report.reporter_email, Report.id).where(Report.case_id == case.id, Report.reporter_email.is_not(None), Report.channel != "detector")
    ).all()
    by_reporter: dict[str, list[str]] = {}
    for email, report_id in rows:
        by_reporter.setdefault(str(email), []).append(str(report_id))
    kind = f"outcome.{outcome}"
    already = set(session.execute(
        select(OutboundMessage.recipient).where(OutboundMessage.case_id == case.id, OutboundMessage.kind == kind)
    ).scalars())
    ref = case_ref(ctx, case)
    sent: list[OutboundMessage] = []
    for email, report_ids in sorted(by_reporter.items()):
        if email in already:
            continue
        subject = f"[{ref}] Outcome of your report"
        context = {
            "subject": subject, "case_ref": ref, "description": cat.description, "report_ids": report_ids[:10],
            "outcome_text": OUTCOME_TEXT.get(outcome, outcome),
        }
        body_text, body_html = render_pair("outcome", context)
        sent.append(queue_mail(
            session, kind=kind, recipient=email, sender=ctx.settings.notice_from, subject=subject, body_text=body_text,
            body_html=body_html, reply_to=reply_address(ctx, case), case_id=case.id, actor=actor,
        ))
    return sent


def send_plain(
    ctx: Context, session: Session, case: Case, *, kind: str, recipient: str, template: str, context: dict[str, Any], subject: str, actor: str,
) -> OutboundMessage:
    """A one-off mail about a case from a text template (e.g. the counter-notice copy)."""
    body_text, body_html = render_pair(template, {"case_ref": case_ref(ctx, case), **context})
    return queue_mail(
        session, kind=kind, recipient=recipient, sender=ctx.settings.notice_from, subject=f"[{case_ref(ctx, case)}] {subject}",
        body_text=body_text, body_html=body_html, reply_to=reply_address(ctx, case), case_id=case.id, actor=actor,
    )
