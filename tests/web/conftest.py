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


# ------------------------------------------------------------------ console and portal

import re  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from abusedesk.reports.flows import ingest_bytes  # noqa: E402
from abusedesk.users.service import create_user  # noqa: E402
from tests.helpers import load_inventory, own_report  # noqa: E402

PASSWORD = "correct horse battery"
STAFF = ("admin", "analyst", "legal", "auditor")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The session's CSRF token, read from a page that renders a form."""
    match = _CSRF.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_of(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf": token}, follow_redirects=False)
    assert response.status_code == 303, response.text


def post(client: TestClient, path: str, data: dict[str, object] | None = None, **kwargs: object) -> object:
    """POST a form with the session's CSRF token, the way the browser does."""
    body = dict(data or {})
    body["csrf"] = csrf_of(client, "/login")
    return client.post(path, data=body, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


@dataclass
class World:
    """Two customers with cases, one CSAM case, and one user per role."""

    acme_case: int
    acme_csam_case: int
    shop_case: int


@pytest.fixture
def world(ctx: Context) -> World:
    load_inventory(ctx)
    with ctx.transaction() as session:
        for role in STAFF:
            create_user(session, username=role, role=role, password=PASSWORD, actor="test")
        create_user(session, username="acme-user", role="customer", password=PASSWORD, account_id="acme", actor="test")
        create_user(session, username="shop-user", role="customer", password=PASSWORD, account_id="shop", actor="test")
    acme = ingest_bytes(ctx, own_report(category="email.spam", source="192.0.2.10"), channel="api")
    csam = ingest_bytes(ctx, own_report(category="content.csam", source="http://192.0.2.11/x"), channel="api")
    shop = ingest_bytes(ctx, own_report(category="content.phishing", source="https://shop.example/login"), channel="api")
    ids = [r.reports[0].case_id for r in (acme, csam, shop)]
    assert all(ids), [r.reports for r in (acme, csam, shop)]
    return World(*ids)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with production costs takes ~0.1 s per hash; tests need many. Same code path."""
    from argon2 import PasswordHasher

    from abusedesk.users import service

    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(service, "_DUMMY_HASH", service._hasher.hash("dummy"))
