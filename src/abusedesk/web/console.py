"""The analyst console: the case queue with bulk changes, and the case page.

Views only translate HTTP: state changes go through ``cases.workflow.transition`` and
actions through the enforcement services (via :mod:`abusedesk.web.bridge`). Forms post
plain HTML (they work without JavaScript); htmx only swaps the queue's rows in place.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from abusedesk.audit.models import AuditEvent
from abusedesk.audit.service import record
from abusedesk.cases.models import Case, parse_ref
from abusedesk.cases.workflow import ALLOWED, CaseStatus, TransitionError, transition
from abusedesk.context import Context
from abusedesk.enforcement.flows import close_case
from abusedesk.intake.models import Correspondence, RawInput
from abusedesk.inventory.models import InventoryResource
from abusedesk.notices.models import OutboundMessage
from abusedesk.policy.models import Severity
from abusedesk.policy.taxonomy import Category
from abusedesk.reports.models import Report
from abusedesk.web import bridge
from abusedesk.web.auth import Can, Viewer, actor_of, allowed, require
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.models import Appeal, CaseMessage, CaseNote, MessageKind
from abusedesk.web.pages import render
from abusedesk.web.queue import SORT_NAMES, QueueQuery, queue_page, restricted_categories
from abusedesk.web.security import csrf_form

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, require(Can.READ_CASES)]
Worker = Annotated[Viewer, require(Can.WORK_CASES)]
Approver = Annotated[Viewer, require(Can.APPROVE_ACTIONS)]
Form = Annotated[FormData, Depends(csrf_form)]
MAX_TEXT = 20_000


def hidden_for(ctx: Context, user: Viewer) -> frozenset[str]:
    return restricted_categories(ctx.policy, may_see_restricted=allowed(user, Can.SEE_RESTRICTED))


def case_for(session: Session, ctx: Context, user: Viewer, ref: str) -> Case:
    """The case, or 404 for one that does not exist *or* that this role may not know about."""
    case_id = parse_ref(ref)
    case = session.get(Case, case_id) if case_id is not None else None
    if case is None or case.category in hidden_for(ctx, user):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case")
    return case


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _queue_query(request: Request, ctx: Context, user: Viewer) -> QueueQuery:
    p = request.query_params
    sort = p.get("sort", "id")
    return QueueQuery(
        status=p.get("status", "open"), category=p.get("category", ""), account=p.get("account", "")[:128],
        severity=p.get("severity", ""), assignee=p.get("assignee", "")[:128],
        min_age_days=_int_or_none(p.get("min_age")), max_age_days=_int_or_none(p.get("max_age")),
        sort=sort if sort in SORT_NAMES else "id", desc=p.get("dir", "desc") != "asc",
        cursor=p.get("cursor", "")[:400], limit=min(_int_or_none(p.get("limit")) or 50, 200),
        hidden_categories=hidden_for(ctx, user),
    )


def _link(q: QueueQuery, **changes: Any) -> str:
    values = {
        "status": q.status, "category": q.category, "account": q.account, "severity": q.severity,
        "assignee": q.assignee, "min_age": q.min_age_days, "max_age": q.max_age_days,
        "sort": q.sort, "dir": "desc" if q.desc else "asc",
    }
    values.update(changes)
    return "/console?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})


@router.get("/console", response_class=HTMLResponse)
def queue(request: Request, ctx: AppContext, session: DbSession, user: Reader) -> HTMLResponse:
    q = _queue_query(request, ctx, user)
    page = queue_page(session, q)
    prefix = ctx.settings.case_id_prefix
    hidden = q.hidden_categories
    context = {
        "q": q, "rows": [(c.ref(prefix), c) for c in page.rows],
        "next_link": _link(q, cursor=page.next_cursor) if page.next_cursor else None,
        "sort_link": lambda col: _link(q, sort=col, dir="asc" if q.sort == col and q.desc else "desc"),
        "statuses": [s.value for s in CaseStatus], "severities": [s.value for s in Severity],
        "categories": [c.value for c in Category if c.value not in hidden],
        "can_work": allowed(user, Can.WORK_CASES),
        "flash": request.query_params.get("flash", "")[:300],
    }
    template = "console/_queue_rows.html" if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == "queue-rows" else "console/queue.html"
    return render(request, template, context)


@router.post("/console/bulk", response_model=None)
def bulk(request: Request, ctx: AppContext, session: DbSession, user: Worker, form: Form) -> Response:
    """Assign, change state or close many cases at once; each change is audited on its own."""
    ids = [parse_ref(str(v)) for v in form.getlist("case")][:500]
    op = str(form.get("op") or "")
    hidden = hidden_for(ctx, user)
    cases = [c for c in session.execute(select(Case).where(Case.id.in_([i for i in ids if i is not None]))).scalars() if c.category not in hidden]
    if not cases:
        return _back(form, "no cases selected")
    done, failed = 0, []
    for case in cases:
        try:
            if op == "assign":
                _assign(session, case, str(form.get("assignee") or "").strip() or None, user)
            elif op == "state" and str(form.get("target") or "") == CaseStatus.CLOSED.value:
                close_case(ctx, session, case, actor=actor_of(user), reason="bulk change in the console")
            elif op == "state":
                transition(session, case, str(form.get("target") or ""), actor=actor_of(user), reason="bulk change in the console")
            elif op == "close":
                # through enforcement, so reporters get their outcome notice
                close_case(ctx, session, case, actor=actor_of(user), reason=str(form.get("reason") or "closed in bulk")[:500])
            else:
                raise HTTPException(status.HTTP_400_BAD_REQUEST, "unknown bulk operation")
            done += 1
        except (TransitionError, ValueError) as exc:
            failed.append(f"{case.ref(ctx.settings.case_id_prefix)}: {exc}")
    message = f"{done} case(s) changed" + (f"; {len(failed)} refused: " + "; ".join(failed[:5]) if failed else "")
    return _back(form, message)


def _back(form: FormData, message: str) -> Response:
    back = str(form.get("back") or "/console")
    if not back.startswith("/console") or back.startswith("//"):
        back = "/console"
    glue = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{glue}{urlencode({'flash': message})}", status_code=status.HTTP_303_SEE_OTHER)


def _assign(session: Session, case: Case, assignee: str | None, user: Viewer) -> None:
    if assignee is not None and len(assignee) > 128:
        raise ValueError("assignee name too long")
    before = case.assignee
    case.assignee = assignee
    record(session, actor=actor_of(user), action="case.assigned", object_type="case", object_id=case.id, data={"from": before, "to": assignee})


# ------------------------------------------------------------------------- case page


def timeline(session: Session, case: Case) -> list[dict[str, Any]]:
    """Everything that happened on a case in time order: reports, mail, notes, actions."""
    items: list[dict[str, Any]] = []
    for r in session.execute(select(Report).where(Report.case_id == case.id).order_by(Report.received_at).limit(500)).scalars():
        items.append({"at": r.received_at, "kind": "report", "obj": r})
    for m in session.execute(select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.created_at)).scalars():
        items.append({"at": m.created_at, "kind": "message", "obj": m})
    for mail in session.execute(select(Correspondence).where(Correspondence.case_id == case.id).order_by(Correspondence.received_at).limit(500)).scalars():
        items.append({"at": mail.received_at, "kind": "mail", "obj": mail})
    for n in session.execute(select(OutboundMessage).where(OutboundMessage.case_id == case.id).order_by(OutboundMessage.created_at)).scalars():
        items.append({"at": n.created_at, "kind": "notice", "obj": n})
    for note in session.execute(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.created_at)).scalars():
        items.append({"at": note.created_at, "kind": "note", "obj": note})
    for a in bridge.actions_for_case(session, case.id):
        items.append({"at": a.created_at, "kind": "action", "obj": a})
    for ap in session.execute(select(Appeal).where(Appeal.case_id == case.id)).scalars():
        items.append({"at": ap.submitted_at, "kind": "appeal", "obj": ap})
    for e in session.execute(
        select(AuditEvent).where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id)).order_by(AuditEvent.id).limit(500)
    ).scalars():
        items.append({"at": e.at, "kind": "audit", "obj": e})
    items.sort(key=lambda i: i["at"])
    return items


def attribution(session: Session, reports: list[Report]) -> dict[str, InventoryResource | None]:
    ids = {r.inventory_resource_id for r in reports if r.inventory_resource_id is not None}
    rows = {row.id: row for row in session.execute(select(InventoryResource).where(InventoryResource.id.in_(ids))).scalars()} if ids else {}
    return {r.id: rows.get(r.inventory_resource_id) if r.inventory_resource_id else None for r in reports}


@router.get("/console/cases/{ref}", response_class=HTMLResponse)
def case_page(request: Request, ref: str, ctx: AppContext, session: DbSession, user: Reader) -> HTMLResponse:
    case = case_for(session, ctx, user, ref)
    items = timeline(session, case)
    reports = [i["obj"] for i in items if i["kind"] == "report"]
    raws = {r.raw_id: session.get(RawInput, r.raw_id) for r in reports}
    category_policy = ctx.policy.category(case.category)
    context = {
        "case": case, "ref": case.ref(ctx.settings.case_id_prefix), "items": items, "reports": reports, "raws": raws,
        "held": attribution(session, reports), "policy": category_policy,
        "targets": sorted(s.value for s in ALLOWED[CaseStatus(case.status)]),
        "can_work": allowed(user, Can.WORK_CASES), "can_approve": allowed(user, Can.APPROVE_ACTIONS),
        "can_decide_appeals": allowed(user, Can.DECIDE_APPEALS),
        "actions": [i["obj"] for i in items if i["kind"] == "action"],
        "appeals": [i["obj"] for i in items if i["kind"] == "appeal"],
        "enforcement": bridge.available(), "action_kinds": bridge.proposable_kinds(),
        "flash": request.query_params.get("flash", "")[:300],
    }
    return render(request, "console/case.html", context)


def _case_back(case: Case, ctx: Context, message: str) -> Response:
    return RedirectResponse(f"/console/cases/{case.ref(ctx.settings.case_id_prefix)}?{urlencode({'flash': message})}", status_code=status.HTTP_303_SEE_OTHER)


def _text(form: FormData, name: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    value = str(form.get(name) or "").strip()
    if required and not value:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name} must not be empty")
    return value[:limit]


def _post(session: Session, case: Case, user: Viewer, row: CaseNote | CaseMessage, *, action: str, key: str) -> None:
    """Store a note or a message on the case and audit it under ``action``."""
    session.add(row)
    session.flush()
    record(session, actor=actor_of(user), action=action, object_type="case", object_id=case.id, data={key: row.id})


@router.post("/console/cases/{ref}/notes", response_model=None)
def add_note(ref: str, ctx: AppContext, session: DbSession, user: Worker, form: Form) -> Response:
    case = case_for(session, ctx, user, ref)
    _post(session, case, user, CaseNote(case_id=case.id, author=user.username, body=_text(form, "body")), action="case.note_added", key="note")
    return _case_back(case, ctx, "note added")


@router.post("/console/cases/{ref}/state", response_model=None)
def change_state(ref: str, ctx: AppContext, session: DbSession, user: Worker, form: Form) -> Response:
    case = case_for(session, ctx, user, ref)
    try:
        target = _text(form, "target", limit=40)
        reason = _text(form, "reason", required=False, limit=500)
        if target == CaseStatus.CLOSED.value:
            close_case(ctx, session, case, actor=actor_of(user), reason=reason or "closed in the console")
        else:
            transition(session, case, target, actor=actor_of(user), reason=reason)
    except (TransitionError, ValueError) as exc:
        return _case_back(case, ctx, str(exc))
    return _case_back(case, ctx, f"status is now {case.status}")


@router.post("/console/cases/{ref}/assign", response_model=None)
def assign(ref: str, ctx: AppContext, session: DbSession, user: Worker, form: Form) -> Response:
    case = case_for(session, ctx, user, ref)
    _assign(session, case, _text(form, "assignee", required=False, limit=128) or None, user)
    return _case_back(case, ctx, "assignee changed")


@router.post("/console/cases/{ref}/messages", response_model=None)
def message_customer(ref: str, ctx: AppContext, session: DbSession, user: Worker, form: Form) -> Response:
    """A reply from the desk, shown to the customer in the portal."""
    case = case_for(session, ctx, user, ref)
    msg = CaseMessage(case_id=case.id, account_id=case.account_id, kind=MessageKind.ANALYST, author=user.username, body=_text(form, "body"))
    _post(session, case, user, msg, action="case.message_sent", key="message")
    return _case_back(case, ctx, "message posted to the customer portal")


@router.post("/console/cases/{ref}/actions", response_model=None)
def propose_action(ref: str, ctx: AppContext, session: DbSession, user: Approver, form: Form) -> Response:
    case = case_for(session, ctx, user, ref)
    try:
        bridge.propose(ctx, session, case, kind=_text(form, "kind", limit=40), target=_text(form, "target", required=False, limit=600), reason=_text(form, "reason", limit=2000), actor=actor_of(user), approve=form.get("approve_now") == "1")
    except bridge.ActionRefusedError as exc:
        return _case_back(case, ctx, f"refused: {exc}")
    return _case_back(case, ctx, "action proposed")


@router.post("/console/cases/{ref}/actions/{action_id}/{verb}", response_model=None)
def act(ref: str, action_id: int, verb: str, ctx: AppContext, session: DbSession, user: Approver, form: Form) -> Response:
    case = case_for(session, ctx, user, ref)
    if verb not in ("approve", "apply", "revert"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such operation")
    try:
        bridge.act(ctx, session, case, action_id, verb, actor=actor_of(user), reason=_text(form, "reason", required=False, limit=2000))
    except bridge.ActionRefusedError as exc:
        return _case_back(case, ctx, f"refused: {exc}")
    return _case_back(case, ctx, f"action {action_id}: {verb} done")


@router.post("/console/cases/{ref}/appeals/{appeal_id}", response_model=None)
def decide_appeal(ref: str, appeal_id: int, ctx: AppContext, session: DbSession, user: Annotated[Viewer, require(Can.DECIDE_APPEALS)], form: Form) -> Response:
    """A person decides; the outcome is recorded and shown to the customer (DSA Art. 20)."""
    case = case_for(session, ctx, user, ref)
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or appeal.case_id != case.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such appeal")
    outcome = _text(form, "outcome_status", limit=20)
    if outcome not in ("upheld", "reversed") or appeal.status != "open":
        return _case_back(case, ctx, "the appeal is decided already, or the outcome is not upheld/reversed")
    restores = bridge.decide_appeal(ctx, session, appeal, status_=outcome, reasons=_text(form, "outcome"), actor=actor_of(user))
    return _case_back(case, ctx, f"appeal {outcome}" + (f"; {len(restores)} restriction(s) being lifted" if restores else ""))


@router.get("/console/go", response_model=None)
def go(_user: Reader, q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Jump to a case by its reference (``AD-2026-000123``) from the search box."""
    case_id = parse_ref(q)
    target = f"/console/cases/{case_id}" if case_id is not None else "/console"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
