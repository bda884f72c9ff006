"""Intake orchestration: accept durably, then decide what a stored input is.

Acceptance (:func:`accept_mail`) does the least that makes a message safe: the raw bytes
(in the row, or an fsynced blob when large) and an ``intake.process_raw`` job committed
together, synced to disk (:func:`durable_sessions`). Only then does the SMTP
listener answer 250; everything that can be slow or can fail (parsing, attribution,
answering) runs later in the worker (:func:`process_inbound`), so a crash between the
two loses nothing and a restart picks the job up again.

For mail, the worker first sorts the message (see ``mailrules`` for the reasoning):

1. our own mail and bounces → stored, ``ignored`` with the reason, never parsed;
2. mail about an existing case → ``correspondence`` on that case, not a new report;
3. other automatic mail that is no machine report → ``ignored``;
4. everything else → the report pipeline, then maybe an acknowledgement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from abusedesk.audit.service import record
from abusedesk.context import Context
from abusedesk.db import make_engine, make_session_factory
from abusedesk.enforcement.flows import customer_responded
from abusedesk.formats.mail import header, parse_message
from abusedesk.intake.ack import maybe_acknowledge
from abusedesk.intake.mailrules import Envelope, Identity, automatic_reason, loop_reason
from abusedesk.intake.metrics import ACKNOWLEDGEMENTS, INBOUND_SORTED
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.intake.replies import bounced_outbound, find_case, message_ids, record_correspondence
from abusedesk.intake.service import quarantine, raw_bytes, store_raw_many
from abusedesk.jobs.service import enqueue
from abusedesk.notices.models import OutboundMessage
from abusedesk.reports.flows import IngestResult, process_raw

#: the job kind that turns a stored raw input into reports (``jobs.handlers`` maps it here)
PROCESS_RAW = "intake.process_raw"
SMTP_CHANNEL = "smtp"


@dataclass(frozen=True, slots=True)
class Accepted:
    raw_id: int
    sha256: str
    created: bool


def enqueue_processing(session: Session, raw: RawInput) -> None:
    """Queue the parse of ``raw`` in the caller's transaction; once per input."""
    if raw.status == RawStatus.RECEIVED:
        enqueue(session, PROCESS_RAW, {"raw_id": raw.id}, dedupe_key=f"raw:{raw.id}")


