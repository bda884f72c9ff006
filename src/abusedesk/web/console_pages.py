"""Console pages around the cases: evidence viewer, accounts, quarantine, audit, legal, users.

Raw evidence is hostile by assumption; see :mod:`abusedesk.web.mailview` for how it is
shown. Downloads are always ``attachment`` with ``application/octet-stream`` and
``nosniff``, so no browser renders a reported file as a page of this site.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from abusedesk.audit.models import AuditEvent
from abusedesk.audit.service import record, verify
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.intake.models import RawInput
from abusedesk.intake.service import list_quarantine, raw_bytes
from abusedesk.inventory.models import Account
from abusedesk.inventory.service import list_resources
from abusedesk.reports.flows import retry_raw
from abusedesk.reports.models import Report
from abusedesk.users.service import list_tokens, list_users, revoke_token
from abusedesk.web import bridge
from abusedesk.web.auth import Can, Viewer, actor_of, require
from abusedesk.web.console import hidden_for
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.mailview import part_payload, safe_filename, view_raw
from abusedesk.web.models import CaseMessage
from abusedesk.web.pages import render
from abusedesk.web.queue import restricted_categories
from abusedesk.web.security import csrf_form

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, require(Can.READ_CASES)]
Form = Annotated[FormData, Depends(csrf_form)]


def _raw_for(session: Session, ctx: Context, user: Viewer, raw_id: int) -> RawInput:
    """404 unless the raw exists and none of its reports is in a category hidden from this role."""
    raw = session.get(RawInput, raw_id)
    if raw is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such input")
    hidden = hidden_for(ctx, user)
    if hidden:
        categories = set(session.execute(select(Report.category).where(Report.raw_id == raw.id).distinct()).scalars())
        if categories & hidden:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such input")
    return raw


def _download(data: bytes, filename: str) -> Response:
    return Response(
        data, media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.get("/console/raw/{raw_id}", response_class=HTMLResponse)
def raw_view(request: Request, raw_id: int, ctx: AppContext, session: DbSession, user: Reader) -> HTMLResponse:
    raw = _raw_for(session, ctx, user, raw_id)
    try:
        data = raw_bytes(ctx.blobs, raw)
    except KeyError:
        return render(request, "console/raw.html", {"raw": raw, "view": None, "missing": True})
    return render(request, "console/raw.html", {"raw": raw, "view": view_raw(data), "missing": False})


@router.get("/console/raw/{raw_id}/download", response_model=None)
def raw_download(raw_id: int, ctx: AppContext, session: DbSession, user: Reader) -> Response:
    raw = _raw_for(session, ctx, user, raw_id)
    try:
        data = raw_bytes(ctx.blobs, raw)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the stored bytes are missing") from None
    record(session, actor=actor_of(user), action="evidence.downloaded", object_type="raw_input", object_id=raw.id, data={"sha256": raw.sha256})
    return _download(data, safe_filename(raw.filename or f"raw-{raw.id}"))


@router.get("/console/raw/{raw_id}/parts/{index}", response_model=None)
def raw_part(raw_id: int, index: int, ctx: AppContext, session: DbSession, user: Reader) -> Response:
    raw = _raw_for(session, ctx, user, raw_id)
    try:
        found = part_payload(raw_bytes(ctx.blobs, raw), index)
    except KeyError:
        found = None
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such part")
    record(session, actor=actor_of(user), action="evidence.downloaded", object_type="raw_input", object_id=raw.id, data={"part": index})
    return _download(*found)


@router.get("/console/messages/{message_id}/evidence", response_model=None)
def message_evidence(message_id: int, ctx: AppContext, session: DbSession, user: Reader) -> Response:
    """A file a customer attached in the portal: as hostile as any report, so download only."""
    message = session.get(CaseMessage, message_id)
    case = session.get(Case, message.case_id) if message is not None else None
    if message is None or case is None or not message.evidence_sha256 or case.category in hidden_for(ctx, user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    try:
        data = ctx.blobs.get(message.evidence_sha256)
    except KeyError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the stored bytes are missing") from None
    record(session, actor=actor_of(user), action="evidence.downloaded", object_type="case", object_id=case.id, data={"message": message.id})
    return _download(data, safe_filename(message.evidence_filename or f"evidence-{message.id}"))


@router.get("/console/accounts/{account_id}", response_class=HTMLResponse)
def account_page(request: Request, account_id: str, ctx: AppContext, session: DbSession, user: Annotated[Viewer, require(Can.READ_ACCOUNTS)]) -> HTMLResponse:
    account = session.get(Account, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such account")
    hidden = hidden_for(ctx, user)
    query = select(Case).where(Case.account_id == account_id).order_by(Case.id.desc()).limit(200)
    if hidden:
        query = query.where(Case.category.notin_(sorted(hidden)))
    cases = list(session.execute(query).scalars())
    prefix = ctx.settings.case_id_prefix
    case_ids = {c.id for c in cases}
    context = {
        "account": account, "resources": list_resources(session, account_id=account_id, limit=1000),
        "cases": [(c.ref(prefix), c) for c in cases], "strikes": bridge.strikes_for_account(session, account_id),
        "actions": [a for a in bridge.actions_for_account(session, account_id) if a.case_id is None or a.case_id in case_ids],
    }
    return render(request, "console/account.html", context)


@router.get("/console/quarantine", response_class=HTMLResponse)
def quarantine_page(request: Request, session: DbSession, _user: Annotated[Viewer, require(Can.QUARANTINE)]) -> HTMLResponse:
    return render(request, "console/quarantine.html", {"rows": list_quarantine(session, limit=200), "flash": request.query_params.get("flash", "")[:300]})


@router.post("/console/quarantine/{raw_id}/retry", response_model=None)
def quarantine_retry(raw_id: int, ctx: AppContext, user: Annotated[Viewer, require(Can.QUARANTINE)], _form: Form) -> Response:
    try:
        result = retry_raw(ctx, raw_id, actor=actor_of(user))
        message = f"input {raw_id}: still quarantined: {result.error}" if result.quarantined else f"input {raw_id}: {len(result.reports)} report(s) parsed"
    except LookupError as exc:
        message = str(exc)
    return RedirectResponse("/console/quarantine?" + urlencode({"flash": message[:200]}), status_code=status.HTTP_303_SEE_OTHER)


@router.get("/console/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, session: DbSession, _user: Annotated[Viewer, require(Can.READ_AUDIT)],
    before: Annotated[int | None, Query(ge=1)] = None, object_type: Annotated[str, Query(max_length=40)] = "",
    object_id: Annotated[str, Query(max_length=200)] = "", check: bool = False,
) -> HTMLResponse:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(100)
    if before:
        query = query.where(AuditEvent.id < before)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    events = list(session.execute(query).scalars())
    result = verify(session) if check else None
    total = session.execute(select(func.max(AuditEvent.id))).scalar_one_or_none() or 0
    context = {"events": events, "result": result, "total": total, "next_before": events[-1].id if len(events) == 100 else None, "object_type": object_type, "object_id": object_id}
    return render(request, "console/audit.html", context)


@router.get("/console/legal", response_class=HTMLResponse)
def legal_page(request: Request, ctx: AppContext, session: DbSession, user: Annotated[Viewer, require(Can.LEGAL)]) -> HTMLResponse:
    """Restricted cases (CSAM) and, later, law-enforcement requests and legal holds."""
    restricted = sorted(restricted_categories(ctx.policy, may_see_restricted=False))
    hidden = hidden_for(ctx, user)
    visible_categories = [c for c in restricted if c not in hidden]
    cases = list(session.execute(select(Case).where(Case.category.in_(visible_categories)).order_by(Case.id.desc()).limit(200)).scalars()) if visible_categories else []
    prefix = ctx.settings.case_id_prefix
    holds, mandated = bridge.holds_and_mandated_reports(session)
    context = {"cases": [(c.ref(prefix), c) for c in cases], "restricted": restricted, "holds": holds, "mandated": mandated}
    return render(request, "console/legal.html", context)


@router.get("/console/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, _user: Annotated[Viewer, require(Can.ADMIN_USERS)]) -> HTMLResponse:
    return render(request, "console/users.html", {"users": list_users(session), "tokens": list_tokens(session), "flash": request.query_params.get("flash", "")[:300]})


@router.post("/console/tokens/{token_id}/revoke", response_model=None)
def token_revoke(token_id: int, session: DbSession, user: Annotated[Viewer, require(Can.ADMIN_USERS)], _form: Form) -> Response:
    """API tokens are created from the CLI (shown once); here an admin can revoke one."""
    try:
        revoke_token(session, token_id, actor=actor_of(user))
        message = f"token {token_id} revoked"
    except LookupError as exc:
        message = str(exc)
    return RedirectResponse("/console/users?" + urlencode({"flash": message}), status_code=status.HTTP_303_SEE_OTHER)
