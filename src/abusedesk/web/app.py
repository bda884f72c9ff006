"""The ASGI application: API v1, OpenAPI, the console, the portal, the public form, workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from abusedesk import __version__
from abusedesk.background import start_background, stop_background
from abusedesk.context import Context
from abusedesk.formats.jsonutil import pointer
from abusedesk.web import console, console_pages, dashboard, oidc, portal, public
from abusedesk.web.api import cases, inventory, reports
from abusedesk.web.auth import CurrentUser, LoginRequired, home_for, login_redirect
from abusedesk.web.auth import router as auth_router
from abusedesk.web.pages import WEB_DIR, render
from abusedesk.web.security import RateLimiter, session_middleware


def _validation_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("body",)]
        where = loc[0] if loc and loc[0] in ("query", "path", "header") else None
        parts = loc[1:] if where else loc
        field = ".".join(str(p) for p in parts) or "body"
        problems.append({
            "path": (f"{where}:" if where else "") + pointer(*parts),
            "code": f"rule.{field}.{err.get('type', 'invalid')}",
            "message": str(err.get("msg", "invalid")),
        })
    return JSONResponse(status_code=422, content={"message": f"{len(problems)} problem(s) in the request", "errors": problems})


_TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 422: "Invalid input", 429: "Too many requests"}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/openapi.json", "/docs"))


def _http_error_handler(request: Request, exc: Exception) -> Response:
    """JSON for the API; a plain page for the console, portal and form. Neither carries data."""
    assert isinstance(exc, StarletteHTTPException)
    if _wants_html(request) and hasattr(request.state, "session"):
        title = _TITLES.get(exc.status_code, "Error")
        context = {"status_code": exc.status_code, "title": title, "message": exc.detail}
        return render(request, "error.html", context, status_code=exc.status_code, headers=getattr(exc, "headers", None))
    return JSONResponse(status_code=exc.status_code, content={"message": exc.detail, "errors": []}, headers=getattr(exc, "headers", None))


def _login_required_handler(request: Request, _exc: Exception) -> Response:
    return login_redirect(request)


def create_app(ctx: Context, *, background: bool | None = None) -> FastAPI:
    """``background`` starts the worker and listeners (default: ``settings.run_worker``)."""
    run_background = ctx.settings.run_worker if background is None else background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = start_background(ctx) if run_background else []
        try:
            yield
        finally:
            stop_background(running)

    app = FastAPI(
        title="abusedesk",
        version=__version__,
        description="Abuse reports in, decisions out: intake, attribution, cases and enforcement for a provider's acceptable use policy.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(LoginRequired, _login_required_handler)
    settings = ctx.settings
    app.middleware("http")(session_middleware(settings.secret_key, settings.session_max_age_seconds, settings.cookie_secure))
    app.state.login_limiter = RateLimiter(settings.login_rate_limit, 900)
    app.state.report_limiter = RateLimiter(settings.report_rate_limit, settings.report_rate_window_seconds)
    app.include_router(reports.router)
    app.include_router(cases.router)
    app.include_router(inventory.router)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")

    for web_router in (auth_router, oidc.router, console.router, console_pages.router, dashboard.router, public.router, portal.router):
        app.include_router(web_router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request, user: CurrentUser) -> Response:
        """A landing page: nothing about cases is shown before login."""
        if user is not None:
            return RedirectResponse(home_for(user), status_code=303)
        return render(request, "home.html")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
