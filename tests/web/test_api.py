from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from abusedesk.context import Context
from abusedesk.intake.models import RawInput
from abusedesk.jobs.worker import Worker
from abusedesk.reports.models import Report
from tests.helpers import load_inventory, own_report, xarf_v4


def _counts(ctx: Context) -> tuple[int, int]:
    with ctx.transaction() as session:
        return (
            session.execute(select(func.count()).select_from(RawInput)).scalar_one(),
            session.execute(select(func.count()).select_from(Report)).scalar_one(),
        )


def test_submit_xarf_then_poll_until_completed(ctx: Context, client: TestClient, auth: dict[str, str], worker: Worker) -> None:
    load_inventory(ctx)
    response = client.post("/api/v1/reports", json=xarf_v4())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    report_id = body["id"]
    assert 20 <= len(report_id) <= 64 and report_id.isalnum()
    queued = client.get(f"/api/v1/reports/{report_id}", headers=auth).json()
    assert queued["status"] == "queued" and queued["outcome"] is None
    assert worker.run_until_idle() >= 1  # routing, then the playbook job of the new case
    done = client.get(f"/api/v1/reports/{report_id}", headers=auth).json()
    assert done["status"] == "completed"
    assert done["outcome"] == "case"
    assert done["case"].startswith("AD-")
    assert done["category"] == "security.bruteforce"


def test_not_ours_outcome(ctx: Context, client: TestClient, auth: dict[str, str], worker: Worker) -> None:
    load_inventory(ctx)
    report_id = client.post("/api/v1/reports", json=xarf_v4(source="203.0.113.9")).json()["id"]
    worker.run_until_idle()
    assert client.get(f"/api/v1/reports/{report_id}", headers=auth).json()["outcome"] == "not_ours"


def test_idempotency_key_returns_the_first_report(ctx: Context, client: TestClient) -> None:
    first = client.post("/api/v1/reports", json=xarf_v4(), headers={"Idempotency-Key": "k-1"})
    second = client.post("/api/v1/reports", json=xarf_v4(), headers={"Idempotency-Key": "k-1"})  # new report_id, same key
    assert second.status_code == 202
    assert second.json()["id"] == first.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert _counts(ctx) == (1, 1)


def test_own_json_batch(ctx: Context, client: TestClient) -> None:
    batch = {"reports": [json.loads(own_report(source=f"192.0.2.{i}")) for i in range(1, 4)]}
    body = client.post("/api/v1/reports", json=batch).json()
    assert len(body["ids"]) == 3


def test_validation_errors_point_at_the_field_and_write_nothing(ctx: Context, client: TestClient) -> None:
    bad = xarf_v4(source="not a host*", timestamp="yesterday")
    del bad["protocol"]
    response = client.post("/api/v1/reports", json=bad)
    assert response.status_code == 422
    errors = {e["path"]: e["code"] for e in response.json()["errors"]}
    assert errors["/source_identifier"] == "rule.source_identifier.forbidden_characters"
    assert errors["/timestamp"] == "rule.timestamp.malformed"
    assert errors["/protocol"] == "rule.protocol.missing"
    assert _counts(ctx) == (0, 0)


def test_nested_pointer_and_non_object(ctx: Context, client: TestClient) -> None:
    bad = xarf_v4()
    bad["reporter"]["contact"] = "nobody"
    response = client.post("/api/v1/reports", json=bad)
    assert response.status_code == 422
    assert {"path": "/reporter/contact", "code": "rule.reporter.contact.invalid", "message": "contact must be an e-mail address"} in response.json()["errors"]
    assert client.post("/api/v1/reports", content=b"[1,2]", headers={"Content-Type": "application/json"}).status_code == 422
    assert client.post("/api/v1/reports", content=b"{nope", headers={"Content-Type": "application/json"}).json()["errors"][0]["code"] == "rule.body.malformed_json"
    assert _counts(ctx) == (0, 0)


