"""The ASGI application: API v1, OpenAPI, the home page and the background workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from abusedesk import __version__
from abusedesk.background import start_background, stop_background
from abusedesk.cases.service import CaseFilter, list_cases
from abusedesk.context import Context
from abusedesk.formats.jsonutil import pointer
from abusedesk.web.api import cases, inventory, reports

WEB_DIR = Path(__file__).parent


def templates() -> Jinja2Templates:
    """Autoescaping is on for every template; reported content is never marked safe."""
    return Jinja2Templates(directory=str(WEB_DIR / "templates"))


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


def _http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(status_code=exc.status_code, content={"message": exc.detail, "errors": []}, headers=getattr(exc, "headers", None))


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
    app.include_router(reports.router)
    app.include_router(cases.router)
    app.include_router(inventory.router)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    pages = templates()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> Any:
        with ctx.transaction() as session:
            open_cases = list_cases(session, CaseFilter(open_only=True), limit=100)
            rows = [{"ref": c.ref(ctx.settings.case_id_prefix), "case": c} for c in open_cases]
        return pages.TemplateResponse(request, "home.html", {"rows": rows, "version": __version__})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
