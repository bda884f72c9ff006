"""The console's and portal's door into the enforcement domain.

Enforcement (actions, decision records, counter-notices) is built in parallel; this module
is the one place that knows its services, so the views stay the same whichever parts
exist. When the enforcement tables are not in the database yet, actions read as an empty
list and proposing one is refused with a clear message. Appeals are ours (``web.models``)
until enforcement offers an appeal service.
"""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.policy.models import ActionKind
from abusedesk.timeutil import utcnow
from abusedesk.web.models import Appeal, AppealStatus

APPEAL_WINDOW = timedelta(days=183)  # DSA Art. 20(1): at least six months


class ActionRefusedError(Exception):
    """The enforcement domain (or its absence) refused; the message is for the analyst."""


def _service() -> Any | None:
    try:
        return importlib.import_module("abusedesk.enforcement.service")
    except ImportError:
        return None


def _models() -> Any | None:
    try:
        return importlib.import_module("abusedesk.enforcement.models")
    except ImportError:
        return None


def available() -> bool:
    return _service() is not None


def _has_table(session: Session, name: str) -> bool:
    bind = session.connection()
    return bool(inspect(bind).has_table(name))


def actions_for_case(session: Session, case_id: int) -> list[Any]:
    models = _models()
    if models is None or not _has_table(session, "enforcement_actions"):
        return []
    action = models.EnforcementAction
    return list(session.execute(select(action).where(action.case_id == case_id).order_by(action.id)).scalars())


def actions_for_account(session: Session, account_id: str, *, limit: int = 200) -> list[Any]:
    models = _models()
    if models is None or not _has_table(session, "enforcement_actions"):
        return []
    action = models.EnforcementAction
    return list(session.execute(select(action).where(action.account_id == account_id).order_by(action.id.desc()).limit(limit)).scalars())


def first_action_per_case(session: Session, case_ids: list[int]) -> list[tuple[int, datetime]]:
    """(case id, first action's creation time) for the cases that have actions."""
    models = _models()
    if not case_ids or models is None or not _has_table(session, "enforcement_actions"):
        return []
    action = models.EnforcementAction
    rows = session.execute(select(action.case_id, func.min(action.created_at)).where(action.case_id.in_(case_ids)).group_by(action.case_id))
    return [(int(cid), at) for cid, at in rows]


def decisions_for_case(session: Session, case_id: int) -> list[Any]:
    models = _models()
    if models is None or not _has_table(session, "decision_records"):
        return []
    record_model = models.DecisionRecord
    return list(session.execute(select(record_model).where(record_model.case_id == case_id).order_by(record_model.id)).scalars())


def strikes_for_account(session: Session, account_id: str) -> list[Any]:
    models = _models()
    if models is None or not _has_table(session, "strikes"):
        return []
    strike = models.Strike
    return list(session.execute(select(strike).where(strike.account_id == account_id).order_by(strike.at.desc()).limit(200)).scalars())


def proposable_kinds() -> list[str]:
    return [k.value for k in ActionKind if k not in (ActionKind.RESTORE, ActionKind.NOTIFY)]


def propose(ctx: Context, session: Session, case: Case, *, kind: str, target: str, reason: str, actor: str) -> Any:
    service, models = _service(), _models()
    if service is None or models is None or not _has_table(session, "enforcement_actions"):
        raise ActionRefusedError("enforcement is not installed in this database yet")
    try:
        action_kind = ActionKind(kind)
    except ValueError:
        raise ActionRefusedError(f"unknown action kind {kind!r}") from None
    if action_kind.value in getattr(service, "ACCOUNT_KINDS", ()):
        target_kind, target = "account", case.account_id
    else:
        resource_kind, _, value = case.resource_key.partition(":")
        target_kind, target = (resource_kind, target or value) if value else ("account", case.account_id)
    proposal = service.Proposal(kind=action_kind, account_id=case.account_id, target_kind=target_kind, target=target, reason=reason, case_id=case.id)
    try:
        return service.propose(ctx, session, proposal, actor=actor)
    except service.EnforcementError as exc:
        raise ActionRefusedError(str(exc)) from None


def act(ctx: Context, session: Session, case: Case, action_id: int, verb: str, *, actor: str, reason: str) -> Any:
    """approve → the enforcement approval rules (two people where required); apply → the
    service's immediate apply if it has one (else the worker applies after approval);
    revert → lift, which records a ``restore`` action."""
    service = _service()
    if service is None or not _has_table(session, "enforcement_actions"):
        raise ActionRefusedError("enforcement is not installed in this database yet")
    action = session.get(_models().EnforcementAction, action_id)  # type: ignore[union-attr]
    if action is None or action.case_id != case.id:
        raise ActionRefusedError(f"no action {action_id} on this case")
    try:
        if verb == "approve":
            return service.approve(ctx, session, action_id, actor=actor)
        if verb == "revert":
            return service.lift(ctx, session, action_id, actor=actor, reason=reason or "reverted in the console")
        apply_now = getattr(service, "apply_now", None) or getattr(service, "apply_action", None)
        if apply_now is None:
            raise ActionRefusedError("approved actions are applied by the worker; nothing to do by hand")
        return apply_now(ctx, session, action_id, actor=actor)
    except service.EnforcementError as exc:
        raise ActionRefusedError(str(exc)) from None


# ------------------------------------------------------------------------------ appeals


def appealable_until(session: Session, case: Case) -> datetime | None:
    """Six months from the first restriction (or from the case's first notice/action)."""
    decisions = decisions_for_case(session, case.id)
    start = decisions[0].created_at if decisions else None
    if start is None:
        actions = [a for a in actions_for_case(session, case.id) if a.state in ("approved", "applied")]
        start = actions[0].approved_at or actions[0].created_at if actions else None
    if start is None and case.status in ("actioned", "notified", "awaiting_customer", "escalated", "resolved", "closed"):
        start = case.updated_at
    return start + APPEAL_WINDOW if start is not None else None


def file_appeal(session: Session, case: Case, *, account_id: str, grounds: str, actor: str) -> Appeal:
    decisions = decisions_for_case(session, case.id)
    ref = f"decision:{decisions[-1].puid}" if decisions else f"case:{case.id}"
    appeal = Appeal(case_id=case.id, account_id=account_id, decision_ref=ref, grounds=grounds, submitted_at=utcnow(), status=AppealStatus.OPEN)
    session.add(appeal)
    session.flush()
    record(session, actor=actor, action="appeal.filed", object_type="case", object_id=case.id, data={"appeal": appeal.id, "decision": ref})
    return appeal


def decide_appeal(session: Session, appeal: Appeal, *, status_: str, reasons: str, actor: str) -> None:
    appeal.status = status_
    appeal.outcome = reasons
    appeal.decided_by = actor
    appeal.decided_at = utcnow()
    record(session, actor=actor, action="appeal.decided", object_type="case", object_id=appeal.case_id, data={"appeal": appeal.id, "outcome": status_})


# ----------------------------------------------------------------------- counter-notices


def file_counter_notice(ctx: Context, session: Session, case: Case, *, fields: dict[str, str], actor: str) -> Any:
    """Hand the 512(g)(3) elements to enforcement, which schedules the restore."""
    service = _service()
    receive = getattr(service, "receive_counter_notice", None) if service is not None else None
    if receive is None or not _has_table(session, "counter_notices"):
        # kept as correspondence so nothing is lost; enforcement picks it up once installed
        return None
    return receive(ctx, session, case_id=case.id, fields=fields, actor=actor)
