"""Sessions in signed cookies, CSRF tokens, rate limits and security headers.

The session is a small signed dict in one cookie (itsdangerous): no session table, so a
restart or a second server keeps people logged in. What a cookie cannot do by itself,
ending sessions early, is done by ``session_version`` on the user row, checked on every
request. Every session, anonymous ones included, carries a CSRF token, so the public
report form is protected the same way as the console.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request, status
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.responses import Response

SESSION_COOKIE = "adk_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

#: console and portal pages: no inline script, no remote anything, no framing
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


class SessionData(dict[str, Any]):
    """The decoded cookie; ``modified`` tells the middleware to write it back."""

    modified: bool = False

    def set(self, key: str, value: Any) -> None:
        self[key] = value
        self.modified = True

    def drop(self, *keys: str) -> None:
        for key in keys:
            if key in self:
                del self[key]
                self.modified = True

    def rotate(self) -> None:
        """On login and logout: a fresh CSRF token, so a token seen before login is useless after."""
        self.clear()
        self["csrf"] = secrets.token_urlsafe(32)
        self.modified = True


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="abusedesk-session")


def load_session(request: Request, secret: str, max_age: int) -> SessionData:
    raw = request.cookies.get(SESSION_COOKIE)
    data = SessionData()
    if raw:
        try:
            loaded = _serializer(secret).loads(raw, max_age=max_age)
            if isinstance(loaded, dict):
                data.update(loaded)
        except BadSignature:  # tampered or expired (SignatureExpired is a BadSignature)
            data.clear()
    if not isinstance(data.get("csrf"), str):
        data["csrf"] = secrets.token_urlsafe(32)
        data.modified = True
    return data


def save_session(response: Response, session: SessionData, *, secret: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, _serializer(secret).dumps(dict(session)), max_age=max_age,
        httponly=True, samesite="lax", secure=secure, path="/",
    )


def get_session(request: Request) -> SessionData:
    session: SessionData = request.state.session
    return session


def check_csrf(request: Request, form: FormData | None) -> None:
    """Refuse a state change whose token (form field or header) does not match the session's."""
    expected = get_session(request).get("csrf", "")
    given = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form is not None else None)
    if not isinstance(given, str) or not expected or not hmac.compare_digest(given, expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form expired or did not come from this site: reload the page and try again")


async def csrf_form(request: Request) -> FormData:
    """Dependency for every state-changing form: the parsed form, after the CSRF check."""
    form = await request.form(max_files=5, max_fields=2000)
    check_csrf(request, form)
    return form


class RateLimiter:
    """A sliding-window counter per key (client address), in memory.

    One process is the deployment unit of the web front; several processes each keep
    their own window, which at worst multiplies the limit by the process count.
    """

    def __init__(self, limit: int, window_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        return hits

    def allowed(self, key: str) -> bool:
        """Whether ``key`` may act now; counts the attempt if so."""
        with self._lock:
            now = self.clock()
            hits = self._trim(key, now)
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # bound memory under a flood of addresses
                self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < self.window}
            return True

    def blocked(self, key: str) -> bool:
        """Whether ``key`` is over the limit, without counting this look."""
        with self._lock:
            return len(self._trim(key, self.clock())) >= self.limit

    def hit(self, key: str) -> None:
        """Count one event (e.g. a failed login) against ``key``."""
        with self._lock:
            self._trim(key, self.clock()).append(self.clock())

    def retry_after(self, key: str) -> int:
        with self._lock:
            hits = self._trim(key, self.clock())
            return int(self.window - (self.clock() - hits[0])) + 1 if hits else 0

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_middleware(secret: str, max_age: int, secure: bool) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Loads the session for HTML routes, writes it back when changed, adds security headers."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        html_route = not path.startswith(("/api/", "/static/", "/docs", "/openapi.json", "/metrics", "/healthz"))
        if html_route:
            request.state.session = load_session(request, secret, max_age)
        response = await call_next(request)
        if html_route:
            session = request.state.session
            if session.modified:
                save_session(response, session, secret=secret, max_age=max_age, secure=secure)
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return middleware
