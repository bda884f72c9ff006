"""The public report form at ``/report``: anyone can tell us about abuse, without JavaScript.

Which fields a notice needs depends on the law behind it: every notice about content has
the DSA Art. 16(2) elements (explanation, exact URLs, name and e-mail, good-faith
statement), except that for child sexual abuse material name and e-mail must stay
optional (16(2)(c)); a copyright notice needs the DMCA 512(c)(3) elements; network abuse
is only actionable with addresses, ports and times. A valid submission goes through the
same pipeline as every other input, raw first, as our own JSON format on channel ``web``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from abusedesk.context import Context
from abusedesk.intake.ack import KIND as ACK_KIND
from abusedesk.intake.ack import throttled
from abusedesk.notices.outbox import queue_mail
from abusedesk.policy.taxonomy import Category
from abusedesk.reports.flows import ingest_bytes
from abusedesk.reports.models import Report
from abusedesk.resources import guess_resource
from abusedesk.timeutil import isoformat_z, parse_timestamp
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.pages import render
from abusedesk.web.security import RateLimiter, client_address, csrf_form

router = APIRouter(include_in_schema=False)

#: how a reporter finds the category: plain words, in the order people look for them
GROUPS: list[tuple[str, list[Category]]] = [
    ("Content on a website or service we host", [
        Category.CONTENT_PHISHING, Category.CONTENT_FRAUD, Category.CONTENT_MALWARE, Category.CONTENT_INFRINGING,
        Category.CONTENT_CSAM, Category.CONTENT_OFFENSIVE, Category.CONTENT_ILLEGAL,
    ]),
    ("Attacks or traffic from our network", [
        Category.SECURITY_SCAN, Category.SECURITY_BRUTEFORCE, Category.SECURITY_INTRUSION, Category.NETWORK_DOS,
        Category.NETWORK_FLOODING, Category.NETWORK_CRAWLING, Category.SECURITY_SPOOFING, Category.SECURITY_INTERCEPTION,
        Category.NETWORK_OPEN_RESOLVER, Category.NETWORK_OPEN_RELAY, Category.NETWORK_OPEN_PROXY,
        Category.NETWORK_RESTRICTION_EVASION, Category.INFO_VULNERABLE,
    ]),
    ("E-mail", [Category.EMAIL_SPAM, Category.EMAIL_FORGERY, Category.EMAIL_REPLY_COLLECTION]),
    ("Something else", [Category.OTHER_UNCLASSIFIED]),
]
MAX_FIELD = 20_000
MAX_RESOURCES = 250


def kind_of(category: Category) -> str:
    """Which set of fields the category's notice needs."""
    if category is Category.CONTENT_CSAM:
        return "csam"
    if category is Category.CONTENT_INFRINGING:
        return "copyright"
    if category.group in ("security", "network") or category is Category.INFO_VULNERABLE:
        return "network"
    if category.group == "email":
        return "email"
    if category.group == "content":
        return "content"
    return "other"


