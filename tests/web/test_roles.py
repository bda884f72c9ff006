"""The role × route matrix: every HTML route, every role, allowed or refused, and refusals
carry no data. A new route that is not in the matrix fails ``test_every_route_is_in_the_matrix``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from abusedesk.context import Context
from abusedesk.reports.flows import ingest_bytes
from abusedesk.users.links import portal_token
from abusedesk.web.app import create_app
from abusedesk.web.models import Appeal
from tests.web.conftest import World, csrf_of, login

STAFF = {"admin", "analyst", "legal", "auditor"}
WORKERS = {"admin", "analyst", "legal"}
CUSTOMER = {"acme-user", "acme-link"}
EVERYONE = {"anonymous", *STAFF, "acme-user", "acme-link", "shop-user"}
ROLES = sorted(EVERYONE)
#: strings that only appear in case data; a refusal must contain none of them
SECRETS = ("192.0.2.10", "192.0.2.11", "shop.example/login", "r@reporter.example")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template with {acme}, {csam}, {shop}, {raw}, {quarantined}, {appeal}, {token}
    allowed: frozenset[str]
    data: tuple[tuple[str, str], ...] = ()
    #: who gets 404 instead of 403 (an object they may not know about)
    hidden_from: frozenset[str] = frozenset()


def r(method: str, path: str, allowed: set[str], data: dict[str, str] | None = None, hidden_from: set[str] | None = None) -> Route:
    return Route(method, path, frozenset(allowed), tuple((data or {}).items()), frozenset(hidden_from or ()))


MATRIX: list[Route] = [
    r("GET", "/console", STAFF),
    r("GET", "/console/go?q={acme}", STAFF),
    r("GET", "/console/dashboard", STAFF),
    r("GET", "/console/cases/{acme}", STAFF),
    r("GET", "/console/cases/{csam}", {"legal"}, hidden_from=STAFF - {"legal"}),
    r("GET", "/console/raw/{raw}", STAFF),
    r("GET", "/console/raw/{raw}/download", STAFF),
    r("GET", "/console/raw/{raw}/parts/0", set(), hidden_from=STAFF),  # a JSON input has no MIME parts
    r("GET", "/console/accounts/acme", STAFF),
    r("GET", "/console/messages/999/evidence", set(), hidden_from=STAFF),
    r("GET", "/console/quarantine", {"admin", "analyst"}),
    r("GET", "/console/audit", {"admin", "auditor"}),
    r("GET", "/console/legal", {"admin", "legal"}),
    r("GET", "/console/users", {"admin"}),
    r("GET", "/portal", CUSTOMER | {"shop-user"}),
    r("GET", "/portal/cases/{acme}", CUSTOMER, hidden_from={"shop-user"}),
    r("GET", "/portal/cases/{csam}", set(), hidden_from=CUSTOMER | {"shop-user"}),
    r("GET", "/report", EVERYONE),
    r("GET", "/report/status/{tracking}", EVERYONE),
    r("GET", "/login", EVERYONE),
    r("GET", "/", EVERYONE),
    r("GET", "/portal/l/{token}", EVERYONE),
    # state changes (POST, with a valid CSRF token)
    r("POST", "/console/bulk", WORKERS, {"case": "{acme}", "op": "assign", "assignee": "x"}),
    r("POST", "/console/cases/{acme}/notes", WORKERS, {"body": "n"}),
    r("POST", "/console/cases/{csam}/notes", {"legal"}, {"body": "n"}, hidden_from={"admin", "analyst"}),
    r("POST", "/console/cases/{acme}/state", WORKERS, {"target": "triaged"}),
    r("POST", "/console/cases/{acme}/assign", WORKERS, {"assignee": "me"}),
    r("POST", "/console/cases/{acme}/messages", WORKERS, {"body": "hello"}),
    r("POST", "/console/cases/{acme}/actions", WORKERS, {"kind": "block_ip", "reason": "r"}),
    r("POST", "/console/cases/{acme}/actions/999/approve", WORKERS),
    r("POST", "/console/cases/{acme}/appeals/{appeal}", {"admin", "legal"}, {"outcome_status": "upheld", "outcome": "ok"}),
    r("POST", "/console/quarantine/{quarantined}/retry", {"admin", "analyst"}),
    r("POST", "/console/tokens/{api_token}/revoke", {"admin"}),
    r("POST", "/portal/cases/{acme}/reply", CUSTOMER, {"body": "fixed"}, hidden_from={"shop-user"}),
    r("POST", "/portal/cases/{acme}/remediated", CUSTOMER, {"description": "patched"}, hidden_from={"shop-user"}),
    r("POST", "/portal/cases/{acme}/appeal", CUSTOMER, {"grounds": "wrong"}, hidden_from={"shop-user"}),
    r("POST", "/portal/cases/{acme}/counter-notice", set(), {"signature": "x"}, hidden_from=CUSTOMER | {"shop-user"}),  # not a copyright case
    r("POST", "/report", EVERYONE, {"category": "email.spam"}),
    r("POST", "/login", EVERYONE, {"username": "nobody", "password": "wrong-password"}),
    r("POST", "/logout", EVERYONE),
]
#: routes whose "allowed" answer is not 2xx/3xx by design (a refused login, a form with errors)
ALLOWED_STATUS = {("POST", "/login"): {401}, ("POST", "/report"): {422}, ("POST", "/portal/cases/{acme}/appeal"): {303, 422}}


def _fill(path: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return path


def _setup(ctx: Context, world: World) -> dict[str, str]:
    raw = ingest_bytes(ctx, b"\x00 not a report", channel="api")
    assert raw.quarantined
    with ctx.transaction() as session:
        appeal = Appeal(case_id=world.acme_case, account_id="acme", decision_ref="case:x", grounds="g", status="open")
        session.add(appeal)
        session.flush()
        appeal_id = appeal.id
        from abusedesk.reports.models import Report

        first = session.query(Report).filter(Report.case_id == world.acme_case).one()
        raw_id = first.raw_id
    web = ingest_bytes(ctx, b'{"category": "email.spam", "source": "192.0.2.12"}', channel="web", format="json")
    with ctx.transaction() as session:
        from abusedesk.users.service import create_token

        api_token_id = create_token(session, name="matrix", actor="test")[1].id
    return {
        "acme": str(world.acme_case), "csam": str(world.acme_csam_case), "shop": str(world.shop_case),
        "raw": str(raw_id), "quarantined": str(raw.raw_id), "appeal": str(appeal_id),
        "token": portal_token(ctx, "acme", world.acme_case), "tracking": web.reports[0].report_id, "api_token": str(api_token_id),
    }


def _become(client: TestClient, ctx: Context, role: str, values: dict[str, str]) -> None:
    if role == "anonymous":
        return
    if role == "acme-link":
        assert client.get(f"/portal/l/{values['token']}", follow_redirects=False).status_code == 303
        return
    login(client, role)


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(ctx: Context, world: World, role: str) -> None:
    values = _setup(ctx, world)
    failures: list[str] = []
    with TestClient(create_app(ctx, background=False)) as client:
        _become(client, ctx, role, values)
        responses = []
        for route in MATRIX:
            path = _fill(route.path, values)
            if route.method == "GET":
                responses.append((route, client.get(path, follow_redirects=False)))
            else:
                data = {k: _fill(v, values) for k, v in route.data}
                data["csrf"] = csrf_of(client, "/login")
                responses.append((route, client.post(path, data=data, follow_redirects=False)))
            if route.path in ("/logout", "/portal/l/{token}"):  # these end or replace the session
                client.cookies.clear()
                _become(client, ctx, role, values)
    for route, response in responses:
        code = response.status_code
        where = f"{role} {route.method} {route.path} → {code}"
        if role in route.allowed:
            ok = ALLOWED_STATUS.get((route.method, route.path), set()) | {200, 303}
            if code not in ok or (code == 303 and response.headers["location"].startswith("/login?")):
                failures.append(f"{where}: expected allowed")
            continue
        # not signed in (a portal link is no console login): sent to the login page
        signed_out = role == "anonymous" or (role == "acme-link" and route.path.startswith("/console"))
        if signed_out and route.path.startswith(("/console", "/portal")) and not route.path.startswith("/portal/l/"):
            if code != 303 or not response.headers["location"].startswith("/login?next="):
                failures.append(f"{where}: expected a redirect to /login")
            continue
        expected = 404 if role in route.hidden_from else 403
        if code != expected:
            failures.append(f"{where}: expected {expected}")
        leaked = [s for s in SECRETS if s in response.text]
        if leaked:
            failures.append(f"{where}: refusal shows {leaked}")
    assert not failures, "\n".join(failures)


def test_every_route_is_in_the_matrix(ctx: Context) -> None:
    app = create_app(ctx, background=False)
    covered = {(m.method, m.path.split("?")[0]) for m in MATRIX}
    covered_templates = {(method, path.replace("{acme}", "{ref}").replace("{csam}", "{ref}")) for method, path in covered}
    missing = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path.startswith("/api/") or route.path in ("/healthz", "/metrics", "/login/oidc", "/login/oidc/callback"):
            continue
        for method in route.methods:
            template = route.path
            normalized = (template.replace("{action_id}", "999").replace("{verb}", "approve").replace("{appeal_id}", "{appeal}")
                          .replace("{raw_id}", "{raw}").replace("{index}", "0").replace("{account_id}", "acme").replace("{tracking_id}", "{tracking}").replace("{token_id}", "{api_token}").replace("{message_id}", "999"))
            if "quarantine/{raw}" in normalized:
                normalized = normalized.replace("{raw}", "{quarantined}")
            if (method, normalized) not in covered_templates and method != "HEAD":
                missing.append(f"{method} {template}")
    assert not missing, f"routes missing from the role matrix: {missing}"


def test_post_without_csrf_is_refused(ctx: Context, world: World, client: TestClient) -> None:
    login(client, "analyst")
    response = client.post(f"/console/cases/{world.acme_case}/notes", data={"body": "x"}, follow_redirects=False)
    assert response.status_code == 403
    response = client.post(f"/console/cases/{world.acme_case}/notes", data={"body": "x", "csrf": "forged"}, follow_redirects=False)
    assert response.status_code == 403


def test_disabled_user_loses_the_session(ctx: Context, world: World, client: TestClient) -> None:
    from abusedesk.users.service import disable_user

    login(client, "analyst")
    assert client.get("/console", follow_redirects=False).status_code == 200
    with ctx.transaction() as session:
        disable_user(session, "analyst", actor="test")
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_session_cookie_flags(ctx: Context, world: World, client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post("/login", data={"username": "analyst", "password": "correct horse battery", "csrf": token}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert response.headers["location"] == "/console"


def test_login_next_is_not_an_open_redirect(ctx: Context, world: World, client: TestClient) -> None:
    token = csrf_of(client)
    response = client.post("/login", data={"username": "analyst", "password": "correct horse battery", "csrf": token, "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/console"


def test_repeated_failed_logins_are_throttled_per_address(ctx: Context, world: World, client: TestClient) -> None:
    client.app.state.login_limiter.limit = 3  # type: ignore[attr-defined]
    for _ in range(3):
        token = csrf_of(client)
        assert client.post("/login", data={"username": "analyst", "password": "wrong password!", "csrf": token}).status_code == 401
    token = csrf_of(client)
    refused = client.post("/login", data={"username": "analyst", "password": "correct horse battery", "csrf": token}, follow_redirects=False)
    assert refused.status_code == 401  # even the right password waits until the window passes
