"""Append to and verify the hash-chained audit log.

Each event's hash covers its own content and the previous hash, so changing, deleting or
reordering any row breaks every hash after it; ``verify`` names the first broken link.
Writers lock the single head row, which keeps the chain linear under concurrency.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.audit.models import AuditEvent, AuditHead
from abusedesk.db import insert_values
from abusedesk.timeutil import as_utc, utcnow

GENESIS = "0" * 64


class Entry(NamedTuple):
    """One event to append (a tuple: the batch path makes several per report)."""

    actor: str
    action: str
    object_type: str
    object_id: str
    data: dict[str, Any]


_quote = json.encoder.encode_basestring_ascii  # the C quoting json.dumps uses


def _digest(prev_hash: str, event_id: int, at: datetime | str, entry: Entry) -> str:
    """SHA-256 over the previous hash and the event as canonical JSON (sorted keys, no spaces).

    The JSON is assembled by hand because this runs for every event written; it is the
    exact text ``json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)``
    gives (a test holds the two together), so chains written before stay verifiable.
    """
    stamp = at if isinstance(at, str) else as_utc(at).isoformat()
    data = _canonical_data(entry.data)
    body = (
        f'{{"action":{_quote(entry.action)},"actor":{_quote(entry.actor)},"at":{_quote(stamp)},"data":{data},'
        f'"id":{event_id},"object_id":{_quote(entry.object_id)},"object_type":{_quote(entry.object_type)}}}'
    )
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


_SCALARS = frozenset({str, int, bool, type(None)})


def _flat(data: dict[str, Any]) -> bool:
    """Already exactly what JSON gives back (the common case), so the round trip can be skipped."""
    return all(type(k) is str and type(v) in _SCALARS for k, v in data.items())


def _plain_ascii(text: str) -> bool:
    return text.isascii() and "\x7f" not in text


def _canonical_data(data: dict[str, Any]) -> str:
    """``json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)``; through orjson
    when that gives the same text: flat data, printable ASCII and control characters only
    (orjson writes DEL and non-ASCII characters as they are, the standard library escapes them)."""
    if _flat(data) and all(_plain_ascii(k) and (type(v) is not str or _plain_ascii(v)) for k, v in data.items()):
        try:
            return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:  # an integer over 64 bits
            pass
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _lock_head(session: Session) -> AuditHead:
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, last_id=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    return head


_COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "data", "prev_hash", "hash")


def record_many(session: Session, entries: Sequence[Entry]) -> None:
    """Append ``entries`` in order, in the caller's transaction."""
    if not entries:
        return
    head = _lock_head(session)
    at = utcnow()
    stamp = as_utc(at).isoformat()
    prev, next_id = head.last_hash, head.last_id
    rows: list[tuple[Any, ...]] = []
    for actor, action, object_type, object_id, data in entries:
        next_id += 1
        if not _flat(data):  # store data as it will read back, so the hash verifies after a round trip
            data = json.loads(json.dumps(data, default=str))
        digest = _digest(prev, next_id, stamp, Entry(actor, action, object_type, object_id, data))
        rows.append((next_id, at, actor, action, object_type, object_id, data, prev, digest))
        prev = digest
    insert_values(session, AuditEvent, _COLUMNS, rows)
    head.last_id, head.last_hash = next_id, prev


def record(
    session: Session, *, actor: str, action: str, object_type: str, object_id: str | int,
    data: dict[str, Any] | None = None,
) -> None:
    record_many(session, [Entry(actor, action, object_type, str(object_id), data or {})])


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch: int = 5000) -> VerifyResult:
    """Walk the whole chain in id order; stop at the first event that does not check out."""
    prev, expected_id, checked = GENESIS, 1, 0
    last_seen = 0
    while True:
        events: Iterable[AuditEvent] = session.execute(
            select(AuditEvent).where(AuditEvent.id > last_seen).order_by(AuditEvent.id).limit(batch)
        ).scalars().all()
        count = 0
        for event in events:
            count += 1
            if event.id != expected_id:
                return VerifyResult(False, checked, expected_id, f"event {expected_id} is missing (next is {event.id})")
            if event.prev_hash != prev:
                return VerifyResult(False, checked, event.id, "prev_hash does not match the previous event's hash")
            entry = Entry(event.actor, event.action, event.object_type, event.object_id, event.data)
            if _digest(prev, event.id, event.at, entry) != event.hash:
                return VerifyResult(False, checked, event.id, "content does not match its hash (altered)")
            prev, expected_id, last_seen = event.hash, event.id + 1, event.id
            checked += 1
        if count < batch:
            break
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != checked or head.last_hash != prev):
        return VerifyResult(False, checked, checked + 1, "events after the last one are missing (head points further)")
    return VerifyResult(True, checked)
