from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from abusedesk.context import Context
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.worker import Worker
from abusedesk.users.service import create_token
from abusedesk.web.app import create_app


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, background=False)) as test_client:
        yield test_client


@pytest.fixture
def token(ctx: Context) -> str:
    with ctx.transaction() as session:
        value, _ = create_token(session, name="tests", actor="test")
    return value


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def worker(ctx: Context) -> Worker:
    return Worker(ctx, default_handlers(), name="test-worker")
