"""The raw inbox: store first, then interpret; quarantine what cannot be read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.evidence.blobstore import BlobStore
from abusedesk.intake.models import IdempotencyKey, RawInput, RawStatus
from abusedesk.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class Stored:
    raw: RawInput
    created: bool


def store_raw(
    session: Session, blobs: BlobStore, data: bytes, *, channel: str, filename: str | None = None,
    format_hint: str | None = None, meta: dict[str, Any] | None = None, actor: str = "intake",
) -> Stored:
    """Keep the exact bytes; the same bytes again return the row they already have."""
    digest = hashlib.sha256(data).hexdigest()
    existing = session.execute(select(RawInput).where(RawInput.sha256 == digest)).scalar_one_or_none()
    if existing is not None:
        return Stored(existing, created=False)
    blobs.put(data)
    raw = RawInput(
        sha256=digest, channel=channel, filename=filename, size=len(data), received_at=utcnow(),
        status=RawStatus.RECEIVED, format_hint=format_hint, meta=meta or {},
    )
    session.add(raw)
    session.flush()
    record(session, actor=actor, action="raw.received", object_type="raw_input", object_id=raw.id, data={"sha256": digest, "channel": channel, "size": len(data)})
    return Stored(raw, created=True)


def quarantine(session: Session, raw: RawInput, error: str, *, actor: str) -> None:
    raw.status = RawStatus.QUARANTINED
    raw.error = error[:4000]
    raw.attempts += 1
    record(session, actor=actor, action="raw.quarantined", object_type="raw_input", object_id=raw.id, data={"error": error[:500]})


def list_quarantine(session: Session, *, limit: int = 100) -> list[RawInput]:
    query = select(RawInput).where(RawInput.status == RawStatus.QUARANTINED).order_by(RawInput.id.desc()).limit(limit)
    return list(session.execute(query).scalars())


def remember_idempotency_key(session: Session, key: str, report_id: str) -> None:
    session.add(IdempotencyKey(key=key, report_id=report_id, created_at=utcnow()))


def find_idempotency_key(session: Session, key: str, *, window: timedelta) -> str | None:
    """The report id of an earlier submission with this key, if it is still within the window."""
    row = session.get(IdempotencyKey, key)
    if row is None:
        return None
    if utcnow() - row.created_at > window:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key))
        return None
    return row.report_id
