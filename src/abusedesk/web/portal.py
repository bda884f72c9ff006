"""The customer portal: a customer sees and answers the cases of their own account only.

A customer arrives through the signed, expiring link in a notice (:func:`portal_link`)
or by logging in as a ``customer`` user. Every case lookup is scoped to that one account
and answers 404 for anything else, so guessing ids or editing a link shows nothing.
Reporters stay anonymous unless the policy says the notice must name them (copyright:
``reporter_identity_in_notice``). Cases restricted to the legal role (CSAM) are never
shown: the customer must not be tipped off.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from abusedesk.audit.service import record
from abusedesk.cases.models import Case, parse_ref
from abusedesk.context import Context
from abusedesk.intake.models import Correspondence
from abusedesk.policy.taxonomy import Category
from abusedesk.reports.models import Report
from abusedesk.timeutil import utcnow
from abusedesk.users.links import read_token
from abusedesk.web import bridge
from abusedesk.web.auth import CurrentUser, LoginRequired, Role
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.models import Appeal, CaseMessage, MessageKind
from abusedesk.web.pages import render
from abusedesk.web.queue import restricted_categories
from abusedesk.web.security import csrf_form, get_session

router = APIRouter(include_in_schema=False)
Form = Annotated[FormData, Depends(csrf_form)]
MAX_EVIDENCE = 10 * 1024 * 1024
COUNTER_NOTICE_FIELDS = {
    "signature": "Your physical or electronic signature: type your full legal name (512(g)(3)(A)).",
    "material": "Identify the material that was removed or disabled (512(g)(3)(B)).",
    "location": "Where the material appeared before it was removed: the URL or path (512(g)(3)(B)).",
    "name": "Your name (512(g)(3)(D)).",
    "address": "Your postal address (512(g)(3)(D)).",
    "phone": "Your telephone number (512(g)(3)(D)).",
}
#: checkbox name → (enforcement's field, the statement the customer makes by ticking it)
COUNTER_NOTICE_STATEMENTS = {
    "perjury": ("good_faith_statement", "I swear, under penalty of perjury, that I have a good faith belief that the material was removed or disabled as a result of mistake or misidentification of the material to be removed or disabled (512(g)(3)(C))."),
    "jurisdiction": ("jurisdiction_consent", "I consent to the jurisdiction of the Federal District Court for the judicial district in which my address is located, or, if my address is outside the United States, for any judicial district in which the service provider may be found (512(g)(3)(D))."),
    "service": ("service_consent", "I will accept service of process from the person who provided the notification under 512(c)(1)(C) or an agent of such person (512(g)(3)(D))."),
}


def portal_account(request: Request, user: CurrentUser) -> str:
    """The one account this visitor may see: a customer user's, or the one a link opened."""
    if user is not None:
        if user.role == Role.CUSTOMER and user.account_id:
            request.state.portal_account = user.account_id
            return user.account_id
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the portal is for customers; staff use the console")
    account = get_session(request).get("pa")
    if not isinstance(account, str):
        raise LoginRequired
    request.state.portal_account = account
    return account


PortalAccount = Annotated[str, Depends(portal_account)]


def hidden_categories(ctx: Context) -> frozenset[str]:
    return restricted_categories(ctx.policy, may_see_restricted=False)


def case_of_account(session: Session, ctx: Context, account: str, ref: str) -> Case:
    case_id = parse_ref(ref)
    case = session.get(Case, case_id) if case_id is not None else None
    if case is None or case.account_id != account or case.category in hidden_categories(ctx):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case")
    return case


