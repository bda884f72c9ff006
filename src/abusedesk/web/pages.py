"""Rendering HTML: one Jinja2 environment with autoescaping, and the values every page needs.

Reported content (subjects, bodies, URLs, file names) is only ever interpolated as
escaped text; nothing in these templates uses ``|safe``. Sanitized HTML of a reported
mail is shown in a sandboxed ``iframe srcdoc``, which is also escaped text here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from abusedesk import __version__
from abusedesk.timeutil import as_utc

WEB_DIR = Path(__file__).parent


def _when(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


def _build_env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(WEB_DIR / "templates")), autoescape=True, undefined=StrictUndefined)
    env.filters["when"] = _when
    return env


ENV = _build_env()


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render with the session's CSRF token, the signed-in user and the version."""
    session = getattr(request.state, "session", None) or {}
    values: dict[str, Any] = {
        "request": request,
        "csrf_token": session.get("csrf", ""),
        "user": getattr(request.state, "user", None),
        "portal_account": getattr(request.state, "portal_account", None),
        "version": __version__,
        "htmx": request.headers.get("HX-Request") == "true",
    }
    values.update(context or {})
    html = ENV.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
