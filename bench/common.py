"""Helpers shared by the benchmarks: scratch contexts on SQLite and PostgreSQL, timing."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.db import make_engine
from abusedesk.migrate import upgrade

PG_ADMIN_URL = os.environ.get("ABUSEDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
OUT = Path(__file__).resolve().parent / "out"
T = TypeVar("T")


@contextmanager
def sqlite_context() -> Iterator[Context]:
    with tempfile.TemporaryDirectory(prefix="abusedesk-bench-") as tmp:
        ctx = Context.create(Settings(data_dir=Path(tmp), run_worker=False))
        upgrade(ctx.engine)
        try:
            yield ctx
        finally:
            ctx.close()


@contextmanager
def postgres_context() -> Iterator[Context | None]:
    """A throw-away database on the local server, or None when there is no server."""
    admin = make_engine(PG_ADMIN_URL)
    name = f"abusedesk_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"  (PostgreSQL not available: {exc.__class__.__name__})")
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="abusedesk-bench-") as tmp:
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        ctx = Context.create(Settings(data_dir=Path(tmp), database_url=url, run_worker=False))
        upgrade(ctx.engine)
        try:
            yield ctx
        finally:
            ctx.close()
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