@router.get("/portal/l/{token}", response_model=None)
def open_link(token: str, request: Request, ctx: AppContext, session: DbSession) -> Response:
    found = read_token(ctx, token)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This link is invalid or has expired. Reply to the notice e-mail to get a new one.")
    account, case_id = found
    case = session.get(Case, case_id)
    if case is None or case.account_id != account:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "This link is invalid or has expired.")
    data = get_session(request)
    data.rotate()  # a link never inherits an earlier visitor's session
    data.set("pa", account)
    record(session, actor=f"portal:{account}", action="portal.link_opened", object_type="case", object_id=case.id, data={})
    return RedirectResponse(f"/portal/cases/{case.ref(ctx.settings.case_id_prefix)}", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/portal", response_class=HTMLResponse)
def portal_home(request: Request, ctx: AppContext, session: DbSession, account: PortalAccount) -> HTMLResponse:
    query = select(Case).where(Case.account_id == account, Case.category.notin_(sorted(hidden_categories(ctx)))).order_by(Case.id.desc()).limit(200)
    prefix = ctx.settings.case_id_prefix
    cases = [(c.ref(prefix), c, ctx.policy.category(c.category).description) for c in session.execute(query).scalars()]
    return render(request, "portal/home.html", {"account": account, "cases": cases})


def _customer_reports(session: Session, ctx: Context, case: Case) -> list[dict[str, Any]]:
    """What the customer may see of each report; the reporter only where the policy says so."""
    reveal = ctx.policy.category(case.category).reporter_identity_in_notice
    rows = session.execute(select(Report).where(Report.case_id == case.id).order_by(Report.received_at).limit(200)).scalars()
    out = []
    for r in rows:
        item: dict[str, Any] = {"occurred_at": r.occurred_at, "received_at": r.received_at, "resources": r.resources, "format": r.source_format}
        if reveal:
            item.update(reporter=f"{r.reporter_name or ''} {r.reporter_email or ''}".strip(), summary=r.summary, evidence=r.evidence, dmca=(r.fields or {}).get("dmca"))
        out.append(item)
    return out


@router.get("/portal/cases/{ref}", response_class=HTMLResponse)
def portal_case(request: Request, ref: str, ctx: AppContext, session: DbSession, account: PortalAccount) -> HTMLResponse:
    case = case_of_account(session, ctx, account, ref)
    policy = ctx.policy.category(case.category)
    messages: list[Any] = list(session.execute(select(CaseMessage).where(CaseMessage.case_id == case.id).order_by(CaseMessage.created_at)).scalars())
    # the customer's own mail replies; reporters' mail about the case is never shown here
    mails = session.execute(select(Correspondence).where(Correspondence.case_id == case.id, Correspondence.party == "customer").order_by(Correspondence.received_at)).scalars()
    messages += [{"created_at": m.received_at, "kind": "mail", "body": m.body_text[:5000], "evidence_filename": None} for m in mails]
    messages.sort(key=lambda m: m["created_at"] if isinstance(m, dict) else m.created_at)
    appeals = list(session.execute(select(Appeal).where(Appeal.case_id == case.id).order_by(Appeal.id)).scalars())
    until = bridge.appealable_until(session, case)
    context = {
        "case": case, "ref": case.ref(ctx.settings.case_id_prefix), "policy": policy, "redress": ctx.policy.policy.redress,
        "reports": _customer_reports(session, ctx, case), "messages": messages, "appeals": appeals,
        "decisions": bridge.decisions_for_case(session, case.id), "actions": [a for a in bridge.actions_for_case(session, case.id) if a.state in ("approved", "applied", "reverted")],
        "appeal_until": until, "can_appeal": until is not None and utcnow() <= until and not any(a.status == "open" for a in appeals),
        "counter_notice": case.category == Category.CONTENT_INFRINGING.value,
        "cn_fields": COUNTER_NOTICE_FIELDS, "cn_statements": COUNTER_NOTICE_STATEMENTS,
        "flash": request.query_params.get("flash", "")[:300], "errors": {},
    }
    return render(request, "portal/case.html", context)


def _back(case: Case, ctx: Context, message: str) -> Response:
    return RedirectResponse(f"/portal/cases/{case.ref(ctx.settings.case_id_prefix)}?{urlencode({'flash': message})}", status_code=status.HTTP_303_SEE_OTHER)


def _required(form: FormData, name: str, message: str) -> str:
    value = str(form.get(name) or "").strip()
    if not value:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)
    return value[:20_000]


def _message(session: Session, case: Case, account: str, kind: str, body: str, *, evidence: tuple[str, str] | None = None) -> CaseMessage:
    msg = CaseMessage(
        case_id=case.id, account_id=account, kind=kind, author=f"customer:{account}", body=body, created_at=utcnow(),
        evidence_sha256=evidence[0] if evidence else None, evidence_filename=evidence[1] if evidence else None,
    )
    session.add(msg)
    session.flush()
    record(session, actor=f"portal:{account}", action=f"case.customer_{kind}", object_type="case", object_id=case.id, data={"message": msg.id})
    return msg


