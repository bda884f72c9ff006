from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abusedesk.cli import app
from abusedesk.config import Settings
from tests.conftest import CORPUS
from tests.helpers import INVENTORY, own_report

runner = CliRunner()


def test_parse_contract_without_a_database(tmp_path: Path) -> None:
    good = tmp_path / "r.json"
    good.write_bytes(own_report(source="2001:0DB8::0001", at="2026-11-01T12:00:00+02:00"))
    result = runner.invoke(app, ["parse", str(good), str(CORPUS / "sisimai__set-of-emails/maildir/bsd/arf-01.eml")], env={"ABUSEDESK_DATA_DIR": str(tmp_path / "none")})
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(lines[0]) == {"path", "source_format", "category", "resources", "occurred_at", "reporter", "summary"}
    assert lines[0]["resources"] == [{"kind": "ip", "value": "2001:db8::1"}]
    assert lines[0]["occurred_at"] == "2026-11-01T10:00:00Z"
    assert lines[1]["category"] == "email.spam"
    assert not (tmp_path / "none").exists()  # no database touched


def test_parse_error_line_and_exit_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"xarf_version": "4.0.0"}')
    result = runner.invoke(app, ["parse", str(bad)])
    assert result.exit_code == 1
    line = json.loads(result.stdout.splitlines()[0])
    assert line["path"] == str(bad) and "report_id" in line["error"]


@pytest.fixture
def env(tmp_path: Path, make_settings: object) -> dict[str, str]:
    settings: Settings = make_settings()  # type: ignore[operator]
    values = {"ABUSEDESK_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        values["ABUSEDESK_DATABASE_URL"] = settings.database_url
    return values


def test_end_to_end_commands(tmp_path: Path, env: dict[str, str]) -> None:
    inventory = tmp_path / "inv.csv"
    inventory.write_text(INVENTORY)
    accounts = tmp_path / "acc.csv"
    accounts.write_text("account,name,email,status\nacme,Acme,ops@acme.example,active\n")
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    imported = runner.invoke(app, ["inventory", "import", str(inventory), "--accounts", str(accounts)], env=env)
    assert imported.exit_code == 0, imported.output
    who = runner.invoke(app, ["inventory", "who", "198.51.100.7", "--at", "2026-06-01T10:00:00Z"], env=env)
    assert who.exit_code == 0 and "before" in who.stdout
    assert runner.invoke(app, ["inventory", "who", "203.0.113.1"], env=env).exit_code == 1

    report = tmp_path / "spam.json"
    report.write_bytes(own_report())
    ingested = runner.invoke(app, ["ingest", str(report)], env=env)
    assert ingested.exit_code == 0, ingested.output
    assert "→ AD-" in ingested.stdout
    again = runner.invoke(app, ["ingest", str(report)], env=env)
    assert "seen before" in again.stdout

    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"garbage without any structure")
    quarantined = runner.invoke(app, ["ingest", str(bad)], env=env)
    assert quarantined.exit_code == 1 and "quarantined" in quarantined.stdout
    listing = runner.invoke(app, ["quarantine", "list"], env=env)
    assert "bad.eml" in listing.stdout

    cases = runner.invoke(app, ["cases", "list", "--category", "email.spam"], env=env)
    assert "acme" in cases.stdout
    shown = runner.invoke(app, ["cases", "show", "1"], env=env)
    assert shown.exit_code == 0 and "email.spam" in shown.stdout
    assert runner.invoke(app, ["cases", "list", "--status", "nonsense"], env=env).exit_code == 2
    verified = runner.invoke(app, ["audit", "verify"], env=env)
    assert verified.exit_code == 0 and "intact" in verified.stdout


def test_hostile_error_text_is_printed_not_interpreted(tmp_path: Path, env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    bad = tmp_path / "[red]x[bold].json"
    bad.write_text('{"category": "[/line/2 bold]", "source": "192.0.2.1"}')
    result = runner.invoke(app, ["ingest", str(bad)], env=env)
    assert result.exit_code == 1
    assert "[/line/2 bold]" in result.stdout
    listing = runner.invoke(app, ["quarantine", "list"], env=env)
    assert listing.exit_code == 0
    assert "[red]x[bold].json" in listing.stdout
