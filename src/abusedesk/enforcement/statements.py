"""Decision records as DSA statements of reasons, and their Transparency Database export.

The record is written when a restriction is approved (Art. 17(2): at the latest when it is
imposed). Its ``facts`` are built from counts, dates and the category's description only:
no addresses, names or URLs, because the Transparency Database forbids personal data and
the same text is safe to show to anyone who may see the statement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.enforcement.models import DecisionRecord, EnforcementAction
from abusedesk.enforcement.service import case_of, case_reports, is_person
from abusedesk.policy.models import ActionKind
from abusedesk.reports.models import Report
from abusedesk.timeutil import utcnow

# ---------------------------------------------------------------- enums (REFERENCE §3.2)
DECISION_VISIBILITY = frozenset({
    "DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED", "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED", "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED", "DECISION_VISIBILITY_OTHER",
})
DECISION_MONETARY = frozenset({"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"})
DECISION_PROVISION = frozenset({
    "DECISION_PROVISION_PARTIAL_SUSPENSION", "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION", "DECISION_PROVISION_TOTAL_TERMINATION",
})
DECISION_ACCOUNT = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPE = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
DECISION_GROUND = frozenset({"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"})
CONTENT_TYPE = frozenset({
    "CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO", "CONTENT_TYPE_OTHER",
})
SOURCE_TYPE = frozenset({"SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_TYPE_OTHER_NOTIFICATION", "SOURCE_VOLUNTARY"})
AUTOMATED_DECISION = frozenset({"AUTOMATED_DECISION_FULLY", "AUTOMATED_DECISION_PARTIALLY", "AUTOMATED_DECISION_NOT_AUTOMATED"})
CATEGORY = frozenset(f"STATEMENT_CATEGORY_{name}" for name in (
    "ANIMAL_WELFARE", "CONSUMER_INFORMATION", "CYBER_VIOLENCE", "CYBER_VIOLENCE_AGAINST_WOMEN",
    "DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "ILLEGAL_OR_HARMFUL_SPEECH", "INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS", "NOT_SPECIFIED_NOTICE", "OTHER_VIOLATION_TC",
    "PROTECTION_OF_MINORS", "RISK_FOR_PUBLIC_SECURITY", "SCAMS_AND_FRAUD", "SELF_HARM",
    "UNSAFE_AND_PROHIBITED_PRODUCTS", "VIOLENCE",
))
TERRITORIES = frozenset(["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"])
PUID = re.compile(r"^[a-zA-Z0-9-_]+$")
KEYWORD = re.compile(r"^KEYWORD_[A-Z0-9_]+$")
YES_NO = frozenset({"Yes", "No"})

#: what would make ``decision_facts`` carry personal data
_PERSONAL = {
    "an e-mail address": re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
    "an IPv4 address": re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b"),
    "an IPv6 address": re.compile(r"\b[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{0,4}){2,7}\b"),
    "a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://", re.IGNORECASE),
}

RESTRICTION_TEXT = {
    ActionKind.RESTRICT_PORT.value: "outbound traffic on {port} blocked for the address",
    ActionKind.BLOCK_IP.value: "all traffic of the address blocked",
    ActionKind.DISABLE_URL.value: "access to the reported URL disabled",
    ActionKind.DISABLE_RESOURCE.value: "the reported resource disabled",
    ActionKind.REMOVE_CONTENT.value: "the reported content removed",
    ActionKind.SUSPEND_ACCOUNT.value: "the account suspended",
    ActionKind.TERMINATE_ACCOUNT.value: "the account terminated",
}


def _decision_fields(kind: str, category: str) -> tuple[list[str], str | None, str | None]:
    """(visibility, provision, account) decisions for an action kind."""
    content = category.startswith("content.")
    if kind == ActionKind.DISABLE_URL.value or (kind == ActionKind.DISABLE_RESOURCE.value and content):
        return ["DECISION_VISIBILITY_CONTENT_DISABLED"], None, None
    if kind == ActionKind.REMOVE_CONTENT.value:
        return ["DECISION_VISIBILITY_CONTENT_REMOVED"], None, None
    if kind in (ActionKind.RESTRICT_PORT.value, ActionKind.BLOCK_IP.value, ActionKind.DISABLE_RESOURCE.value):
        return [], "DECISION_PROVISION_PARTIAL_SUSPENSION", None
    if kind == ActionKind.SUSPEND_ACCOUNT.value:
        return [], "DECISION_PROVISION_TOTAL_SUSPENSION", "DECISION_ACCOUNT_SUSPENDED"
    if kind == ActionKind.TERMINATE_ACCOUNT.value:
        return [], "DECISION_PROVISION_TOTAL_TERMINATION", "DECISION_ACCOUNT_TERMINATED"
    raise ValueError(f"{kind} is not a restriction")


def make_puid(ctx: Context, action: EnforcementAction) -> str:
    prefix = re.sub(r"[^a-zA-Z0-9-_]", "-", ctx.settings.statement_puid_prefix)
    return f"{prefix}-{action.case_id or 0}-{action.id}"


def write_decision_record(ctx: Context, session: Session, action: EnforcementAction) -> DecisionRecord:
    """The statement of reasons for ``action``; one per action (re-running returns it)."""
    existing = session.execute(select(DecisionRecord).where(DecisionRecord.action_id == action.id)).scalar_one_or_none()
    if existing is not None:
        return existing
    case = case_of(session, action)
    category = case.category if case else str(action.params.get("category", "other.unclassified"))
    cat = ctx.policy.category(category)
    statement = cat.statement
    reports = case_reports(session, case) if case else []
    own = bool(reports) and all(r.channel == "detector" for r in reports)
    ground = statement.ground if statement else "incompatible"
    if not reports or own:
        source_type = "SOURCE_VOLUNTARY"
    else:
        source_type = "SOURCE_ARTICLE_16" if ground == "illegal" else "SOURCE_TYPE_OTHER_NOTIFICATION"
    source_identity = None
    if source_type != "SOURCE_VOLUNTARY" and cat.reporter_identity_in_notice:
        names = sorted({r.reporter_name or "" for r in reports if r.reporter_name})
        source_identity = "; ".join(names)[:500] or None  # strictly necessary here (copyright: 512(g))
    automated_detection = any(r.automated for r in reports)
    if action.automated and not action.approvals:
        automated_decision = "AUTOMATED_DECISION_FULLY"
    elif action.automated or not _people(action):
        automated_decision = "AUTOMATED_DECISION_PARTIALLY"
    else:
        automated_decision = "AUTOMATED_DECISION_NOT_AUTOMATED"
    visibility, provision, account = _decision_fields(action.kind, category)
    port = str(action.params.get("port", ""))
    restriction = RESTRICTION_TEXT[action.kind].format(port=port)
    if action.ends_at is not None:
        restriction += f", until {action.ends_at.date().isoformat()}"
    else:
        restriction += ", until lifted"
    now = utcnow()
    facts = _facts(cat.description, case, reports, action, own)
    record = DecisionRecord(
        puid=make_puid(ctx, action), action_id=action.id, case_id=action.case_id, account_id=action.account_id,
        category=category, restriction=restriction, decision_visibility=visibility, decision_provision=provision,
        decision_account=account, territorial_scope=list(ctx.settings.statement_territorial_scope),
        end_date=action.ends_at.date() if action.ends_at else None, facts=facts, source_type=source_type,
        source_identity=source_identity, automated_detection=automated_detection, automated_decision=automated_decision,
        ground=ground, clause=cat.clause, legal_ground=(statement.legal_ground or cat.clause) if statement and ground == "illegal" else None,
        explanation=f"{cat.description} {cat.help.why}",
        tdb_category=statement.tdb_category if statement else "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        keywords=list(statement.keywords) if statement else [],
        content_type=[statement.content_type if statement else "CONTENT_TYPE_OTHER"],
        redress=ctx.policy.policy.redress, content_date=(case.first_seen if case else now).date(),
        application_date=now.date(), created_at=now,
    )
    session.add(record)
    session.flush()
    return record


def _people(action: EnforcementAction) -> list[str]:
    return [a for a in action.approvals if is_person(a)]


def _facts(description: str, case: Case | None, reports: list[Report], action: EnforcementAction, own: bool) -> str:
    parts = [description]
    if case is not None:
        origin = "our own network monitoring" if own else f"{case.reporter_count or len(reports)} third-party reporter(s)"
        parts.append(
            f"{case.report_count} report(s) from {origin} between {case.first_seen.date().isoformat()} "
            f"and {case.last_seen.date().isoformat()}."
        )
    else:
        parts.append("Decided on our own initiative.")
    parts.append(_reason_without_personal_data(action.reason))
    return " ".join(p for p in parts if p)[:5000]


def _reason_without_personal_data(text: str) -> str:
    for pattern in _PERSONAL.values():
        text = pattern.sub("[redacted]", text)
    return text


AUTOMATION_TEXT = {
    "AUTOMATED_DECISION_FULLY": "decided automatically by our enforcement playbook",
    "AUTOMATED_DECISION_PARTIALLY": "proposed automatically and confirmed by a person",
    "AUTOMATED_DECISION_NOT_AUTOMATED": "decided by a person",
}
SOURCE_TEXT = {
    "SOURCE_ARTICLE_16": "a notice of illegal content from a third party",
    "SOURCE_TRUSTED_FLAGGER": "a notice from a trusted flagger",
    "SOURCE_TYPE_OTHER_NOTIFICATION": "a complaint from a third party",
    "SOURCE_VOLUNTARY": "our own initiative (our own monitoring or review)",
}


def notice_view(record: DecisionRecord) -> dict[str, str]:
    """The statement of reasons as the customer reads it in a notice (Art. 17(3) a-f)."""
    scope = "worldwide" if not record.territorial_scope else ("the EU/EEA and all other countries" if len(record.territorial_scope) >= len(TERRITORIES) else ", ".join(record.territorial_scope))
    return {
        "restriction": record.restriction,
        "scope": scope,
        "duration": f"until {record.end_date.isoformat()}" if record.end_date else "until lifted",
        "facts": record.facts,
        "source": SOURCE_TEXT.get(record.source_type, record.source_type),
        "automated": ("automated detection was used; " if record.automated_detection else "no automated detection; ") + AUTOMATION_TEXT.get(record.automated_decision, record.automated_decision),
        "ground": f"law: {record.legal_ground or record.clause} (policy clause: {record.clause})" if record.ground == "illegal" else f"our terms: {record.clause}",
        "explanation": record.explanation,
        "reference": record.puid,
    }


# ------------------------------------------------------------------ Transparency Database


def to_tdb(record: DecisionRecord) -> dict[str, Any]:
    """One statement in the Transparency Database API shape (REFERENCE §3.2)."""
    body: dict[str, Any] = {}
    if record.decision_visibility:
        body["decision_visibility"] = list(record.decision_visibility)
    if record.decision_provision:
        body["decision_provision"] = record.decision_provision
    if record.decision_account:
        body["decision_account"] = record.decision_account
    if record.ground == "illegal":
        body["decision_ground"] = "DECISION_GROUND_ILLEGAL_CONTENT"
        body["illegal_content_legal_ground"] = (record.legal_ground or record.clause)[:500]
        body["illegal_content_explanation"] = f"{record.explanation} Policy clause: {record.clause}."[:2000]
    else:
        body["decision_ground"] = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        body["incompatible_content_ground"] = record.clause[:500]
        body["incompatible_content_explanation"] = record.explanation[:2000]
    body["content_type"] = list(record.content_type)
    body["category"] = record.tdb_category
    if record.keywords:
        body["category_specification"] = list(record.keywords)
    body["territorial_scope"] = list(record.territorial_scope)
    body["content_date"] = record.content_date.isoformat()
    body["application_date"] = record.application_date.isoformat()
    if record.end_date is not None:
        end = record.end_date.isoformat()
        if record.decision_account:
            body["end_date_account_restriction"] = end
        if record.decision_provision:
            body["end_date_service_restriction"] = end
        if record.decision_visibility:
            body["end_date_visibility_restriction"] = end
    body["decision_facts"] = record.facts
    body["source_type"] = record.source_type
    if record.source_identity and record.source_type != "SOURCE_VOLUNTARY":
        body["source_identity"] = record.source_identity[:500]
    body["automated_detection"] = "Yes" if record.automated_detection else "No"
    body["automated_decision"] = record.automated_decision
    body["puid"] = record.puid
    return body


def _date_error(name: str, value: Any, low: str, high: str) -> str | None:
    if not isinstance(value, str):
        return f"{name}: required, a date YYYY-MM-DD"
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return f"{name}: {value!r} is not a date YYYY-MM-DD"
    if len(value) != 10 or not (date.fromisoformat(low) <= parsed <= date.fromisoformat(high)):
        return f"{name}: {value} is outside {low}…{high}"
    return None


def validate_statement(body: dict[str, Any]) -> list[str]:
    """Every problem with one statement, each naming the field; empty when it is valid."""
    errors: list[str] = []

    def enum(name: str, allowed: frozenset[str], *, required: bool = False) -> None:
        value = body.get(name)
        if value is None:
            if required:
                errors.append(f"{name}: required")
        elif value not in allowed:
            errors.append(f"{name}: {value!r} is not one of the allowed values")

    def array(name: str, allowed: frozenset[str] | re.Pattern[str], *, required: bool = False) -> None:
        value = body.get(name)
        if value is None:
            if required:
                errors.append(f"{name}: required")
            return
        if not isinstance(value, list) or not value:
            errors.append(f"{name}: must be a non-empty array")
            return
        for item in value:
            ok = allowed.match(item) is not None if isinstance(allowed, re.Pattern) else item in allowed
            if not isinstance(item, str) or not ok:
                errors.append(f"{name}: {item!r} is not an allowed value")

    def text(name: str, limit: int, *, required: bool = False) -> None:
        value = body.get(name)
        if value is None or value == "":
            if required:
                errors.append(f"{name}: required")
        elif not isinstance(value, str):
            errors.append(f"{name}: must be a string")
        elif len(value) > limit:
            errors.append(f"{name}: {len(value)} characters, at most {limit}")

    if not any(body.get(k) for k in ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")):
        errors.append("decision_visibility/decision_monetary/decision_provision/decision_account: at least one is required")
    array("decision_visibility", DECISION_VISIBILITY)
    enum("decision_monetary", DECISION_MONETARY)
    enum("decision_provision", DECISION_PROVISION)
    enum("decision_account", DECISION_ACCOUNT)
    if "DECISION_VISIBILITY_OTHER" in (body.get("decision_visibility") or []):
        text("decision_visibility_other", 500, required=True)
    if body.get("decision_monetary") == "DECISION_MONETARY_OTHER":
        text("decision_monetary_other", 500, required=True)
    enum("account_type", ACCOUNT_TYPE)
    enum("decision_ground", DECISION_GROUND, required=True)
    text("decision_ground_reference_url", 500)
    if body.get("decision_ground") == "DECISION_GROUND_ILLEGAL_CONTENT":
        text("illegal_content_legal_ground", 500, required=True)
        text("illegal_content_explanation", 2000, required=True)
    if body.get("decision_ground") == "DECISION_GROUND_INCOMPATIBLE_CONTENT":
        text("incompatible_content_ground", 500, required=True)
        text("incompatible_content_explanation", 2000, required=True)
        enum("incompatible_content_illegal", YES_NO)
    array("content_type", CONTENT_TYPE, required=True)
    if "CONTENT_TYPE_OTHER" in (body.get("content_type") or []) and body.get("content_type_other") is not None:
        text("content_type_other", 500)
    enum("category", CATEGORY, required=True)
    array("category_addition", CATEGORY)
    array("category_specification", KEYWORD)
    text("category_specification_other", 500)
    array("territorial_scope", TERRITORIES, required=True)
    language = body.get("content_language")
    if language is not None and not (isinstance(language, str) and re.fullmatch(r"[A-Z]{2}", language)):
        errors.append(f"content_language: {language!r} is not an upper-case ISO 639-1 code")
    for name, low in (("content_date", "2000-01-01"), ("application_date", "2020-01-01")):
        problem = _date_error(name, body.get(name), low, "2038-01-01")
        if problem:
            errors.append(problem)
    for name in ("end_date_account_restriction", "end_date_monetary_restriction", "end_date_service_restriction", "end_date_visibility_restriction"):
        if body.get(name) is not None:
            problem = _date_error(name, body[name], "2000-01-01", "2038-01-01")
            if problem:
                errors.append(problem)
    text("decision_facts", 5000, required=True)
    facts = body.get("decision_facts")
    if isinstance(facts, str):
        for what, pattern in _PERSONAL.items():
            if pattern.search(facts):
                errors.append(f"decision_facts: contains {what}; personal data is not allowed")
    enum("source_type", SOURCE_TYPE, required=True)
    text("source_identity", 500)
    enum("automated_detection", YES_NO, required=True)
    enum("automated_decision", AUTOMATED_DECISION, required=True)
    puid = body.get("puid")
    if not isinstance(puid, str) or not puid:
        errors.append("puid: required")
    elif len(puid) > 500 or not PUID.match(puid):
        errors.append(f"puid: {puid!r} must match ^[a-zA-Z0-9-_]+$ and be at most 500 characters")
    return errors


class StatementError(ValueError):
    """Statements that would not be accepted; the message lists each one's problems."""


def export_statements(session: Session, *, records: Iterable[DecisionRecord] | None = None) -> dict[str, Any]:
    """All decision records as ``{"statements": [...]}``; raises before anything is written
    when one does not validate, naming the puid and each field."""
    rows = list(records) if records is not None else list(session.execute(select(DecisionRecord).order_by(DecisionRecord.id)).scalars())
    statements = [to_tdb(r) for r in rows]
    problems: list[str] = []
    seen: set[str] = set()
    for statement in statements:
        puid = str(statement.get("puid"))
        if puid in seen:
            problems.append(f"{puid}: puid used twice")
        seen.add(puid)
        problems.extend(f"{puid}: {error}" for error in validate_statement(statement))
    if problems:
        raise StatementError("statements do not validate:\n  " + "\n  ".join(problems))
    return {"statements": statements}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
