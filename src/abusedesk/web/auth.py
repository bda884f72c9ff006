"""Who may do what in the console and the portal, and the login itself.

Permissions are named capabilities granted to roles in one table (:data:`GRANTS`); a
route asks for a capability, never for a role, so the role × route matrix test reads
straight off this table. A refusal is a bare 403 (wrong role) or 404 (an object the user
may not know exists, e.g. a case restricted to the legal role); neither carries data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from abusedesk.audit.service import record
from abusedesk.users.models import User
from abusedesk.users.service import check_password
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.pages import render
from abusedesk.web.security import RateLimiter, client_address, csrf_form, get_session


class Role(StrEnum):
    ADMIN = "admin"
    ANALYST = "analyst"
    LEGAL = "legal"
    AUDITOR = "auditor"
    CUSTOMER = "customer"


class Can(StrEnum):
    READ_CASES = "read_cases"
    WORK_CASES = "work_cases"  # assign, change state, notes, reply to customers
    APPROVE_ACTIONS = "approve_actions"
    SEE_RESTRICTED = "see_restricted"  # categories the policy restricts to legal (CSAM)
    READ_ACCOUNTS = "read_accounts"
    QUARANTINE = "quarantine"
    READ_AUDIT = "read_audit"
    LEGAL = "legal"
    DECIDE_APPEALS = "decide_appeals"
    ADMIN_USERS = "admin_users"
    DASHBOARD = "dashboard"


R = Role
GRANTS: dict[Can, frozenset[Role]] = {
    Can.READ_CASES: frozenset({R.ADMIN, R.ANALYST, R.LEGAL, R.AUDITOR}),
    Can.WORK_CASES: frozenset({R.ADMIN, R.ANALYST, R.LEGAL}),
    Can.APPROVE_ACTIONS: frozenset({R.ADMIN, R.ANALYST, R.LEGAL}),
    Can.SEE_RESTRICTED: frozenset({R.LEGAL}),
    Can.READ_ACCOUNTS: frozenset({R.ADMIN, R.ANALYST, R.LEGAL, R.AUDITOR}),
    Can.QUARANTINE: frozenset({R.ADMIN, R.ANALYST}),
    Can.READ_AUDIT: frozenset({R.ADMIN, R.AUDITOR}),
    Can.LEGAL: frozenset({R.ADMIN, R.LEGAL}),
    Can.DECIDE_APPEALS: frozenset({R.ADMIN, R.LEGAL}),
    Can.ADMIN_USERS: frozenset({R.ADMIN}),
    Can.DASHBOARD: frozenset({R.ADMIN, R.ANALYST, R.LEGAL, R.AUDITOR}),
}


def allowed(user: Viewer | None, capability: Can) -> bool:
    return user is not None and user.role in GRANTS[capability]


@dataclass(frozen=True, slots=True)
class Viewer:
    id: int
    username: str
    role: str
    account_id: str | None


class LoginRequired(Exception):  # noqa: N818 - a signal, not an error
    """Raised for anonymous requests to signed-in pages; answered with a redirect to /login."""


def current_user(request: Request, ctx: AppContext) -> Viewer | None:
    """The signed-in user, if the session names one that is still enabled and current.

    Looked up in its own short transaction and returned as a plain snapshot, so a view can
    run flows that open their own transactions (SQLite allows one writer at a time).
    """
    data = get_session(request)
    uid, version = data.get("uid"), data.get("ver")
    if not isinstance(uid, int):
        return None
    with ctx.transaction() as session:
        user = session.get(User, uid)
        viewer = Viewer(user.id, user.username, user.role, user.account_id) if user is not None else None
        valid = user is not None and user.disabled_at is None and user.session_version == version
    if viewer is None or not valid:
        data.drop("uid", "ver")
        return None
    request.state.user = viewer
    return viewer


CurrentUser = Annotated[Viewer | None, Depends(current_user)]


def require(capability: Can) -> object:
    """Dependency factory: the user, or 303 to login (anonymous) / 403 (wrong role)."""

    def dependency(user: CurrentUser) -> Viewer:
        if user is None:
            raise LoginRequired
        if user.role not in GRANTS[capability]:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role does not allow this")
        return user

    return Depends(dependency)


def actor_of(user: Viewer | User) -> str:
    return f"user:{user.username}"


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=status.HTTP_303_SEE_OTHER)


def _safe_next(value: object, fallback: str) -> str:
    """Only same-site paths: ``//evil.example`` and ``https://...`` are open redirects."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return fallback


def home_for(user: Viewer | User) -> str:
    return "/portal" if user.role == Role.CUSTOMER else "/console"


def start_session(request: Request, user: User) -> None:
    data = get_session(request)
    data.rotate()
    data.set("uid", user.id)
    data.set("ver", user.session_version)


router = APIRouter(include_in_schema=False)


def _login_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.login_limiter
    return limiter


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: AppContext, next: str = "") -> HTMLResponse:
    return render(request, "login.html", {"next": _safe_next(next, ""), "error": None, "oidc": bool(ctx.settings.oidc_issuer)})


@router.post("/login", response_model=None)
def login_submit(request: Request, ctx: AppContext, session: DbSession, form: Annotated[FormData, Depends(csrf_form)]) -> Response:
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    limiter = _login_limiter(request)
    address = client_address(request)
    user = None if limiter.blocked(address) else check_password(session, username, password)
    if user is None:
        limiter.hit(address)  # only failures count: people who know their password are never slowed
        record(session, actor=f"web:{address}", action="user.login_failed", object_type="user", object_id=username[:128], data={})
        context = {"next": _safe_next(form.get("next"), ""), "error": "Wrong username or password, or the account is disabled.", "oidc": bool(ctx.settings.oidc_issuer)}
        return render(request, "login.html", context, status_code=401)
    start_session(request, user)
    record(session, actor=actor_of(user), action="user.login", object_type="user", object_id=user.id, data={"method": "password"})
    return RedirectResponse(_safe_next(form.get("next"), home_for(user)), status_code=status.HTTP_303_SEE_OTHER)


@router.post("/logout", response_model=None)
def logout(request: Request, _form: Annotated[FormData, Depends(csrf_form)]) -> Response:
    get_session(request).rotate()
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
