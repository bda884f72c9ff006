"""Decision records exported as DSA Transparency Database statements."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abusedesk.cli import app
from abusedesk.context import Context
from abusedesk.enforcement.statements import (
    StatementError,
    export_statements,
    validate_statement,
)
from tests.enforcement.support import ingest, report, setup, work

runner = CliRunner()


def _spam_escalated(ctx: Context) -> None:
    for source in ("192.0.2.10", "192.0.2.11"):  # the second is a repeat: port restricted at once
        ingest(ctx, report("email.spam", source=source, evidence="From: spammer\nSubject: pills"))
        work(ctx)


def test_export_has_the_tdb_fields_and_no_personal_data(ctx: Context) -> None:
    setup(ctx)
    _spam_escalated(ctx)
    with ctx.transaction() as session:
        [statement] = export_statements(session)["statements"]
    assert statement["decision_provision"] == "DECISION_PROVISION_PARTIAL_SUSPENSION"
    assert statement["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert statement["incompatible_content_ground"] == "No E-Mail or Other Message Abuse"
    assert statement["category"] == "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    assert statement["content_type"] == ["CONTENT_TYPE_TEXT"]
    assert statement["source_type"] == "SOURCE_TYPE_OTHER_NOTIFICATION"
    assert statement["automated_detection"] == "No"
    assert statement["automated_decision"] == "AUTOMATED_DECISION_FULLY"
    assert "DE" in statement["territorial_scope"] and len(statement["territorial_scope"]) == 30
    assert re.fullmatch(r"[a-zA-Z0-9-_]+", statement["puid"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", statement["application_date"])
    assert "192.0.2" not in statement["decision_facts"] and "@" not in statement["decision_facts"]
    assert "1 report(s) from 1 third-party reporter(s)" in statement["decision_facts"]
    assert validate_statement(statement) == []


def test_validator_names_each_bad_field() -> None:
    bad = {
        "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT", "content_type": ["CONTENT_TYPE_SMELL"],
        "category": "STATEMENT_CATEGORY_SPAM", "territorial_scope": ["US"], "content_date": "1999-12-31",
        "application_date": "2026-13-01", "decision_facts": "spam from 192.0.2.10 reported by jo@example.org",
        "source_type": "SOURCE_ARTICLE_16", "automated_detection": "yes", "automated_decision": "AUTOMATED_DECISION_FULLY",
        "puid": "case 1/2",
    }
    errors = validate_statement(bad)
    expected = [
        "at least one is required", "illegal_content_legal_ground: required", "illegal_content_explanation: required",
        "content_type: 'CONTENT_TYPE_SMELL'", "category: 'STATEMENT_CATEGORY_SPAM'", "territorial_scope: 'US'",
        "content_date: 1999-12-31 is outside", "application_date: '2026-13-01' is not a date",
        "decision_facts: contains an e-mail address", "decision_facts: contains an IPv4 address",
        "automated_detection: 'yes'", "puid: 'case 1/2' must match",
    ]
    for fragment in expected:
        assert any(fragment in error for error in errors), (fragment, errors)
    assert len(errors) == len(expected)


def test_cli_writes_validated_statements(ctx: Context, tmp_path: Path) -> None:
    setup(ctx)
    _spam_escalated(ctx)
    out = tmp_path / "statements.json"
    env = {"ABUSEDESK_DATA_DIR": str(ctx.settings.data_dir), "ABUSEDESK_DATABASE_URL": ctx.settings.effective_database_url}
    result = runner.invoke(app, ["export", "statements", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert len(document["statements"]) == 1 and document["statements"][0]["puid"].startswith("abusedesk-")


def test_an_invalid_record_stops_the_export(ctx: Context) -> None:
    setup(ctx)
    _spam_escalated(ctx)
    from sqlalchemy import select

    from abusedesk.enforcement.models import DecisionRecord

    with ctx.transaction() as session:
        record = session.execute(select(DecisionRecord)).scalar_one()
        record.facts = "contact the customer at owner@acme.example"
    with ctx.transaction() as session, pytest.raises(StatementError, match=r"abusedesk-\d+-\d+: decision_facts: contains an e-mail address"):
        export_statements(session)


def test_actions_cli_two_people_and_lift(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("security.scan"))
    work(ctx)
    env = {"ABUSEDESK_DATA_DIR": str(ctx.settings.data_dir), "ABUSEDESK_DATABASE_URL": ctx.settings.effective_database_url}
    dry = runner.invoke(app, ["actions", "propose", str(case_id), "block_ip", "--as", "alice", "--reason", "scan", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "dry run: would set ip:192.0.2.10" not in dry.output and "cidr:192.0.2.0/24 active → blocked" in dry.output, dry.output
    moved = runner.invoke(app, ["actions", "propose", str(case_id), "block_ip", "--as", "alice", "--reason", "x", "--target", "198.51.100.7"], env=env)
    assert moved.exit_code == 1 and "held by another account now" in moved.output
    term = runner.invoke(app, ["actions", "propose", str(case_id), "terminate_account", "--as", "alice", "--reason", "repeat"], env=env)
    assert term.exit_code == 0 and "needs 1 more approval(s)" in term.output, term.output
    action_id = term.output.split()[1].rstrip(":")
    same = runner.invoke(app, ["actions", "approve", action_id, "--as", "alice"], env=env)
    assert same.exit_code == 1 and "must not be the proposer" in same.output
    other = runner.invoke(app, ["actions", "approve", action_id, "--as", "bob"], env=env)
    assert other.exit_code == 0 and "is approved" in other.output
    work(ctx)
    listed = runner.invoke(app, ["actions", "list", "--case", str(case_id)], env=env)
    assert "applied   terminate_account" in listed.output and "approvals 2/2" in listed.output
    lifted = runner.invoke(app, ["actions", "lift", action_id, "--as", "bob", "--reason", "appeal upheld"], env=env)
    assert lifted.exit_code == 0, lifted.output
    work(ctx)
    listed = runner.invoke(app, ["actions", "list", "--case", str(case_id), "--state", "reverted"], env=env)
    assert "terminate_account" in listed.output


def test_illegal_content_cites_the_law_and_the_clause(ctx: Context) -> None:
    setup(ctx)
    ingest(ctx, report("content.infringing", source="http://shop.example/f.mkv", reporter="agent@rights.example"))
    work(ctx)
    with ctx.transaction() as session:
        [statement] = export_statements(session)["statements"]
    assert statement["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert statement["illegal_content_legal_ground"] == "Copyright and trademark law (Directive 2001/29/EC; 17 U.S.C. § 512)"
    assert "Infringing Content" in statement["illegal_content_explanation"]
    assert statement["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert statement["category_specification"] == ["KEYWORD_COPYRIGHT_INFRINGEMENT"]
    assert statement["source_type"] == "SOURCE_ARTICLE_16" and statement["source_identity"] == "Vic Tim"
    assert validate_statement(statement) == []
