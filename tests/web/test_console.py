"""The analyst console: queue filters, sorting and keyset paging, bulk changes, the case page,
the evidence viewer, the dashboard's numbers."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from abusedesk.audit.models import AuditEvent
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.reports.flows import ingest_bytes
from abusedesk.reports.models import Report
from abusedesk.timeutil import utcnow
from abusedesk.web.queue import SORT_NAMES, QueueQuery, queue_page
from abusedesk.web.stats import DURATION_BUCKETS, dashboard
from tests.web.conftest import World, login, post

SEVERITIES = ["info", "low", "medium", "high", "critical"]


def _many_cases(ctx: Context, n: int = 57) -> None:
    now = utcnow()
    rows = [
        {
            "account_id": f"acct{i % 5}", "category": ["email.spam", "security.scan", "content.phishing"][i % 3],
            "resource_key": f"ip:10.0.{i // 250}.{i % 250}", "status": ["new", "triaged", "closed"][i % 3],
            "severity": SEVERITIES[i % 5], "report_count": i % 7, "reporter_count": i % 4,
            "first_seen": now - timedelta(hours=i), "last_seen": now - timedelta(minutes=(i * 37) % 1000),
            "opened_at": now - timedelta(days=i % 40), "updated_at": now - timedelta(minutes=i),
            "closed_at": now if i % 3 == 2 else None, "assignee": None if i % 4 == 0 else f"user{i % 3}",
        }
        for i in range(n)
    ]
    with ctx.transaction() as session:
        session.execute(insert(Case), rows)


def _walk(ctx: Context, q: QueueQuery) -> list[int]:
    seen: list[int] = []
    cursor = ""
    with ctx.transaction() as session:
        while True:
            page = queue_page(session, _with(q, cursor))
            seen.extend(c.id for c in page.rows)
            if page.next_cursor is None:
                return seen
            cursor = page.next_cursor


def _with(q: QueueQuery, cursor: str) -> QueueQuery:
    from dataclasses import replace

    return replace(q, cursor=cursor, limit=10)


def test_keyset_paging_visits_every_case_once_in_order_for_every_sort(ctx: Context) -> None:
    _many_cases(ctx)
    with ctx.transaction() as session:
        cases = list(session.execute(select(Case)).scalars())
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    key = {
        "id": lambda c: (c.id,), "opened_at": lambda c: (c.opened_at, c.id), "updated_at": lambda c: (c.updated_at, c.id),
        "last_seen": lambda c: (c.last_seen, c.id), "first_seen": lambda c: (c.first_seen, c.id),
        "report_count": lambda c: (c.report_count, c.id), "reporter_count": lambda c: (c.reporter_count, c.id),
        "category": lambda c: (c.category, c.id), "account": lambda c: (c.account_id, c.id), "resource": lambda c: (c.resource_key, c.id),
        "status": lambda c: (c.status, c.id), "severity": lambda c: (rank[c.severity], c.id), "assignee": lambda c: (c.assignee or "", c.id),
    }
    assert set(key) == set(SORT_NAMES)
    for sort in SORT_NAMES:
        for desc in (True, False):
            got = _walk(ctx, QueueQuery(sort=sort, desc=desc))
            expected = [c.id for c in sorted(cases, key=key[sort], reverse=desc)]
            assert got == expected, (sort, desc)


def test_filters(ctx: Context) -> None:
    _many_cases(ctx)
    with ctx.transaction() as session:
        def ids(**kw: object) -> set[int]:
            return {c.id for c in queue_page(session, QueueQuery(limit=500, **kw)).rows}  # type: ignore[arg-type]

        every = list(session.execute(select(Case)).scalars())
        now = utcnow()
        assert ids(status="closed") == {c.id for c in every if c.status == "closed"}
        assert ids(status="open") == {c.id for c in every if c.status != "closed"}
        assert ids(category="security.scan", account="acct1") == {c.id for c in every if c.category == "security.scan" and c.account_id == "acct1"}
        assert ids(severity="critical") == {c.id for c in every if c.severity == "critical"}
        assert ids(assignee="-") == {c.id for c in every if c.assignee is None}
        assert ids(assignee="user1") == {c.id for c in every if c.assignee == "user1"}
        assert ids(min_age_days=10, max_age_days=20) == {c.id for c in every if timedelta(days=10) <= now - c.opened_at < timedelta(days=20)}
        assert ids(hidden_categories=frozenset({"email.spam"})) == {c.id for c in every if c.category != "email.spam"}


def test_queue_page_filters_sorts_and_pages_over_http(ctx: Context, world: World, client: TestClient) -> None:
    _many_cases(ctx)
    login(client, "analyst")
    page = client.get("/console?status=&category=security.scan&sort=report_count&dir=asc").text
    refs = re.findall(r"/console/cases/(AD-\d{4}-\d{6})", page)
    assert refs and all("security.scan" in page for _ in refs)
    assert 'Next page' not in page or "cursor=" in page
    first = client.get("/console?status=&limit=10").text
    next_link = re.search(r'class="next" href="([^"]+)"', first)
    assert next_link is not None
    second = client.get(next_link.group(1).replace("&amp;", "&")).text
    linked = r"/console/cases/(AD-\d{4}-\d{6})"
    assert re.findall(linked, second) and set(re.findall(linked, first)).isdisjoint(re.findall(linked, second))
    # htmx asks only for the rows
    rows = client.get("/console?status=open", headers={"HX-Request": "true", "HX-Target": "queue-rows"}).text
    assert rows.lstrip().startswith("<table") and "<html" not in rows
    # CSAM cases never appear for an analyst
    assert str(world.acme_csam_case).zfill(6) not in client.get("/console?status=").text


def test_bulk_assign_state_and_close(ctx: Context, world: World, client: TestClient) -> None:
    login(client, "analyst")
    ids = [str(world.acme_case), str(world.shop_case), str(world.acme_csam_case)]
    assert post(client, "/console/bulk", {"case": ids, "op": "assign", "assignee": "alice"}).status_code == 303  # type: ignore[attr-defined]
    assert post(client, "/console/bulk", {"case": ids, "op": "state", "target": "triaged"}).status_code == 303  # type: ignore[attr-defined]
    response = post(client, "/console/bulk", {"case": ids, "op": "state", "target": "new"})
    assert "refused" in response.headers["location"]  # type: ignore[attr-defined]
    assert post(client, "/console/bulk", {"case": ids, "op": "close", "reason": "dupes"}).status_code == 303  # type: ignore[attr-defined]
    with ctx.transaction() as session:
        acme, shop, csam = (session.get(Case, int(i)) for i in ids)
        assert acme and shop and csam
        assert acme.status == shop.status == "closed" and acme.assignee == shop.assignee == "alice"
        assert csam.status == "new" and csam.assignee is None  # restricted: the analyst cannot touch it
        transitions = session.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.transition", AuditEvent.actor == "user:analyst")).scalar_one()
        # triaged for two cases, then resolved and closed for each: closing goes through
        # enforcement, which resolves first and tells the reporters the outcome
        assert transitions == 6


def test_case_page_shows_attribution_timeline_and_notes(ctx: Context, world: World, client: TestClient) -> None:
    login(client, "analyst")
    assert post(client, f"/console/cases/{world.acme_case}/notes", {"body": "called the customer"}).status_code == 303  # type: ignore[attr-defined]
    page = client.get(f"/console/cases/{world.acme_case}").text
    assert "called the customer" in page
    assert "acme via cidr" in page and "192.0.2.0/24" in page and "inventory row" in page
    assert "case.opened" in page  # the audit trail is part of the timeline


def _hostile_mail() -> bytes:
    message = EmailMessage()
    message["From"] = '"<script>alert(1)</script>" <evil@attacker.example>'
    message["To"] = "abuse@abusedesk.test"
    message["Subject"] = "<img src=x onerror=alert(2)> spam from 192.0.2.10"
    message.set_content("Spam from 192.0.2.10 <script>alert(3)</script> see javascript:alert(4)")
    message.add_alternative('<html><body><p onclick="alert(5)">hi</p><script>alert(6)</script><img src="http://tracker.example/p.gif"><a href="javascript:alert(7)">x</a></body></html>', subtype="html")
    message.add_attachment(b"<html><script>alert(8)</script></html>", maintype="text", subtype="html", filename='"><svg onload=alert(9)>.html')
    return bytes(message)


def test_evidence_viewer_keeps_hostile_mail_inert(ctx: Context, world: World, client: TestClient) -> None:
    result = ingest_bytes(ctx, _hostile_mail(), channel="smtp")
    login(client, "analyst")
    page = client.get(f"/console/raw/{result.raw_id}")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    frame = re.search(r'<iframe class="mailhtml" sandbox="" [^>]*srcdoc="([^"]*)"', html)
    assert frame is not None
    srcdoc = frame.group(1)
    assert "onclick" not in srcdoc and "script" not in srcdoc and "tracker.example" not in srcdoc and "javascript:" not in srcdoc
    assert "Content-Security-Policy" in page.headers and "script-src 'self'" in page.headers["Content-Security-Policy"]
    numbers = re.findall(r"/console/raw/\d+/parts/(\d+)", html)
    download = client.get(f"/console/raw/{result.raw_id}/parts/{numbers[-1]}")  # the attachment
    assert download.status_code == 200 and download.content == b"<html><script>alert(8)</script></html>"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "<" not in download.headers["content-disposition"] and download.headers["x-content-type-options"] == "nosniff"


def test_dashboard_numbers_match_the_database(ctx: Context, world: World, client: TestClient) -> None:
    _many_cases(ctx)
    for i in range(5):
        ingest_bytes(ctx, f'{{"category": "security.scan", "source": "192.0.2.{100 + i}"}}'.encode(), channel="api")
    with ctx.transaction() as session:
        figures = dashboard(session, days=30, hidden=frozenset({"content.csam"}))
        since = figures["since"]
        reports_db = dict(session.execute(select(Report.category, func.count()).where(Report.received_at >= since, Report.category != "content.csam").group_by(Report.category)).all())
        cases_db = dict(session.execute(select(Case.category, func.count()).where(Case.opened_at >= since, Case.category != "content.csam").group_by(Case.category)).all())
        open_db = session.execute(select(func.count()).select_from(Case).where(Case.status != "closed", Case.category != "content.csam")).scalar_one()
        closed_db = session.execute(select(func.count()).select_from(Case).where(Case.closed_at.isnot(None), Case.opened_at >= since, Case.category != "content.csam")).scalar_one()
        top_db = session.execute(select(Report.account_id, func.count()).where(Report.account_id.isnot(None), Report.category != "content.csam").group_by(Report.account_id).order_by(func.count().desc(), Report.account_id)).all()
    assert dict(figures["reports_by_category"]) == reports_db
    assert dict(figures["cases_by_category"]) == cases_db
    assert sum(n for _, n in figures["open_by_age"]) == open_db
    assert sum(n for _, n in figures["resolution"]) == closed_db
    assert figures["top_accounts"] == [(a, n) for a, n in top_db][:10]
    assert [label for label, _ in figures["first_action"]] == [label for label, _ in DURATION_BUCKETS]
    login(client, "analyst")
    page = client.get("/console/dashboard").text
    assert page.count("<svg class=\"chart\"") == 6
    table = re.search(r'<table class="figures" id="reports-by-category">(.*?)</table>', page, re.S)
    assert table is not None
    shown = dict(re.findall(r"<td>([^<]+)</td><td class=\"num\">(\d+)</td>", table.group(1)))
    assert {k: int(v) for k, v in shown.items()} == reports_db


def test_actions_propose_approve_apply_revert_through_enforcement(ctx: Context, world: World, client: TestClient) -> None:
    from abusedesk.enforcement.models import EnforcementAction

    with TestClient(client.app) as admin:  # one person proposes, another approves
        login(admin, "admin")
        response = post(admin, f"/console/cases/{world.acme_case}/actions", {"kind": "block_ip", "reason": "spam source"})
    login(client, "analyst")
    assert "action+proposed" in response.headers["location"], response.headers["location"]  # type: ignore[attr-defined]
    with ctx.transaction() as session:
        action = session.execute(select(EnforcementAction).where(EnforcementAction.case_id == world.acme_case)).scalar_one()
        assert action.state == "proposed" and action.target == "192.0.2.10"
    page = client.get(f"/console/cases/{world.acme_case}").text
    assert f"/actions/{action.id}/approve" in page
    for verb, state in (("approve", "approved"), ("apply", "applied"), ("revert", "reverted")):
        location = post(client, f"/console/cases/{world.acme_case}/actions/{action.id}/{verb}").headers["location"]  # type: ignore[attr-defined]
        assert "refused" not in location, location
        if verb == "revert":  # the restore action is approved at once; apply it as the worker would
            with ctx.transaction() as session:
                restore = session.execute(select(EnforcementAction).where(EnforcementAction.reverses_id == action.id)).scalar_one()
            post(client, f"/console/cases/{world.acme_case}/actions/{restore.id}/apply")
        with ctx.transaction() as session:
            current = session.get(EnforcementAction, action.id)
            assert current is not None and current.state == state, (verb, current.state if current else None)
    # an auditor sees the actions but has no buttons and cannot post
    with TestClient(client.app) as auditor:
        login(auditor, "auditor")
        assert f"/actions/{action.id}/" not in auditor.get(f"/console/cases/{world.acme_case}").text
        assert post(auditor, f"/console/cases/{world.acme_case}/actions/{action.id}/approve").status_code == 403  # type: ignore[attr-defined]


def test_a_reversed_appeal_lifts_the_restriction(ctx: Context, world: World, client: TestClient) -> None:
    from abusedesk.enforcement.models import EnforcementAction
    from abusedesk.web.models import Appeal

    login(client, "legal")
    post(client, f"/console/cases/{world.acme_case}/actions", {"kind": "block_ip", "reason": "spam source", "approve_now": "1"})
    with ctx.transaction() as session:
        action = session.execute(select(EnforcementAction).where(EnforcementAction.case_id == world.acme_case)).scalar_one()
        assert action.state == "approved"
    post(client, f"/console/cases/{world.acme_case}/actions/{action.id}/apply")
    with ctx.transaction() as session:
        appeal = Appeal(case_id=world.acme_case, account_id="acme", decision_ref="case:1", grounds="mistake", status="open")
        session.add(appeal)
        session.flush()
        appeal_id = appeal.id
    location = post(client, f"/console/cases/{world.acme_case}/appeals/{appeal_id}", {"outcome_status": "reversed", "outcome": "our mistake"}).headers["location"]  # type: ignore[attr-defined]
    assert "being+lifted" in location, location
    with ctx.transaction() as session:
        restore = session.execute(select(EnforcementAction).where(EnforcementAction.reverses_id == action.id)).scalar_one()
        assert restore.kind == "restore" and restore.state == "approved"
    assert client.get("/console/legal").status_code == 200


def test_legal_page_lists_restricted_cases_once(ctx: Context, world: World, client: TestClient) -> None:
    login(client, "legal")
    page = client.get("/console/legal")
    assert page.status_code == 200
    ref = f"{world.acme_csam_case:06d}"
    assert ref in page.text  # the CSAM case is the legal role's to see
    for heading in ("Restricted cases", "Mandated reports", "Legal holds", "Law-enforcement requests"):
        assert page.text.count(f"<h2>{heading}") == 1, heading
    assert len(page.content) < 50_000
