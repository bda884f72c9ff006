"""Time rules in one place: everything stored and printed is UTC.

Naive datetimes from the database (SQLite keeps no zone) are UTC by convention; input
without a zone is rejected where the input format requires one, assumed UTC otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to naive values, convert aware ones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 / RFC 3339 (``Z`` or offset; no offset = UTC) or an RFC 2822 date."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty timestamp")
    candidate = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
    try:
        return as_utc(datetime.fromisoformat(candidate))
    except ValueError:
        pass
    try:
        return as_utc(parsedate_to_datetime(raw))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"invalid timestamp {raw[:60]!r}: use ISO 8601, e.g. 2026-01-31T10:00:00Z") from None


def isoformat_z(value: datetime | None) -> str | None:
    """``2026-01-31T10:00:00Z``: the one printed form of a moment."""
    if value is None:
        return None
    return as_utc(value).replace(microsecond=0).isoformat().replace("+00:00", "Z")
