"""The raw inbox: store first, then interpret; quarantine what cannot be read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from abusedesk.audit.service import Entry, record, record_many
from abusedesk.db import allocate_ids
from abusedesk.evidence.blobstore import BlobStore
from abusedesk.intake.models import IdempotencyKey, RawInput, RawStatus
from abusedesk.timeutil import utcnow

#: inputs up to this size are kept in the database row; larger ones as files
INLINE_LIMIT = 256 * 1024


def raw_bytes(blobs: BlobStore, raw: RawInput) -> bytes:
    """The exact bytes of a stored input, wherever they are kept."""
    if raw.content is not None:
        return raw.content
    return blobs.get(raw.sha256)


@dataclass(frozen=True, slots=True)
class Stored:
    raw: RawInput
    created: bool


def store_raw(
    session: Session, blobs: BlobStore, data: bytes, *, channel: str, filename: str | None = None,
    format_hint: str | None = None, meta: dict[str, Any] | None = None, actor: str = "intake",
) -> Stored:
    """Keep the exact bytes; the same bytes again return the row they already have."""
    return store_raw_many(session, blobs, [data], channel=channel, filenames=[filename], format_hint=format_hint, metas=[meta], actor=actor)[0]


def store_raw_many(
    session: Session, blobs: BlobStore, items: Sequence[bytes], *, channel: str,
    filenames: Sequence[str | None] | None = None, format_hint: str | None = None,
    metas: Sequence[dict[str, Any] | None] | None = None, actor: str = "intake",
) -> list[Stored]:
    """Store many inputs. Small ones go into their rows; large ones to the blob store first,
    synced to disk once for the batch, so a committed row always has its bytes."""
    digests = [hashlib.sha256(data).hexdigest() for data in items]
    existing: dict[str, RawInput] = {}
    unique = sorted(set(digests))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        for raw in session.execute(select(RawInput).where(RawInput.sha256.in_(chunk))).scalars():
            existing[raw.sha256] = raw
    names = list(filenames) if filenames is not None else [None] * len(items)
    meta_list = list(metas) if metas is not None else [None] * len(items)
    created: dict[str, RawInput] = {}
    wrote_files = False
    for digest, data, name, meta in zip(digests, items, names, meta_list, strict=True):
        if digest in existing or digest in created:
            continue
        inline = len(data) <= INLINE_LIMIT
        if not inline:
            blobs.put(data, durable=False)
            wrote_files = True
        created[digest] = RawInput(
            sha256=digest, channel=channel, filename=name, size=len(data), received_at=utcnow(),
            status=RawStatus.RECEIVED, format_hint=format_hint, meta=meta or {}, content=data if inline else None,
        )
    if wrote_files:
        blobs.sync()
    if created:
        for raw, new_id in zip(created.values(), allocate_ids(session, RawInput, len(created)), strict=True):
            raw.id = new_id
        session.add_all(created.values())
        session.flush()
        record_many(session, [
            Entry(actor, "raw.received", "raw_input", str(raw.id), {"sha256": raw.sha256, "channel": channel, "size": raw.size})
            for raw in created.values()
        ])
    results: list[Stored] = []
    first_seen: set[str] = set()
    for digest in digests:
        if digest in created and digest not in first_seen:
            first_seen.add(digest)
            results.append(Stored(created[digest], created=True))
        else:
            results.append(Stored(existing.get(digest) or created[digest], created=False))
    return results


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
