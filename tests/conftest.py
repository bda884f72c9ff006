"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL gets a throw-away database per test session (so parallel runs never meet);
each test starts from empty tables. Set ABUSEDESK_REQUIRE_POSTGRES=1 (CI does) to turn
an unreachable server into a failure instead of a skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.db import Base, make_engine
from abusedesk.migrate import upgrade

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ADMIN_URL = os.environ.get("ABUSEDESK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("ABUSEDESK_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server, dropped at the end of the session."""
    admin = make_engine(PG_ADMIN_URL)
    name = f"abusedesk_t_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        message = f"PostgreSQL at {PG_ADMIN_URL} is not usable: {exc}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(url: str) -> None:
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    database_url: str | None = None
    if backend == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
        _truncate(database_url)

    def factory(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "var", "database_url": database_url, "run_worker": False}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def ctx(make_settings: Callable[..., Settings], backend: str) -> Iterator[Context]:
    context = Context.create(make_settings())
    if backend == "sqlite":
        upgrade(context.engine)
    yield context
    context.close()
