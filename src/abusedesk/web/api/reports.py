"""``/api/v1/reports``: machine intake (XARF v4/v3 and our JSON) and status polling."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from abusedesk.cases.models import Case, format_ref
from abusedesk.context import Context
from abusedesk.formats.base import ParsedReport, ParseError, Problem
from abusedesk.formats.jsonutil import load_object, looks_like_json_object
from abusedesk.formats.registry import parse_json_document
from abusedesk.intake.models import RawStatus
from abusedesk.intake.service import find_idempotency_key, remember_idempotency_key, store_raw
from abusedesk.jobs.handlers import ROUTE_REPORTS
from abusedesk.jobs.service import enqueue
from abusedesk.reports.flows import Routable, create_reports, insert_drafts
from abusedesk.reports.models import Report
from abusedesk.web.api.schemas import ErrorOut, ReportOut, SubmissionOut
from abusedesk.web.deps import AppContext, DbSession, ReadToken

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


class BodyTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (Content-Length or streamed)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _problem_response(message: str, problems: list[Problem]) -> JSONResponse:
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"message": message, "errors": [p.as_dict() for p in problems]},
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubmissionOut,
    responses={413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
    summary="Submit an abuse report (XARF v4, legacy XARF, or abusedesk JSON)",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object", "description": "an XARF v4 report, a legacy XARF v1-v3 report, or abusedesk JSON ({category, resources, ...} or {reports: [...]})"}}}}},
)
async def submit_report(
    request: Request,
    ctx: AppContext,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")] = None,
) -> Any:
    try:
        body = await read_limited(request, ctx.settings.max_body_bytes)
    except BodyTooLargeError as exc:
        return JSONResponse(status_code=413, content={"message": f"body larger than {exc.limit} bytes", "errors": [{"path": "", "code": "rule.body.too_large", "message": f"at most {exc.limit} bytes"}]})
    window = timedelta(hours=ctx.settings.idempotency_window_hours)
    if idempotency_key and (replay := _replay(ctx, idempotency_key, window)) is not None:
        return replay
    if not looks_like_json_object(body):
        return _problem_response("the body must be a JSON object", [Problem("", "rule.body.not_object", "send application/json: an XARF report or abusedesk JSON")])
    try:
        parsed = parse_json_document(load_object(body, source_format="api"))
        if not parsed:
            raise ParseError("no report in the body", [Problem("", "rule.body.empty", "no report found")])
    except ParseError as exc:
        return _problem_response(exc.headline, exc.problems or [Problem("", "rule.body.unreadable", str(exc))])
    try:
        return _accept(ctx, body, parsed, idempotency_key)
    except IntegrityError:
        # the same Idempotency-Key arrived twice at once: the other request won, answer as it did
        replay = _replay(ctx, idempotency_key, window) if idempotency_key else None
        if replay is None:
            raise
        return replay


def _replay(ctx: Context, key: str, window: timedelta) -> JSONResponse | None:
    """The answer given to the first submission with this key, if it is within the window."""
    with ctx.transaction() as session:
        earlier = find_idempotency_key(session, key, window=window)
        report = session.get(Report, earlier) if earlier is not None else None
        if report is None:
            return None
        ids = list(session.execute(select(Report.id).where(Report.raw_id == report.raw_id).order_by(Report.index_in_raw)).scalars())
        return JSONResponse(status_code=202, content={"id": report.id, "ids": ids, "status": report.status}, headers={"Idempotent-Replayed": "true"})


def _accept(ctx: Context, body: bytes, parsed: list[ParsedReport], idempotency_key: str | None) -> JSONResponse:
    """Store the body and its reports, remember the key and queue the routing: one transaction."""
    with ctx.transaction() as session:
        stored = store_raw(session, ctx.blobs, body, channel="api", meta={"idempotency_key": idempotency_key} if idempotency_key else None, actor="api")
        new, repeated = create_reports(session, [(stored.raw, parsed)])
        insert_drafts(session, new)
        known = [report for _, report in repeated]
        stored.raw.status = RawStatus.PARSED
        if stored.created:
            stored.raw.report_count, stored.raw.source_format = len(parsed), parsed[0].source_format
        reports: list[Routable] = [*new, *known]
        if new:
            enqueue(session, ROUTE_REPORTS, {"report_ids": [r.id for r in new]})
        if idempotency_key and reports:
            remember_idempotency_key(session, idempotency_key, reports[0].id)
        ids = [r.id for r in reports]
        first = reports[0]
        return JSONResponse(status_code=202, content={"id": first.id, "ids": ids, "status": first.status})


def report_out(report: Report, case: Case | None, prefix: str) -> ReportOut:
    return ReportOut(
        id=report.id, status=report.status,
        outcome=report.outcome if report.status == "completed" else None,
        case=format_ref(prefix, case.opened_at.year, case.id) if case else None,
        detail=report.outcome_detail, category=report.category, source_format=report.source_format,
        occurred_at=report.occurred_at, received_at=report.received_at, completed_at=report.completed_at,
        resources=report.resources,
    )


@router.get("/{report_id}", response_model=ReportOut, responses={404: {"model": ErrorOut}})
def get_report(report_id: str, session: DbSession, ctx: AppContext, _token: ReadToken) -> ReportOut:
    report = session.get(Report, report_id)
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report {report_id}")
    case = session.get(Case, report.case_id) if report.case_id else None
    return report_out(report, case, ctx.settings.case_id_prefix)
