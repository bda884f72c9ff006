"""The raw inbox: every input as received, before anyone interprets it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class RawStatus:
    RECEIVED = "received"
    PARSED = "parsed"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"
    #: a mail about an existing case, kept as :class:`Correspondence` instead of reports
    CORRESPONDENCE = "correspondence"


class RawInput(Base):
    """Exact bytes (in the blob store, by SHA-256) plus how and when they arrived."""

    __tablename__ = "raw_inputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(20), default=RawStatus.RECEIVED, index=True)
    source_format: Mapped[str | None] = mapped_column(String(40))
    #: forced parser (``--format``), kept so a retry parses the same way
    format_hint: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    report_count: Mapped[int] = mapped_column(default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: small inputs live in the row itself (durable with the commit, no file per report);
    #: larger ones in the blob store under ``sha256``
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class IdempotencyKey(Base):
    """``Idempotency-Key`` of an API submission; seen again within the window → same report."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Correspondence(Base):
    """A mail about an existing case (a reply to a notice, a reporter's follow-up).

    It is kept apart from reports on purpose: a customer answering "fixed it" must not
    open a new case about themselves. ``raw_id`` points at the exact message in the raw
    inbox; ``party`` says whether the sender is the case's customer, so a console that
    shows correspondence to customers can leave reporters' mail out.
    """

    __tablename__ = "correspondence"
    __table_args__ = (Index("ix_correspondence_case_received", "case_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_inputs.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    #: ``customer``, ``reporter``, ``mta`` (a bounce of our mail) or ``unknown``
    party: Mapped[str] = mapped_column(String(20))
    #: how the case was found: ``recipient`` (abuse+REF@), ``thread`` (In-Reply-To), ``subject``,
    #: ``bounce`` (a delivery failure returning one of our messages; the raw input stays ignored)
    matched_by: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998), default="")
    message_id: Mapped[str | None] = mapped_column(String(300))
    #: the outbound message this answers, when threading found one
    in_reply_to_outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_messages.id"))
    auto_submitted: Mapped[bool] = mapped_column(default=False)
    #: plain text of the body, bounded; the full message stays in the blob store
    body_text: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
