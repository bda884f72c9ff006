"""Acknowledging a reporter's mail: one short receipt with the case reference(s).

Sent through the outbox (after commit, retried), never to robots (``mailrules.ack_refusal``)
and at most once per reporter per ``ack_interval_minutes``: a reporter sending fifty mails
in a minute gets one receipt, and a robot we failed to recognise cannot make us loop
faster than that. The receipt names our references, never the customer.
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.formats.mail import header
from abusedesk.intake.mailrules import Envelope, Identity, ack_recipient, ack_refusal
from abusedesk.intake.replies import clean_line, message_ids
from abusedesk.notices.flows import reply_address_for
from abusedesk.notices.models import OutboundMessage
from abusedesk.notices.outbox import queue_mail
from abusedesk.reports.flows import IngestResult, ReportOutcome
from abusedesk.timeutil import utcnow

KIND = "acknowledgement"

_OUTCOME_TEXT = {
    "case": "added to case {ref}",
    "not_ours": "the address or name it concerns is not on our network; no action by us",
    "no_action": "recorded; it is not a complaint we act on (for example an opt-out)",
    "need_more_information": "recorded, but it names no IP address, domain, URL or e-mail address; please reply with the details",
}


def throttled(session: Session, recipient: str, interval: timedelta) -> bool:
    """True when this address got an acknowledgement within ``interval`` (outbox table).

    On PostgreSQL two workers could each see "none yet" for the same reporter, so the
    check is serialized per address with a transaction-scoped advisory lock; SQLite's
    single writer (``BEGIN IMMEDIATE``) serializes it already.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"ack:{recipient}".encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    since = utcnow() - interval
    count = session.execute(
        select(func.count(OutboundMessage.id)).where(
            OutboundMessage.recipient == recipient, OutboundMessage.kind == KIND, OutboundMessage.created_at >= since
        )
    ).scalar_one()
    return bool(count)


def _line(outcome: ReportOutcome) -> str:
    template = _OUTCOME_TEXT.get(outcome.outcome or "", "received; it is being processed")
    category = f" [{outcome.category}]" if outcome.category else ""
    return f"- report {outcome.report_id}{category}: " + template.format(ref=outcome.case_ref or "?")


def compose(result: IngestResult, *, raw_reference: str, interval_minutes: int = 60) -> tuple[str, list[str]]:
    """The body text and the case references it names."""
    refs = sorted({o.case_ref for o in result.reports if o.case_ref})
    lines = ["Thank you. We received your message.", ""]
    if result.quarantined:
        lines.append("It could not be read automatically; an analyst will review it by hand.")
    elif not result.reports:
        lines.append("We found no report in it that we could process; an analyst may review it.")
    else:
        lines.append("What happened to it:")
        lines.extend(_line(o) for o in result.reports[:50])
        if len(result.reports) > 50:
            lines.append(f"- ... and {len(result.reports) - 50} more reports")
    lines += [
        "",
        f"Our reference for your message: {raw_reference}" + (f"; case {', '.join(refs[:20])}" if refs else ""),
        "To add information, reply to this message and keep the reference in the subject.",
        "",
        "This is an automatic acknowledgement. Further messages from you in the next",
        f"{interval_minutes} minutes are processed without another one.",
    ]
    return "\n".join(lines) + "\n", refs


def maybe_acknowledge(
    ctx: Context, session: Session, message: EmailMessage, envelope: Envelope, identity: Identity,
    result: IngestResult, *, actor: str,
) -> str:
    """Queue an acknowledgement, or say why not; the answer is kept on the raw input."""
    settings = ctx.settings
    if not settings.ack_enabled:
        return "skipped: acknowledgements disabled"
    refusal = ack_refusal(message, envelope, identity)
    if refusal:
        return f"skipped: {refusal}"
    recipient = ack_recipient(message, envelope)
    if not recipient:
        return "skipped: no sender address"
    if throttled(session, recipient, timedelta(minutes=settings.ack_interval_minutes)):
        return "skipped: throttled (one per reporter per interval)"
    raw_reference = f"R-{result.raw_id}"
    body, refs = compose(result, raw_reference=raw_reference, interval_minutes=settings.ack_interval_minutes)
    tag = refs[0] if len(refs) == 1 else raw_reference
    original = clean_line(header(message, "Subject"), 150)
    subject = f"[{tag}] Received: {original}" if original else f"[{tag}] Received"
    case_id = next((o.case_id for o in result.reports if o.case_ref == refs[0]), None) if len(refs) == 1 else None
    reply_to = reply_address_for(ctx, refs[0]) if len(refs) == 1 else None  # the same as notices
    own_id = message_ids(header(message, "Message-ID"))
    references = " ".join([*message_ids(header(message, "References"))[-10:], *own_id[:1]]) or None
    row = queue_mail(
        session, kind=KIND, recipient=recipient, sender=settings.notice_from, subject=subject, body_text=body,
        reply_to=reply_to, case_id=case_id, in_reply_to=own_id[0] if own_id else None, references=references,
        headers={"X-Auto-Response-Suppress": "All"}, actor=actor,
    )
    return f"queued: outbound {row.id}"
