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
from abusedesk.reports.models import Report
from abusedesk.resources import guess_resource
from abusedesk.timeutil import utcnow
from abusedesk.web.models import Appeal, AppealStatus

APPEAL_WINDOW = timedelta(days=183)  # DSA Art. 20(1): at least six months


class ActionRefusedError(Exception):
    """The enforcement domain (or its absence) refused; the message is for the analyst."""


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(f"abusedesk.enforcement.{name}")
    except ImportError:
        return None


def _service() -> Any | None:
    return _module("service")


def _models() -> Any | None:
    return _module("models")


def available() -> bool:
    return _service() is not None


def _has_table(session: Session, name: str) -> bool:
    bind = session.connection()
    return bool(inspect(bind).has_table(name))


def _model(session: Session, name: str, table: str) -> Any | None:
    """Enforcement's model class ``name``, or ``None`` while its table does not exist yet."""
    models = _models()
    if models is None or not _has_table(session, table):
        return None
    return getattr(models, name)


def actions_for_case(session: Session, case_id: int) -> list[Any]:
    action = _model(session, "EnforcementAction", "enforcement_actions")
    if action is None:
        return []
    return list(session.execute(select(action).where(action.case_id == case_id).order_by(action.id)).scalars())


def actions_for_account(session: Session, account_id: str, *, limit: int = 200) -> list[Any]:
    action = _model(session, "EnforcementAction", "enforcement_actions")
    if action is None:
        return []
    return list(session.execute(select(action).where(action.account_id == account_id).order_by(action.id.desc()).limit(limit)).scalars())


def first_action_per_case(session: Session, case_ids: list[int]) -> list[tuple[int, datetime]]:
    """(case id, first action's creation time) for the cases that have actions."""
    action = _model(session, "EnforcementAction", "enforcement_actions") if case_ids else None
    if action is None:
        return []
    rows = session.execute(select(action.case_id, func.min(action.created_at)).where(action.case_id.in_(case_ids)).group_by(action.case_id))
    return [(int(cid), at) for cid, at in rows]


def decisions_for_case(session: Session, case_id: int) -> list[Any]:
    record_model = _model(session, "DecisionRecord", "decision_records")
    if record_model is None:
        return []
    return list(session.execute(select(record_model).where(record_model.case_id == case_id).order_by(record_model.id)).scalars())


def strikes_for_account(session: Session, account_id: str) -> list[Any]:
    strike = _model(session, "Strike", "strikes")
    if strike is None:
        return []
    return list(session.execute(select(strike).where(strike.account_id == account_id).order_by(strike.at.desc()).limit(200)).scalars())


def proposable_kinds() -> list[str]:
    return [k.value for k in ActionKind if k not in (ActionKind.RESTORE, ActionKind.NOTIFY)]


def propose(ctx: Context, session: Session, case: Case, *, kind: str, target: str, reason: str, actor: str, approve: bool = False) -> Any:
    """Propose an action (and approve it at once with ``approve``, where one person may);
    the target defaults to what the playbook would pick."""
    service, flows, pb = _service(), _module("flows"), _module("playbooks")
    if service is None or flows is None or pb is None or not _has_table(session, "enforcement_actions"):
        raise ActionRefusedError("enforcement is not installed in this database yet")
    try:
        action_kind = ActionKind(kind)
    except ValueError:
        raise ActionRefusedError(f"unknown action kind {kind!r}") from None
    reports = list(session.execute(select(Report).where(Report.case_id == case.id)).scalars())
    if target:
        try:
            resource = guess_resource(target)
        except ValueError as exc:
            raise ActionRefusedError(str(exc)) from None
        found = pb.Target(resource.kind.value, resource.value)
    else:
        found = pb.target_for(action_kind, case, reports)
        if found is None:
            raise ActionRefusedError(f"no target for {action_kind.value}: name one")
    playbook = ctx.policy.category(case.category).playbook
    proposal = service.Proposal(
        action_kind, case.account_id, found.kind, found.value, reason, pb.params_for(action_kind, playbook, found), case.id, pb.ends_at(playbook, utcnow()),
    )
    try:
        return service.propose(ctx, session, proposal, actor=actor, approve=approve)
    except service.EnforcementError as exc:
        raise ActionRefusedError(str(exc)) from None


