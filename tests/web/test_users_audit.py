"""``abusedesk users`` and the audit log view with chain verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from abusedesk.audit.models import AuditEvent
from abusedesk.cli import app
from abusedesk.context import Context
from tests.web.conftest import World, login


def test_users_cli_add_list_disable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABUSEDESK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ABUSEDESK_DATABASE_URL", raising=False)
    monkeypatch.setenv("PW", "a long enough password")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    added = runner.invoke(app, ["users", "add", "carol", "--role", "legal", "--password-env", "PW"])
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["users", "add", "dave", "--role", "customer", "--password-env", "PW"]).exit_code == 1  # needs --account
    assert runner.invoke(app, ["users", "add", "erin", "--role", "wizard", "--password-env", "PW"]).exit_code == 1
    listed = runner.invoke(app, ["users", "list"])
    assert "carol" in listed.output and "legal" in listed.output
    assert runner.invoke(app, ["users", "disable", "carol"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "nobody"]).exit_code == 1


def test_audit_view_verifies_the_chain_and_names_the_break(ctx: Context, world: World, client: TestClient) -> None:
    login(client, "auditor")
    page = client.get("/console/audit?check=1").text
    assert "Chain verified" in page and "case.opened" in page
    with ctx.transaction() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 2).values(actor="someone-else"))
    page = client.get("/console/audit?check=1").text
    assert "Chain BROKEN at event 2" in page


def test_users_page_lists_the_tokens_once(world: World, client: TestClient) -> None:
    login(client, "admin")
    page = client.get("/console/users")
    assert page.status_code == 200
    assert "<title>Users · abusedesk</title>" in page.text
    assert page.text.count("<h2>API tokens</h2>") == 1
