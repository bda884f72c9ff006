from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from abusedesk.audit.models import AuditEvent
from abusedesk.audit.service import Entry, _canonical_data, _digest, record, verify
from abusedesk.context import Context
from abusedesk.reports.flows import ingest_bytes
from tests.helpers import load_inventory, own_report


def _events(ctx: Context) -> list[AuditEvent]:
    with ctx.transaction() as session:
        return list(session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def test_state_changes_are_audited_and_chain_verifies(ctx: Context) -> None:
    load_inventory(ctx)
    ingest_bytes(ctx, own_report(), channel="file")
    actions = [e.action for e in _events(ctx)]
    assert "raw.received" in actions and "case.opened" in actions and "report.completed" in actions
    with ctx.transaction() as session:
        result = verify(session)
    assert result.ok and result.checked == len(actions)


def test_tampered_row_is_caught_at_its_id(ctx: Context) -> None:
    with ctx.transaction() as session:
        for i in range(5):
            record(session, actor="t", action="x", object_type="o", object_id=i, data={"n": i})
    with ctx.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 3).values(data={"n": 99}))
    with ctx.transaction() as session:
        result = verify(session)
    assert not result.ok
    assert result.broken_id == 3
    assert result.checked == 2


def test_deleted_row_is_caught(ctx: Context) -> None:
    with ctx.transaction() as session:
        for i in range(4):
            record(session, actor="t", action="x", object_type="o", object_id=i)
    with ctx.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == 2))
    with ctx.transaction() as session:
        result = verify(session)
    assert not result.ok and result.broken_id == 2


def test_truncated_tail_is_caught(ctx: Context) -> None:
    with ctx.transaction() as session:
        for i in range(3):
            record(session, actor="t", action="x", object_type="o", object_id=i)
    with ctx.transaction() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == 3))
    with ctx.transaction() as session:
        result = verify(session)
    assert not result.ok and result.broken_id == 3


_text = st.text(max_size=30)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@given(_text, _text, _text, _text, st.dictionaries(_text, _values, max_size=4), st.integers(1, 2**40))
def test_digest_text_is_canonical_json(actor: str, action: str, kind: str, object_id: str, data: dict[str, Any], event_id: int) -> None:
    """The hand-built hash input must stay the exact canonical JSON older chains were hashed with."""
    at = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
    entry = Entry(actor, action, kind, object_id, data)
    canonical = json.dumps(
        {"id": event_id, "at": at.isoformat(), "actor": actor, "action": action, "object_type": kind, "object_id": object_id, "data": data},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    expected = hashlib.sha256(f"{'0' * 64}|{canonical}".encode()).hexdigest()
    assert _digest("0" * 64, event_id, at, entry) == expected


@given(st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | st.integers() | st.text(max_size=12), max_size=5))
def test_canonical_data_matches_the_standard_library(data: dict[str, Any]) -> None:
    """orjson serves flat ASCII data; whatever it is given must read exactly as json.dumps writes it."""
    assert _canonical_data(data) == json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def test_canonical_data_edge_characters() -> None:
    for data in ({"a": "\x7f"}, {"\x7f": 1}, {"a": "\x00\x1f\n\t\"\\/"}, {"b": 2**70}, {"é": "ü"}, {"B": 1, "_": 2, "a": 3}):
        assert _canonical_data(data) == json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
