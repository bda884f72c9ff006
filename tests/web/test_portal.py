"""The customer portal: isolation between accounts, reporter anonymity, reply, remediation,
counter-notice and appeal."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select

from abusedesk.cases.models import Case
from abusedesk.cases.workflow import transition
from abusedesk.context import Context
from abusedesk.reports.flows import ingest_bytes
from abusedesk.timeutil import utcnow
from abusedesk.users.links import portal_link, portal_token
from abusedesk.web.models import Appeal, CaseMessage
from tests.helpers import own_report
from tests.web.conftest import World, login, post


def open_link(client: TestClient, ctx: Context, account: str, case_id: int) -> str:
    link = portal_link(ctx, account, case_id)
    assert link.startswith(ctx.settings.public_base_url)
    response = client.get(link.removeprefix(ctx.settings.public_base_url), follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_link_shows_only_the_accounts_own_cases(ctx: Context, world: World, client: TestClient) -> None:
    location = open_link(client, ctx, "acme", world.acme_case)
    page = client.get(location)
    assert page.status_code == 200 and "192.0.2.10" in page.text
    listing = client.get("/portal").text
    assert "192.0.2.10" in listing and "shop.example" not in listing
    assert "192.0.2.11" not in listing  # the CSAM case is never shown: no tip-off
    with ctx.transaction() as session:
        all_ids = list(session.execute(select(Case.id)).scalars())
    for case_id in [*all_ids, 0, 999_999]:  # guessing every id, and some that do not exist
        response = client.get(f"/portal/cases/{case_id}")
        expected = 200 if case_id == world.acme_case else 404
        assert response.status_code == expected, case_id
        if expected == 404:
            assert "shop.example" not in response.text and "192.0.2.11" not in response.text


def test_tampered_or_mismatched_or_expired_links_open_nothing(ctx: Context, world: World, client: TestClient) -> None:
    token = portal_token(ctx, "acme", world.acme_case)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/portal/l/{forged}", follow_redirects=False).status_code == 404
    # a validly signed link whose case belongs to another account
    assert client.get(f"/portal/l/{portal_token(ctx, 'acme', world.shop_case)}", follow_redirects=False).status_code == 404
    with time_machine.travel(utcnow() + timedelta(days=ctx.settings.portal_link_max_age_days + 1)):
        assert client.get(f"/portal/l/{token}", follow_redirects=False).status_code == 404
    assert client.get("/portal", follow_redirects=False).status_code == 303  # still no session
    # editing the session cookie does not switch accounts either
    open_link(client, ctx, "acme", world.acme_case)
    cookie = client.cookies.get("adk_session")
    assert cookie
    client.cookies.set("adk_session", cookie.replace("acme", "shop"))
    assert client.get(f"/portal/cases/{world.shop_case}", follow_redirects=False).status_code in (303, 404)


def test_customer_login_sees_own_account_only(ctx: Context, world: World, client: TestClient) -> None:
    login(client, "shop-user")
    assert client.get(f"/portal/cases/{world.shop_case}").status_code == 200
    assert client.get(f"/portal/cases/{world.acme_case}").status_code == 404
    assert client.get("/console", follow_redirects=False).status_code == 403


def test_reporter_identity_only_where_the_policy_says(ctx: Context, world: World, client: TestClient) -> None:
    assert not ctx.policy.category("email.spam").reporter_identity_in_notice
    assert ctx.policy.category("content.infringing").reporter_identity_in_notice
    copyright_case = ingest_bytes(ctx, own_report(category="content.infringing", source="http://192.0.2.20/film", reporter="studio@rights.example"), channel="api").reports[0].case_id
    assert copyright_case
    open_link(client, ctx, "acme", world.acme_case)
    assert "r@reporter.example" not in client.get(f"/portal/cases/{world.acme_case}").text
    assert "studio@rights.example" in client.get(f"/portal/cases/{copyright_case}").text


def test_reply_and_remediation_reach_the_console(ctx: Context, world: World, client: TestClient) -> None:
    open_link(client, ctx, "acme", world.acme_case)
    assert post(client, f"/portal/cases/{world.acme_case}/reply", {"body": "we are on it"}).status_code == 303  # type: ignore[attr-defined]
    token_page = client.get(f"/portal/cases/{world.acme_case}").text
    assert "we are on it" in token_page
    import re

    csrf = re.search(r'name="csrf" value="([^"]+)"', token_page).group(1)  # type: ignore[union-attr]
    response = client.post(
        f"/portal/cases/{world.acme_case}/remediated", data={"csrf": csrf, "description": "closed the relay"},
        files={"evidence": ("proof.txt", b"postfix config fixed", "text/plain")}, follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with ctx.transaction() as session:
        messages = list(session.execute(select(CaseMessage).order_by(CaseMessage.id)).scalars())
        assert [m.kind for m in messages] == ["reply", "remediated"]
        assert messages[1].evidence_filename == "proof.txt" and ctx.blobs.exists(messages[1].evidence_sha256 or "")
    with TestClient(client.app) as analyst:
        login(analyst, "analyst")
        page = analyst.get(f"/console/cases/{world.acme_case}").text
        assert "we are on it" in page and "closed the relay" in page
        download = analyst.get(f"/console/messages/{messages[1].id}/evidence")
        assert download.content == b"postfix config fixed" and download.headers["content-type"] == "application/octet-stream"
        assert download.headers["content-disposition"] == 'attachment; filename="proof.txt.bin"'
        assert analyst.get(f"/console/messages/{messages[0].id}/evidence").status_code == 404  # no file on a plain reply


def test_appeal_is_decided_by_a_person_and_shown(ctx: Context, world: World, client: TestClient) -> None:
    open_link(client, ctx, "acme", world.acme_case)
    assert "Appeal the decision" not in client.get(f"/portal/cases/{world.acme_case}").text  # nothing decided yet
    with ctx.transaction() as session:
        transition(session, session.get(Case, world.acme_case), "actioned", actor="user:analyst")  # type: ignore[arg-type]
    page = client.get(f"/portal/cases/{world.acme_case}").text
    assert "Appeal the decision" in page and "Free of charge" in page
    assert post(client, f"/portal/cases/{world.acme_case}/appeal", {"grounds": "the mail was transactional"}).status_code == 303  # type: ignore[attr-defined]
    assert post(client, f"/portal/cases/{world.acme_case}/appeal", {"grounds": "again"}).status_code == 422  # type: ignore[attr-defined]
    with ctx.transaction() as session:
        appeal = session.execute(select(Appeal)).scalar_one()
        assert appeal.status == "open" and appeal.account_id == "acme"
    with TestClient(client.app) as legal:
        login(legal, "analyst")
        assert post(legal, f"/console/cases/{world.acme_case}/appeals/{appeal.id}", {"outcome_status": "reversed", "outcome": "You are right."}).status_code == 403  # type: ignore[attr-defined]
    with TestClient(client.app) as legal:
        login(legal, "legal")
        assert post(legal, f"/console/cases/{world.acme_case}/appeals/{appeal.id}", {"outcome_status": "reversed", "outcome": "You are right."}).status_code == 303  # type: ignore[attr-defined]
    page = client.get(f"/portal/cases/{world.acme_case}").text
    assert "reversed" in page and "You are right." in page
    with ctx.transaction() as session:
        decided = session.get(Appeal, appeal.id)
        assert decided is not None and decided.decided_by == "user:legal" and decided.decided_at is not None


def test_appeal_window_is_six_months(ctx: Context, world: World, client: TestClient) -> None:
    with ctx.transaction() as session:
        transition(session, session.get(Case, world.acme_case), "actioned", actor="user:analyst")  # type: ignore[arg-type]
    with time_machine.travel(utcnow() + timedelta(days=190)):
        open_link(client, ctx, "acme", world.acme_case)  # a fresh link: the old one and the session expired
        assert "Appeal the decision" not in client.get(f"/portal/cases/{world.acme_case}").text
        assert post(client, f"/portal/cases/{world.acme_case}/appeal", {"grounds": "late"}).status_code == 422  # type: ignore[attr-defined]


def test_counter_notice_needs_every_512g3_element(ctx: Context, world: World, client: TestClient) -> None:
    case_id = ingest_bytes(ctx, own_report(category="content.infringing", source="http://192.0.2.21/x"), channel="api").reports[0].case_id
    assert case_id
    open_link(client, ctx, "acme", case_id)
    page = client.get(f"/portal/cases/{case_id}").text
    assert "512(g)(3)" in page and "penalty of perjury" in page
    incomplete = post(client, f"/portal/cases/{case_id}/counter-notice", {"signature": "A Customer"})
    assert incomplete.status_code == 422  # type: ignore[attr-defined]
    full = {"signature": "A Customer", "material": "film.mp4", "location": "http://192.0.2.21/x", "name": "A Customer", "address": "2 Street", "phone": "+49 1", "perjury": "1", "jurisdiction": "1", "service": "1"}
    assert post(client, f"/portal/cases/{case_id}/counter-notice", full).status_code == 303  # type: ignore[attr-defined]
    with ctx.transaction() as session:
        message = session.execute(select(CaseMessage).where(CaseMessage.case_id == case_id)).scalar_one()
        assert message.kind == "counter_notice" and "film.mp4" in message.body


def test_mail_correspondence_customer_sees_own_mail_only(ctx: Context, world: World, client: TestClient) -> None:
    from abusedesk.intake.models import Correspondence
    from abusedesk.intake.service import store_raw

    with ctx.transaction() as session:
        for party, text in (("customer", "customer mail: relay closed"), ("reporter", "reporter mail: still spamming, Rita")):
            raw = store_raw(session, ctx.blobs, text.encode(), channel="smtp").raw
            session.add(Correspondence(case_id=world.acme_case, raw_id=raw.id, party=party, matched_by="recipient", sender=f"{party}@x.example", subject=f"Re: {party}", body_text=text))
    open_link(client, ctx, "acme", world.acme_case)
    portal = client.get(f"/portal/cases/{world.acme_case}").text
    assert "customer mail: relay closed" in portal and "reporter mail" not in portal and "Rita" not in portal
    with TestClient(client.app) as analyst:
        login(analyst, "analyst")
        console = analyst.get(f"/console/cases/{world.acme_case}").text
        assert "customer mail: relay closed" in console and "reporter mail: still spamming" in console
