"""``/api/v1/cases``: filtered, keyset-paginated listing and one case with its reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from abusedesk.cases.models import Case
from abusedesk.cases.service import CaseFilter, get_case, list_cases
from abusedesk.cases.workflow import CaseStatus
from abusedesk.policy.taxonomy import Category
from abusedesk.reports.models import Report
from abusedesk.web.api.reports import report_out
from abusedesk.web.api.schemas import CaseDetailOut, CaseOut, CasePage, ErrorOut
from abusedesk.web.deps import AppContext, DbSession, ReadToken

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


def case_out(case: Case, prefix: str) -> CaseOut:
    return CaseOut(
        id=case.ref(prefix), number=case.id, account=case.account_id, category=case.category,
        resource=case.resource_key, status=case.status, severity=case.severity,
        report_count=case.report_count, reporter_count=case.reporter_count, first_seen=case.first_seen,
        last_seen=case.last_seen, opened_at=case.opened_at, updated_at=case.updated_at, closed_at=case.closed_at,
    )


@router.get("", response_model=CasePage)
def cases_index(
    session: DbSession,
    ctx: AppContext,
    _token: ReadToken,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    category: Category | None = None,
    account: Annotated[str | None, Query(max_length=128)] = None,
    state: Literal["open", "all"] = "all",
    cursor: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CasePage:
    filters = CaseFilter(status=status_.value if status_ else None, category=category.value if category else None, account=account, open_only=state == "open")
    rows = list_cases(session, filters, before_id=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return CasePage(items=[case_out(c, ctx.settings.case_id_prefix) for c in rows], next_cursor=str(rows[-1].id) if more and rows else None)


@router.get("/{case_id}", response_model=CaseDetailOut, responses={404: {"model": ErrorOut}})
def case_detail(case_id: str, session: DbSession, ctx: AppContext, _token: ReadToken) -> CaseDetailOut:
    case = get_case(session, case_id)
    if case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    reports = session.execute(select(Report).where(Report.case_id == case.id).order_by(Report.received_at, Report.id).limit(1000)).scalars()
    prefix = ctx.settings.case_id_prefix
    return CaseDetailOut(**case_out(case, prefix).model_dump(), reports=[report_out(r, case, prefix) for r in reports])
