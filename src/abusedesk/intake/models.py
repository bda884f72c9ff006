"""The raw inbox: every input as received, before anyone interprets it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class RawStatus:
    RECEIVED = "received"
    PARSED = "parsed"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"


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


class IdempotencyKey(Base):
    """``Idempotency-Key`` of an API submission; seen again within the window → same report."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    report_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
