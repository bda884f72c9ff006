"""db.py: the SQLite WAL checkpointer and the batch statements' helpers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from abusedesk.audit.models import AuditEvent
from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.db import WalCheckpointer, insert_rows
from abusedesk.migrate import upgrade


def test_checkpointer_copies_the_wal_back_and_stops_with_the_context(tmp_path: Path) -> None:
    ctx = Context.create(Settings(data_dir=tmp_path, run_worker=False))
    try:
        assert isinstance(ctx.checkpointer, WalCheckpointer) and ctx.checkpointer.running
        upgrade(ctx.engine)
        with ctx.transaction() as session:
            session.execute(text("CREATE TABLE filler (n INTEGER, pad TEXT)"))
            session.execute(text("INSERT INTO filler SELECT value, printf('%.500c', 'x') FROM json_each(:ns)"), {"ns": str(list(range(2000)))})
        deadline = time.monotonic() + 10
        while ctx.checkpointer.frames_copied == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ctx.checkpointer.frames_copied > 0
    finally:
        ctx.close()
    assert ctx.checkpointer is not None and not ctx.checkpointer.running


def test_insert_rows_refuses_rows_that_leave_out_a_defaulted_column(ctx: Context) -> None:
    with ctx.transaction() as session, pytest.raises(ValueError, match="no value for"):
        insert_rows(session, AuditEvent, [{"id": 1, "actor": "a", "action": "x", "object_type": "o", "object_id": "1", "prev_hash": "0", "hash": "0"}])