def test_body_over_the_limit_is_413(ctx: Context, make_settings: object) -> None:
    from abusedesk.web.app import create_app

    small = Context.create(make_settings(max_body_bytes=1000))  # type: ignore[operator]
    try:
        with TestClient(create_app(small, background=False)) as client:
            response = client.post("/api/v1/reports", content=b'{"x": "' + b"a" * 2000 + b'"}', headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.json()["errors"][0]["code"] == "rule.body.too_large"
    finally:
        small.close()
    assert _counts(ctx) == (0, 0)


def test_token_required_except_for_submission(ctx: Context, client: TestClient, auth: dict[str, str]) -> None:
    for path in ("/api/v1/cases", "/api/v1/reports/x" * 1, "/api/v1/inventory/resources", "/api/v1/inventory/accounts"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer adk_wrong"}).status_code == 401, path
    assert client.get("/api/v1/cases", headers=auth).status_code == 200


def test_read_only_token_cannot_write(ctx: Context, client: TestClient) -> None:
    from abusedesk.users.service import create_token

    with ctx.transaction() as session:
        token, _ = create_token(session, name="ro", scopes=("read",), actor="test")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/cases", headers=headers).status_code == 200
    assert client.post("/api/v1/inventory/accounts", json={"id": "x"}, headers=headers).status_code == 403


def test_cases_filters_and_keyset_pagination(ctx: Context, client: TestClient, auth: dict[str, str], worker: Worker) -> None:
    load_inventory(ctx)
    for i in range(1, 8):
        client.post("/api/v1/reports", json=json.loads(own_report(source=f"192.0.2.{i}", category="email.spam" if i % 2 else "security.scan")))
    worker.run_until_idle()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/cases", params=params, headers=auth).json()
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and len(set(seen)) == 7
    spam = client.get("/api/v1/cases", params={"category": "email.spam"}, headers=auth).json()["items"]
    assert len(spam) == 4 and all(c["category"] == "email.spam" for c in spam)
    assert client.get("/api/v1/cases", params={"category": "email.spamm"}, headers=auth).status_code == 422
    detail = client.get(f"/api/v1/cases/{spam[0]['id']}", headers=auth).json()
    assert detail["report_count"] == 1 and len(detail["reports"]) == 1
    assert client.get("/api/v1/cases/AD-2026-999999", headers=auth).status_code == 404


def test_inventory_add_end_and_who(ctx: Context, client: TestClient, auth: dict[str, str]) -> None:
    assert client.post("/api/v1/inventory/accounts", json={"id": "zeta", "name": "Zeta"}, headers=auth).status_code == 201
    created = client.post("/api/v1/inventory/resources", json={"account": "zeta", "kind": "cidr", "value": "203.0.113.0/24", "valid_from": "2026-01-01T00:00:00Z"}, headers=auth)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    who = client.get("/api/v1/inventory/who", params={"q": "203.0.113.77"}, headers=auth).json()
    assert who["account"] == "zeta"
    ended = client.post(f"/api/v1/inventory/resources/{rid}/end", json={"valid_to": "2026-11-01T00:00:00Z"}, headers=auth)
    assert ended.status_code == 200 and ended.json()["valid_to"].startswith("2026-11-01")
    assert client.get("/api/v1/inventory/who", params={"q": "203.0.113.77"}, headers=auth).json()["account"] is None
    assert client.get("/api/v1/inventory/who", params={"q": "203.0.113.77", "at": "2026-06-01T00:00:00Z"}, headers=auth).json()["account"] == "zeta"
    bad = client.post("/api/v1/inventory/resources", json={"account": "zeta", "kind": "domain", "value": "co.uk"}, headers=auth)
    assert bad.status_code == 422 and "public suffix" in bad.json()["message"]
    missing = client.post("/api/v1/inventory/resources", json={"account": "zeta", "kind": "ipv9", "value": "x"}, headers=auth)
    assert missing.status_code == 422 and missing.json()["errors"][0]["path"] == "/kind"


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/reports", "/api/v1/reports/{report_id}", "/api/v1/cases", "/api/v1/cases/{case_id}"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_an_object_in_no_known_shape_is_told_what_is_missing(ctx: Context, client: TestClient) -> None:
    response = client.post("/api/v1/reports", json={"hello": "world"})
    assert response.status_code == 422
    codes = {e["path"]: e["code"] for e in response.json()["errors"]}
    assert codes["/category"] == "rule.category.missing"
    assert codes["/hello"] == "rule.field.unknown"
    assert _counts(ctx) == (0, 0)


def test_the_same_key_twice_at_once_answers_like_the_first(ctx: Context, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both requests pass the key check before either commits; the loser replays the winner."""
    from abusedesk.web.api import reports as reports_api

    first = client.post("/api/v1/reports", json=xarf_v4(), headers={"Idempotency-Key": "race"}).json()
    real_replay = reports_api._replay
    calls: list[str] = []

    def replay_not_yet_committed(*args: object, **kwargs: object) -> object:
        calls.append("check")
        if len(calls) == 1:
            return None  # as if the first request had not committed when this one looked
        return real_replay(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reports_api, "_replay", replay_not_yet_committed)
    second = client.post("/api/v1/reports", json=xarf_v4(), headers={"Idempotency-Key": "race"})
    assert second.status_code == 202
    assert second.json()["id"] == first["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(calls) == 2
    assert _counts(ctx) == (1, 1)
