"""The raw inbox: store first, then interpret; quarantine what cannot be read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from abusedesk.audit.service import Entry, record, record_many
from abusedesk.db import allocate_ids, insert_values, one_of
from abusedesk.evidence.blobstore import BlobStore
from abusedesk.intake.models import IdempotencyKey, RawInput, RawStatus
from abusedesk.timeutil import utcnow

#: inputs up to this size are kept in the database row; larger ones as files
INLINE_LIMIT = 256 * 1024


def raw_bytes(blobs: BlobStore, raw: RawLike) -> bytes:
    """The exact bytes of a stored input, wherever they are kept."""
    if raw.content is not None:
        return raw.content
    return blobs.get(raw.sha256)


@dataclass(slots=True)
class RawDraft:
    """A new input on its way into ``raw_inputs``: a plain object, inserted with one statement.

    The batch path parses before it inserts, so each row is written once with its final
    status instead of inserted as ``received`` and updated a moment later.
    """

    id: int
    sha256: str
    channel: str
    filename: str | None
    size: int
    received_at: datetime
    format_hint: str | None
    meta: dict[str, Any]
    content: bytes | None
    status: str = RawStatus.RECEIVED
    source_format: str | None = None
    error: str | None = None
    attempts: int = 0
    report_count: int = 0

    def row(self) -> dict[str, Any]:
        return dict(zip(_RAW_FIELDS, _raw_values(self), strict=True))


_RAW_FIELDS = tuple(f.name for f in fields(RawDraft))
_raw_values = attrgetter(*_RAW_FIELDS)
#: a stored input or one about to be: what parsing and report creation read and set
RawLike = RawInput | RawDraft


R = TypeVar("R", RawInput, RawLike)


@dataclass(frozen=True, slots=True)
class Stored(Generic[R]):
    """An input of a batch: its row (or draft), and whether this position created it."""

    raw: R
    created: bool


def store_raw(
    session: Session, blobs: BlobStore, data: bytes, *, channel: str, filename: str | None = None,
    format_hint: str | None = None, meta: dict[str, Any] | None = None, actor: str = "intake",
) -> Stored[RawInput]:
    """Keep the exact bytes; the same bytes again return the row they already have."""
    return store_raw_many(session, blobs, [data], channel=channel, filenames=[filename], format_hint=format_hint, metas=[meta], actor=actor)[0]


def plan_raw_many(
    session: Session, blobs: BlobStore, items: Sequence[bytes], *, channel: str,
    filenames: Sequence[str | None] | None = None, format_hint: str | None = None,
    metas: Sequence[dict[str, Any] | None] | None = None,
) -> list[Stored[RawLike]]:
    """Existing rows for inputs seen before, drafts with ids for new ones (one per distinct
    bytes). Large inputs reach the blob store, synced to disk once for the batch, before
    anything is inserted, so a committed row always has its bytes."""
    digests = [hashlib.sha256(data).hexdigest() for data in items]
    existing: dict[str, RawInput] = {}
    unique = sorted(set(digests))
    # inputs seen before: few, so only those are loaded as instances
    stored = list(session.connection().execute(select(RawInput.sha256).where(one_of(session, RawInput.sha256, unique))).scalars())
    if stored:
        for raw in session.execute(select(RawInput).where(one_of(session, RawInput.sha256, stored))).scalars():
            existing[raw.sha256] = raw
    names = list(filenames) if filenames is not None else [None] * len(items)
    meta_list = list(metas) if metas is not None else [None] * len(items)
    fresh: list[int] = []  # the first position of each new digest
    seen: set[str] = set()
    for i, digest in enumerate(digests):
        if digest not in existing and digest not in seen:
            seen.add(digest)
            fresh.append(i)
    ids = iter(allocate_ids(session, RawInput, len(fresh)))
    created: dict[str, RawDraft] = {}
    wrote_files = False
    now = utcnow()
    for i in fresh:
        data = items[i]
        inline = len(data) <= INLINE_LIMIT
        if not inline:
            blobs.put(data, durable=False)
            wrote_files = True
        created[digests[i]] = RawDraft(
            next(ids), digests[i], channel, names[i], len(data), now, format_hint, meta_list[i] or {}, data if inline else None,
        )
    if wrote_files:
        blobs.sync()
    first = set(fresh)
    return [Stored(existing.get(digest) or created[digest], created=i in first) for i, digest in enumerate(digests)]


def received_entries(drafts: Sequence[RawDraft], *, actor: str) -> list[Entry]:
    return [
        Entry(actor, "raw.received", "raw_input", str(d.id), {"sha256": d.sha256, "channel": d.channel, "size": d.size})
        for d in drafts
    ]


def insert_raw_drafts(session: Session, drafts: Sequence[RawDraft]) -> None:
    """One INSERT for the new inputs; their ``raw.received`` audit is the caller's."""
    if drafts:
        insert_values(session, RawInput, _RAW_FIELDS, [_raw_values(d) for d in drafts])


def store_raw_many(
    session: Session, blobs: BlobStore, items: Sequence[bytes], *, channel: str,
    filenames: Sequence[str | None] | None = None, format_hint: str | None = None,
    metas: Sequence[dict[str, Any] | None] | None = None, actor: str = "intake",
) -> list[Stored[RawInput]]:
    """Store many inputs as ``received`` rows for callers that work on them afterwards
    (the SMTP listener queues them, the API files its reports)."""
    planned = plan_raw_many(session, blobs, items, channel=channel, filenames=filenames, format_hint=format_hint, metas=metas)
    drafts = [p.raw for p in planned if p.created and isinstance(p.raw, RawDraft)]
    rows: dict[int, RawInput] = {d.id: RawInput(**d.row()) for d in drafts}
    if rows:
        session.add_all(rows.values())
        session.flush()
        record_many(session, received_entries(drafts, actor=actor))
    return [
        Stored(rows[p.raw.id] if isinstance(p.raw, RawDraft) else p.raw, created=p.created)
        for p in planned
    ]


def quarantine(session: Session, raw: RawLike, error: str, *, actor: str) -> None:
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
