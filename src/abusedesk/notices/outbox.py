"""Queue mail in the caller's transaction; the worker sends it after commit, with retries."""

from __future__ import annotations

import secrets
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.context import Context
from abusedesk.jobs.models import Job
from abusedesk.jobs.service import enqueue
from abusedesk.notices.models import OutboundMessage, OutboundStatus
from abusedesk.notices.transport import MailTransport, SmtpTransport
from abusedesk.timeutil import utcnow

SEND_JOB = "notices.send"


def new_message_id(domain: str) -> str:
    return make_msgid(idstring=secrets.token_hex(6), domain=domain)


def add_message(
    session: Session, *, status: str, kind: str, recipient: str, sender: str, subject: str, body_text: str,
    body_html: str | None = None, reply_to: str | None = None, case_id: int | None = None,
    in_reply_to: str | None = None, references: str | None = None, headers: dict[str, str] | None = None,
) -> OutboundMessage:
    """The outbox row (flushed, so it has its id), with a fresh Message-ID in the sender's domain."""
    domain = sender.rpartition("@")[2] or "abusedesk.invalid"
    message = OutboundMessage(
        kind=kind, case_id=case_id, recipient=recipient, sender=sender, reply_to=reply_to, subject=subject,
        body_text=body_text, body_html=body_html, message_id=new_message_id(domain), in_reply_to=in_reply_to,
        references=references, headers=headers or {}, status=status, created_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def queue_mail(
    session: Session, *, kind: str, recipient: str, sender: str, subject: str, body_text: str,
    body_html: str | None = None, reply_to: str | None = None, case_id: int | None = None,
    in_reply_to: str | None = None, references: str | None = None, headers: dict[str, str] | None = None,
    actor: str = "system",
) -> OutboundMessage:
    message = add_message(
        session, status=OutboundStatus.QUEUED, kind=kind, recipient=recipient, sender=sender, subject=subject,
        body_text=body_text, body_html=body_html, reply_to=reply_to, case_id=case_id, in_reply_to=in_reply_to,
        references=references, headers=headers,
    )
    enqueue(session, SEND_JOB, {"message_id": message.id}, dedupe_key=f"outbox:{message.id}")
    record(session, actor=actor, action="mail.queued", object_type="outbound_message", object_id=message.id, data={"kind": kind, "case": case_id, "to": recipient})
    return message


def build_email(row: OutboundMessage) -> EmailMessage:
    message = EmailMessage()
    message["From"] = row.sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = format_datetime(row.created_at)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no autoresponder loops with us
    if row.reply_to:
        message["Reply-To"] = row.reply_to
    if row.in_reply_to:
        message["In-Reply-To"] = row.in_reply_to
    if row.references:
        message["References"] = row.references
    for name, value in row.headers.items():
        message[name] = value
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def transport_for(ctx: Context) -> MailTransport:
    """The configured transport; tests put a fake on ``ctx.mail_transport``."""
    override = getattr(ctx, "mail_transport", None)
    if override is not None:
        return override  # type: ignore[no-any-return]
    return SmtpTransport(ctx.settings.outbound_smtp_host, ctx.settings.outbound_smtp_port)


def handle_send(ctx: Context, session: Session, job: Job) -> None:
    """Send one queued message; an exception leaves it queued and the job retries with backoff."""
    row = session.get(OutboundMessage, int(job.payload["message_id"]))
    if row is None or row.status != OutboundStatus.QUEUED:
        return
    row.attempts += 1
    try:
        transport_for(ctx).send(build_email(row))
    except Exception as exc:
        row.last_error = f"{type(exc).__name__}: {exc}"
        if job.attempts >= job.max_attempts:
            row.status = OutboundStatus.FAILED
            record(session, actor="worker", action="mail.failed", object_type="outbound_message", object_id=row.id, data={"error": row.last_error})
            return
        raise
    row.status = OutboundStatus.SENT
    row.sent_at = utcnow()
    record(session, actor="worker", action="mail.sent", object_type="outbound_message", object_id=row.id, data={"to": row.recipient, "kind": row.kind})