@dataclass(slots=True)
class Checked:
    document: dict[str, Any]
    errors: dict[str, str]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def check_submission(category: Category, form: FormData) -> Checked:
    """Validate the form for ``category``; errors are keyed by field name, in plain words."""
    kind = kind_of(category)
    value = {key: str(form.get(key) or "").strip()[:MAX_FIELD] for key in form if key != "csrf"}
    errors: dict[str, str] = {}

    def need(field: str, message: str) -> None:
        if not value.get(field):
            errors[field] = message

    name, email = value.get("name", ""), value.get("email", "")
    if kind != "csam":
        need("name", "Please give your name (DSA Art. 16(2)(c)).")
        need("email", "Please give an e-mail address so we can confirm receipt and tell you the outcome.")
    if email and ("@" not in email or " " in email or len(email) > 320):
        errors["email"] = "This does not look like an e-mail address."
    need("explanation", "Please explain why this is abuse or illegal (DSA Art. 16(2)(a)).")
    if not form.get("good_faith"):
        errors["good_faith"] = "Please confirm that the notice is accurate and complete to the best of your knowledge (Art. 16(2)(d))."

    locator_field = {"content": "urls", "csam": "urls", "copyright": "urls", "network": "source_ips", "email": "sources", "other": "urls"}[kind]
    resources: list[dict[str, str]] = []
    bad: list[str] = []
    for item in _lines(value.get(locator_field, ""))[:MAX_RESOURCES]:
        try:
            resource = guess_resource(item)
            resources.append({"kind": resource.kind.value, "value": resource.value})
        except ValueError:
            bad.append(item[:80])
    if bad:
        errors[locator_field] = "Not an address, domain or URL: " + ", ".join(bad[:3])
    elif not resources:
        errors[locator_field] = {
            "urls": "Please give the exact URL(s) of the content, one per line (Art. 16(2)(b)).",
            "source_ips": "Please give the IP address(es) in our network that the traffic came from.",
            "sources": "Please give the sending IP address or the advertised URL.",
        }[locator_field]

    occurred_at = None
    if value.get("occurred_at"):
        try:
            occurred_at = isoformat_z(parse_timestamp(value["occurred_at"]))
        except ValueError:
            errors["occurred_at"] = "Please give the time as YYYY-MM-DD HH:MM (UTC)."
    elif kind == "network":
        errors["occurred_at"] = "Please give when it happened (UTC): without a time we cannot tell which customer held the address."
    fields: dict[str, Any] = {"form": "web", "kind": kind, "explanation": value.get("explanation", "")}
    if kind == "network":
        need("logs", "Please paste log lines showing the traffic (addresses, ports, times).")
        fields["network"] = {k: value.get(k, "") for k in ("target_ips", "ports", "protocol", "logs")}
    if kind == "email":
        need("headers", "Please paste the full headers of the message.")
        fields["email"] = {"headers": value.get("headers", ""), "body": value.get("body", "")}
    if kind == "copyright":
        need("work", "Please identify the copyrighted work (512(c)(3)(A)(ii)).")
        need("address", "Please give your postal address (512(c)(3)(A)(iv)).")
        need("phone", "Please give a telephone number (512(c)(3)(A)(iv)).")
        need("signature", "Please sign by typing your full name (512(c)(3)(A)(i)).")
        if not form.get("dmca_good_faith"):
            errors["dmca_good_faith"] = "Please confirm your good-faith belief that the use is not authorised (512(c)(3)(A)(v))."
        if not form.get("dmca_perjury"):
            errors["dmca_perjury"] = "Please confirm, under penalty of perjury, that you are authorised to act for the owner (512(c)(3)(A)(vi))."
        fields["dmca"] = {k: value.get(k, "") for k in ("work", "owner", "address", "phone", "signature")}
        fields["dmca"].update({"good_faith": bool(form.get("dmca_good_faith")), "perjury_statement": bool(form.get("dmca_perjury"))})
    fields["dsa_art16"] = {"good_faith": bool(form.get("good_faith")), "urls": [r["value"] for r in resources if r["kind"] == "url"]}
    reporter = {"email": email.lower(), "name": name} if (email or name) else {}
    document: dict[str, Any] = {
        "category": category.value, "resources": resources, "occurred_at": occurred_at,
        "summary": value.get("explanation", "")[:500],
        "evidence": "\n\n".join(v for v in (value.get("logs", ""), value.get("headers", ""), value.get("explanation", "")) if v),
        "fields": fields,
    }
    if reporter:
        document["reporter"] = reporter
    return Checked(document, errors)


def _category_arg(raw: str | None) -> Category | None:
    try:
        return Category(raw) if raw else None
    except ValueError:
        return None