def act(ctx: Context, session: Session, case: Case, action_id: int, verb: str, *, actor: str, reason: str) -> Any:
    """approve → the enforcement approval rules (two people where required); apply → carry
    out an approved action now instead of waiting for the worker (the queued job then finds
    it applied); revert → lift, which records and applies a ``restore`` action."""
    service, flows = _service(), _module("flows")
    if service is None or flows is None or not _has_table(session, "enforcement_actions"):
        raise ActionRefusedError("enforcement is not installed in this database yet")
    action = session.get(_models().EnforcementAction, action_id)  # type: ignore[union-attr]
    if action is None or action.case_id != case.id:
        raise ActionRefusedError(f"no action {action_id} on this case")
    try:
        if verb == "approve":
            return service.approve(ctx, session, action_id, actor=actor)
        if verb == "revert":
            return service.lift(ctx, session, action_id, actor=actor, reason=reason or "reverted in the console")
        if action.state != "approved":
            raise ActionRefusedError(f"action {action_id} is {action.state}; only an approved action can be applied")
        flows.apply_action(ctx, session, action, may_retry=False)
        record(session, actor=actor, action="action.applied_by_hand", object_type="action", object_id=action_id, data={"state": action.state})
        return action
    except service.EnforcementError as exc:
        raise ActionRefusedError(str(exc)) from None


def customer_responded(ctx: Context, session: Session, case: Case, *, actor: str, remediated: bool, note: str) -> None:
    """Tell enforcement the customer answered (a claimed fix stops the deadline)."""
    flows = _module("flows")
    if flows is not None and hasattr(flows, "customer_responded"):
        flows.customer_responded(ctx, session, case, actor=actor, remediated=remediated, note=note)


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


def decide_appeal(ctx: Context, session: Session, appeal: Appeal, *, status_: str, reasons: str, actor: str) -> list[Any]:
    """Record a person's decision; a reversed decision is undone at once (Art. 20(4)):
    the case's applied restrictions are lifted through enforcement. Returns the restores."""
    appeal.status = status_
    appeal.outcome = reasons
    appeal.decided_by = actor
    appeal.decided_at = utcnow()
    record(session, actor=actor, action="appeal.decided", object_type="case", object_id=appeal.case_id, data={"appeal": appeal.id, "outcome": status_})
    service = _service()
    if status_ != AppealStatus.REVERSED or service is None:
        return []
    return list(service.lift_restrictions(ctx, session, appeal.case_id, actor=actor, reason=f"appeal {appeal.id} reversed the decision"))


def holds_and_mandated_reports(session: Session) -> tuple[list[Any], list[Any]]:
    """Preservation holds and mandated reports (CSAM) for the legal page."""
    hold, mandated = _model(session, "PreservationHold", "preservation_holds"), _model(session, "MandatedReport", "mandated_reports")
    holds = list(session.execute(select(hold).order_by(hold.id.desc()).limit(200)).scalars()) if hold is not None else []
    reports = list(session.execute(select(mandated).order_by(mandated.id.desc()).limit(200)).scalars()) if mandated is not None else []
    return holds, reports


# ----------------------------------------------------------------------- counter-notices


def file_counter_notice(ctx: Context, session: Session, case: Case, *, fields: dict[str, Any], actor: str) -> Any:
    """Hand the 512(g)(3) elements to enforcement, which copies the complainant and
    schedules the restore; ``None`` when enforcement is not installed."""
    special = _module("special")
    if special is None or not _has_table(session, "counter_notices"):
        return None
    try:
        return special.submit_counter_notice(ctx, session, case, fields, actor=actor)
    except special.EnforcementError as exc:
        raise ActionRefusedError(str(exc)) from None
