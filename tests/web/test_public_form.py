"""The public report form: per-category fields, validation, pipeline, tracking, rate limit."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from abusedesk.context import Context
from abusedesk.intake.models import RawInput
from abusedesk.notices.models import OutboundMessage
from abusedesk.reports.models import Report
from tests.helpers import load_inventory
from tests.web.conftest import csrf_of

SPAM = {
    "category": "email.spam", "sources": "192.0.2.10", "headers": "Received: from x (192.0.2.10)\nSubject: buy",
    "explanation": "Unsolicited bulk mail to my address", "name": "Rita Reporter", "email": "rita@reporter.example", "good_faith": "1",
}


def submit(client: TestClient, data: dict[str, Any]) -> Any:
    body = dict(data)
    body["csrf"] = csrf_of(client, "/login")
    return client.post("/report", data=body, follow_redirects=False)


def test_step_one_lists_every_category_in_plain_words(ctx: Context, client: TestClient) -> None:
    page = client.get("/report").text
    for category, policy in ctx.policy.categories.items():
        assert f'value="{category.value}"' in page
        assert policy.description.split(".")[0][:40].replace("'", "&#39;") in page


def test_spam_report_goes_through_the_pipeline_and_gets_a_tracking_id(ctx: Context, client: TestClient) -> None:
    load_inventory(ctx)
    response = submit(client, SPAM)
    assert response.status_code == 303, response.text
    tracking = response.headers["location"].split("/report/status/")[1].split("?")[0]
    status_page = client.get(response.headers["location"]).text
    assert tracking in status_page and "completed" in status_page
    assert "acme" not in status_page  # the reporter never learns who the customer is
    with ctx.transaction() as session:
        report = session.get(Report, tracking)
        assert report is not None and report.channel == "web" and report.category == "email.spam"
        assert report.account_id == "acme" and report.case_id is not None
        assert report.reporter_email == "rita@reporter.example"
        raw = session.get(RawInput, report.raw_id)
        assert raw is not None and raw.channel == "web" and raw.source_format == "json"
        receipts = list(session.execute(select(OutboundMessage).where(OutboundMessage.kind == "acknowledgement")).scalars())
        assert [m.recipient for m in receipts] == ["rita@reporter.example"]
        assert tracking in receipts[0].body_text and "acme" not in receipts[0].body_text
    submit(client, {**SPAM, "explanation": "a second mail"})  # one receipt per address per interval
    with ctx.transaction() as session:
        assert session.execute(select(func.count()).select_from(OutboundMessage)).scalar_one() == 1


def test_missing_fields_give_clear_messages_and_keep_the_input(ctx: Context, client: TestClient) -> None:
    response = submit(client, {"category": "content.phishing", "urls": "not a url at all!", "explanation": "<b>steals</b>"})
    assert response.status_code == 422
    text = response.text
    assert "Please give your name" in text and "e-mail address" in text
    assert "Not an address, domain or URL" in text
    assert "Please confirm that the notice is accurate" in text
    assert "&lt;b&gt;steals&lt;/b&gt;" in text  # the typed text comes back, escaped
    with ctx.transaction() as session:
        assert session.execute(select(RawInput)).first() is None  # nothing stored until valid


def test_csam_does_not_require_name_or_email(ctx: Context, client: TestClient) -> None:
    load_inventory(ctx)
    page = client.get("/report?category=content.csam").text
    assert "optional" in page and "Do not send us images" in page
    response = submit(client, {"category": "content.csam", "urls": "http://192.0.2.50/a", "explanation": "abuse material", "good_faith": "1"})
    assert response.status_code == 303, response.text
    with ctx.transaction() as session:
        report = session.execute(select(Report)).scalar_one()
        assert report.reporter_email is None and report.category == "content.csam"


def test_copyright_needs_the_dmca_elements(ctx: Context, client: TestClient) -> None:
    base = {"category": "content.infringing", "urls": "https://shop.example/movie.mp4", "explanation": "my film", "name": "Studio", "email": "legal@studio.example", "good_faith": "1"}
    response = submit(client, base)
    assert response.status_code == 422
    for message in ("identify the copyrighted work", "postal address", "telephone", "sign by typing", "512(c)(3)(A)(v)", "penalty of perjury"):
        assert message in response.text, message
    load_inventory(ctx)
    full = {**base, "work": "Film X (2026)", "address": "1 Road", "phone": "+1 555", "signature": "Sam Studio", "dmca_good_faith": "1", "dmca_perjury": "1"}
    assert submit(client, full).status_code == 303
    with ctx.transaction() as session:
        report = session.execute(select(Report)).scalar_one()
        assert report.fields["dmca"]["perjury_statement"] is True and report.fields["dmca"]["work"] == "Film X (2026)"


def test_network_abuse_needs_addresses_logs_and_time(ctx: Context, client: TestClient) -> None:
    response = submit(client, {"category": "security.bruteforce", "explanation": "ssh guessing", "name": "N", "email": "n@x.example", "good_faith": "1"})
    assert response.status_code == 422
    assert "IP address(es) in our network" in response.text and "log lines" in response.text and "when it happened" in response.text
    load_inventory(ctx)
    ok = submit(client, {"category": "security.bruteforce", "source_ips": "192.0.2.77", "logs": "sshd: Failed password from 192.0.2.77 port 4242", "occurred_at": "2026-11-20 10:00", "ports": "22/tcp", "explanation": "ssh guessing", "name": "N", "email": "n@x.example", "good_faith": "1"})
    assert ok.status_code == 303, ok.text


def test_rate_limit_per_client_address(ctx: Context, make_settings: Any) -> None:
    from abusedesk.web.app import create_app

    limited = Context.create(make_settings(report_rate_limit=2))
    try:
        from abusedesk.migrate import upgrade

        upgrade(limited.engine)
        with TestClient(create_app(limited, background=False)) as client:
            codes = [submit(client, {**SPAM, "explanation": f"mail {i}"}).status_code for i in range(3)]
    finally:
        limited.close()
    assert codes == [303, 303, 429]


def test_status_page_does_not_serve_api_reports(ctx: Context, client: TestClient) -> None:
    from abusedesk.reports.flows import ingest_bytes
    from tests.helpers import own_report

    api = ingest_bytes(ctx, own_report(), channel="api")
    assert client.get(f"/report/status/{api.reports[0].report_id}").status_code == 404
    assert client.get("/report/status/nope").status_code == 404


def test_form_works_without_javascript(client: TestClient) -> None:
    page = client.get("/report?category=email.spam").text
    form = re.search(r'<form method="post" action="/report"', page)
    assert form is not None and "hx-post" not in page
