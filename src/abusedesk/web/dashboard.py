"""The dashboard page: report and case volumes, response times, backlog, top accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from abusedesk.web.auth import Can, Viewer, require
from abusedesk.web.console import hidden_for
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.pages import render
from abusedesk.web.stats import dashboard

router = APIRouter(include_in_schema=False)


@router.get("/console/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request, ctx: AppContext, session: DbSession, user: Annotated[Viewer, require(Can.DASHBOARD)],
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> HTMLResponse:
    figures = dashboard(session, days=days, hidden=hidden_for(ctx, user))
    return render(request, "console/dashboard.html", figures)