def limiter_for(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.report_limiter
    return limiter


def _form_page(request: Request, ctx: Context, category: Category | None, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    groups = [(title, [(c.value, ctx.policy.category(c).description, ctx.policy.category(c).help.what) for c in cats]) for title, cats in GROUPS]
    context = {
        "groups": groups, "category": category.value if category else None,
        "kind": kind_of(category) if category else None,
        "description": ctx.policy.category(category).description if category else "",
        "errors": errors or {}, "values": values or {},
    }
    return render(request, "public/report.html", context, status_code=status_code)


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, ctx: AppContext, category: str | None = None) -> HTMLResponse:
    """Step 1 lists the categories; step 2 (``?category=``) shows that category's fields."""
    return _form_page(request, ctx, _category_arg(category))


@router.post("/report", response_model=None)
def report_submit(request: Request, ctx: AppContext, form: Annotated[FormData, Depends(csrf_form)]) -> Response:
    category = _category_arg(str(form.get("category") or ""))
    if category is None:
        return _form_page(request, ctx, None, errors={"category": "Please choose what you are reporting."}, status_code=422)
    checked = check_submission(category, form)
    if checked.errors:
        values = {k: str(v) for k, v in form.items() if k != "csrf" and isinstance(v, str)}
        return _form_page(request, ctx, category, errors=checked.errors, values=values, status_code=422)
    limiter = limiter_for(request)  # counts accepted submissions only: fixing a typo costs nothing
    address = client_address(request)
    if not limiter.allowed(address):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "Too many reports from your address; please try again later.", headers={"Retry-After": str(limiter.retry_after(address))})
    data = json.dumps(checked.document, ensure_ascii=False, sort_keys=True).encode()
    result = ingest_bytes(ctx, data, channel="web", filename="web-form.json", format="json", actor="web-form")
    if not result.reports:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, result.error or "the report could not be read")
    tracking = result.reports[0].report_id
    reporter = checked.document.get("reporter", {}).get("email")
    if reporter:
        acknowledge(ctx, reporter, tracking)
    return RedirectResponse(f"/report/status/{tracking}?new=1", status_code=status.HTTP_303_SEE_OTHER)


def acknowledge(ctx: Context, recipient: str, tracking: str) -> None:
    """DSA Art. 16(4): confirm receipt to a notifier who gave contact details.

    The address is unverified, so the receipt says nothing but the tracking link, and at
    most one goes to an address per acknowledgement interval (shared with mail intake):
    the form cannot be used to flood someone's mailbox.
    """
    settings = ctx.settings
    if not settings.ack_enabled:
        return
    interval = timedelta(minutes=settings.ack_interval_minutes)
    link = f"{settings.public_base_url.rstrip('/')}/report/status/{tracking}"
    body = (
        "We received your report through our web form.\n\n"
        f"Tracking id: {tracking}\nStatus: {link}\n\n"
        "We will look into it and show the outcome on the status page. This is an automatic message."
    )
    with ctx.transaction() as session:
        if throttled(session, recipient, interval):
            return
        queue_mail(
            session, kind=ACK_KIND, recipient=recipient, sender=settings.notice_from, subject=f"[{tracking[:12]}] Your report was received",
            body_text=body, headers={"X-Auto-Response-Suppress": "All"}, actor="web-form",
        )


PUBLIC_OUTCOMES = {
    "case": "We found the customer responsible and opened a case. We will act according to our policy.",
    "actioned": "We took action.",
    "not_ours": "The addresses you reported are not in our network (at the time given). Please report to their operator.",
    "no_action": "We reviewed the report and took no action.",
    "need_more_information": "We need more information to act on this report.",
    "content_gone": "The reported content was already gone when we checked.",
}


@router.get("/report/status/{tracking_id}", response_class=HTMLResponse)
def report_status(request: Request, tracking_id: str, session: DbSession) -> HTMLResponse:
    """What the reporter may know: status and outcome; never the customer or the case."""
    report = session.get(Report, tracking_id[:64]) if tracking_id.isalnum() else None
    if report is None or report.channel != "web":
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No report with this tracking id.")
    outcome = PUBLIC_OUTCOMES.get(report.outcome or "", "") if report.status == "completed" else ""
    context = {"tracking_id": report.id, "status": report.status, "outcome": outcome, "received_at": report.received_at, "category": report.category, "new": request.query_params.get("new") == "1"}
    return render(request, "public/status.html", context)