@router.post("/portal/cases/{ref}/reply", response_model=None)
def reply(ref: str, ctx: AppContext, session: DbSession, account: PortalAccount, form: Form) -> Response:
    case = case_of_account(session, ctx, account, ref)
    body = _required(form, "body", "Please write a message.")
    _message(session, case, account, MessageKind.REPLY, body)
    bridge.customer_responded(ctx, session, case, actor=f"portal:{account}", remediated=False, note=body)
    return _back(case, ctx, "Your reply was sent to the abuse desk.")


@router.post("/portal/cases/{ref}/remediated", response_model=None)
async def remediated(ref: str, request: Request, ctx: AppContext, account: PortalAccount, form: Form) -> Response:
    """Reading the upload is async; the database work runs in one transaction after it."""
    description = _required(form, "description", "Please describe what you changed.")
    upload = form.get("evidence")
    evidence: tuple[str, str] | None = None
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_EVIDENCE + 1)
        if len(data) > MAX_EVIDENCE:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "The evidence file is larger than 10 MB.")
        if data:
            evidence = (ctx.blobs.put(data), upload.filename[:300])
    with ctx.transaction() as session:
        case = case_of_account(session, ctx, account, ref)
        _message(session, case, account, MessageKind.REMEDIATED, description, evidence=evidence)
        bridge.customer_responded(ctx, session, case, actor=f"portal:{account}", remediated=True, note=description)
        return _back(case, ctx, "Thank you. We will check and close the case if the problem is gone.")


@router.post("/portal/cases/{ref}/counter-notice", response_model=None)
def counter_notice(request: Request, ref: str, ctx: AppContext, session: DbSession, account: PortalAccount, form: Form) -> Response:
    case = case_of_account(session, ctx, account, ref)
    if case.category != Category.CONTENT_INFRINGING.value:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such case")
    errors = {k: m for k, m in COUNTER_NOTICE_FIELDS.items() if not str(form.get(k) or "").strip()}
    errors.update({k: "Please confirm this statement." for k in COUNTER_NOTICE_STATEMENTS if not form.get(k)})
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "The counter-notice is incomplete: " + " ".join(errors.values()))
    fields: dict[str, Any] = {k: str(form.get(k)).strip()[:5000] for k in COUNTER_NOTICE_FIELDS}
    fields["good_faith_statement"] = COUNTER_NOTICE_STATEMENTS["perjury"][1]
    fields["jurisdiction_consent"] = True
    fields["service_consent"] = True
    try:
        received = bridge.file_counter_notice(ctx, session, case, fields=fields, actor=f"portal:{account}")
    except bridge.ActionRefusedError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    body = "Counter-notice (17 U.S.C. 512(g)(3))\n" + "\n".join(f"{k}: {v}" for k, v in fields.items())
    _message(session, case, account, "counter_notice", body)
    missing = list(getattr(received, "missing", []) or [])
    if missing:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "The counter-notice is incomplete: " + ", ".join(missing))
    restore = getattr(received, "restore_earliest", None)
    note = "Counter-notice received. The copyright holder gets a copy; unless they tell us they went to court, the material is restored 10 to 14 business days from now."
    if restore is not None:
        note += f" Earliest restore: {restore:%Y-%m-%d}."
    return _back(case, ctx, note)


@router.post("/portal/cases/{ref}/appeal", response_model=None)
def appeal(ref: str, ctx: AppContext, session: DbSession, account: PortalAccount, form: Form) -> Response:
    """DSA Art. 20: free, electronic, within six months; a person decides (console)."""
    case = case_of_account(session, ctx, account, ref)
    until = bridge.appealable_until(session, case)
    if until is None or utcnow() > until:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "There is no decision on this case that can still be appealed.")
    if session.execute(select(Appeal.id).where(Appeal.case_id == case.id, Appeal.status == "open")).first() is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "An appeal on this case is already open.")
    grounds = _required(form, "grounds", "Please explain why the decision is wrong.")
    bridge.file_appeal(session, case, account_id=account, grounds=grounds, actor=f"portal:{account}")
    return _back(case, ctx, "Your appeal was filed. A person will review it; you will see the outcome here.")