def durable_sessions(ctx: Context) -> tuple[sessionmaker[Session], Engine | None]:
    """Sessions whose commit is on disk when it returns, for promises like SMTP's 250.

    PostgreSQL's commit is (``synchronous_commit`` on). SQLite runs WAL with
    ``synchronous=NORMAL``, which survives a crash of the process but not of the machine,
    and small inputs live in the row rather than in an fsynced blob; so acceptance gets
    its own engine with ``synchronous=FULL`` (the WAL is synced at every commit). The
    second value is that engine, for the caller to dispose of.
    """
    if ctx.engine.dialect.name != "sqlite":
        return ctx.sessions, None
    engine = make_engine(ctx.engine.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _full_sync(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return make_session_factory(engine), engine


def accept_mail(
    ctx: Context, data: bytes, envelope: Envelope, *, channel: str = SMTP_CHANNEL, actor: str = "smtp",
    sessions: sessionmaker[Session] | None = None,
) -> Accepted:
    """Make one received message durable; returns once it is committed (then answer 250)."""
    return accept_many(ctx, [(data, envelope)], channel=channel, actor=actor, sessions=sessions)[0]


def accept_many(
    ctx: Context, items: Sequence[tuple[bytes, Envelope]], *, channel: str = SMTP_CHANNEL, actor: str = "smtp",
    sessions: sessionmaker[Session] | None = None,
) -> list[Accepted]:
    """Make several messages durable in one commit (one disk sync for all of them).

    ``sessions`` should come from :func:`durable_sessions`. The same bytes arriving on two
    connections at once can race to insert the same hash (PostgreSQL); the loser tries
    once more and finds the winner's row.
    """
    factory = sessions or ctx.sessions
    for attempt in (1, 2):
        try:
            with factory() as session, session.begin():
                stored = store_raw_many(
                    session, ctx.blobs, [data for data, _ in items], channel=channel,
                    metas=[{"smtp": envelope.as_meta()} for _, envelope in items], actor=actor,
                )
                for one in stored:
                    enqueue_processing(session, one.raw)
                return [Accepted(one.raw.id, one.raw.sha256, one.created) for one in stored]
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def identity(ctx: Context) -> Identity:
    settings = ctx.settings
    return Identity.build(settings.notice_from, settings.abuse_addresses, settings.own_message_id_domains)


def ignore(session: Session, raw: RawInput, reason: str, *, actor: str) -> None:
    """Keep the input, findable, but never turn it into reports."""
    raw.status = RawStatus.IGNORED
    raw.error = reason[:4000]
    raw.attempts += 1
    raw.meta = {**(raw.meta or {}), "ignored": reason[:500]}
    record(session, actor=actor, action="raw.ignored", object_type="raw_input", object_id=raw.id, data={"reason": reason[:500]})


@dataclass(slots=True)
class InboundResult:
    """What the worker made of one input: ``reports``, ``ignored``, ``correspondence``, ``quarantined``."""

    raw_id: int
    outcome: str
    detail: str | None = None
    ingest: IngestResult | None = None


def process_inbound(ctx: Context, session: Session, raw: RawInput, *, actor: str = "worker") -> InboundResult:
    """The worker's handling of one stored input (mail gets the loop and reply rules first)."""
    result = _process_inbound(ctx, session, raw, actor=actor)
    # counted before the job commits: an attempt that rolls back is counted again on retry
    INBOUND_SORTED.labels(raw.channel, result.outcome).inc()
    return result


def _process_inbound(ctx: Context, session: Session, raw: RawInput, *, actor: str) -> InboundResult:
    if raw.channel != SMTP_CHANNEL:
        result = process_raw(ctx, session, raw, actor=actor)
        return InboundResult(raw.id, "quarantined" if result.quarantined else "reports", result.error, result)
    data = raw_bytes(ctx.blobs, raw)
    envelope = Envelope.from_meta(raw.meta)
    own = identity(ctx)
    try:
        message = parse_message(data)
        reason = loop_reason(message, envelope, own) or _our_message_id(session, message)
        match = None if reason else find_case(session, message, envelope, prefix=ctx.settings.case_id_prefix)
        automatic = None if reason or match else (_reply_without_case(session, message) or automatic_reason(message))
    except Exception as exc:  # noqa: BLE001 - hostile MIME must quarantine, not lose the input
        error = f"mail could not be sorted: {type(exc).__name__}: {exc}"
        quarantine(session, raw, error, actor=actor)
        return InboundResult(raw.id, "quarantined", error)
    if reason or automatic:
        text = str(reason or automatic)
        ignore(session, raw, text, actor=actor)
        if text.startswith("bounce"):
            _note_bounce(session, raw, message, actor=actor)
        return InboundResult(raw.id, "ignored", text)
    if match is not None:
        row = record_correspondence(session, raw, message, match, actor=actor)
        if row.party == "customer":
            # the customer answered by mail: the same step as an answer through the portal
            customer_responded(ctx, session, match.case, actor=f"customer-mail:{row.sender or '?'}", remediated=False, note=row.subject or "")
        raw.status = RawStatus.CORRESPONDENCE
        raw.attempts += 1
        raw.error = None
        raw.meta = {**(raw.meta or {}), "case_id": match.case.id, "correspondence_id": row.id}
        return InboundResult(raw.id, "correspondence", f"case {match.case.ref(ctx.settings.case_id_prefix)} by {match.matched_by}")
    result = process_raw(ctx, session, raw, data=data, actor=actor)
    ack = maybe_acknowledge(ctx, session, message, envelope, own, result, actor=actor)
    ACKNOWLEDGEMENTS.labels(ack.partition(":")[0]).inc()
    raw.meta = {**(raw.meta or {}), "ack": ack[:300]}
    return InboundResult(raw.id, "quarantined" if result.quarantined else "reports", ack, result)


def process_anyway(ctx: Context, raw_id: int, *, actor: str) -> IngestResult:
    """An analyst's override: parse an ignored mail (or one filed as correspondence) as reports.

    For the mail the rules set aside wrongly, e.g. an automatic complaint in free text.
    Never acknowledged (whoever sent it, the rules judged it a robot or a reply); any
    correspondence row stays as history.
    """
    with ctx.transaction() as session:
        raw = session.get(RawInput, raw_id)
        if raw is None:
            raise LookupError(f"no raw input {raw_id}")
        if raw.status not in (RawStatus.IGNORED, RawStatus.CORRESPONDENCE):
            raise LookupError(f"raw input {raw_id} is {raw.status}, not ignored or correspondence")
        record(session, actor=actor, action="raw.process_anyway", object_type="raw_input", object_id=raw.id, data={"was": raw.status})
        raw.meta = {**(raw.meta or {}), "processed_anyway_from": raw.status}
        return process_raw(ctx, session, raw, actor=actor)


def list_set_aside(session: Session, *, limit: int = 100) -> list[RawInput]:
    """Mail the rules did not turn into reports, newest first (the console's "ignored" view)."""
    query = (
        select(RawInput)
        .where(RawInput.status.in_([RawStatus.IGNORED, RawStatus.CORRESPONDENCE]))
        .order_by(RawInput.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def _note_bounce(session: Session, raw: RawInput, message: EmailMessage, *, actor: str) -> None:
    """A bounce of one of our case mails: noted on that case; the mail stays ignored."""
    try:
        match = bounced_outbound(session, message)
    except Exception:  # noqa: BLE001 - hostile MIME: the bounce stays ignored, unnoted
        return
    if match is not None:
        row = record_correspondence(session, raw, message, match, actor=actor)
        raw.meta = {**(raw.meta or {}), "case_id": match.case.id, "correspondence_id": row.id}


def _reply_without_case(session: Session, message: EmailMessage) -> str | None:
    """A reply to one of our messages that names no single case (a digest, an acknowledgement
    of several cases): never a new report, since a customer quoting the addresses we
    complained about would otherwise report themselves; an analyst files it by hand."""
    ids = message_ids(header(message, "In-Reply-To")) + message_ids(header(message, "References"))
    if not ids:
        return None
    found = session.execute(select(OutboundMessage.id).where(OutboundMessage.message_id.in_(ids[:50])).limit(1)).scalar_one_or_none()
    return f"a reply to our outbound message {found}, which names no single case" if found is not None else None


def _our_message_id(session: Session, message: EmailMessage) -> str | None:
    """Our exact Message-ID coming back (e.g. a forwarder resending our notice)."""
    ids = message_ids(header(message, "Message-ID"))
    if not ids:
        return None
    found = session.execute(select(OutboundMessage.id).where(OutboundMessage.message_id == ids[0])).scalar_one_or_none()
    return f"own mail: Message-ID of our outbound message {found}" if found is not None else None
