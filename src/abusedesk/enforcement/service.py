"""Enforcement database work: propose, approve, refuse; strikes; jobs that apply after commit.

Every function takes an ``actor`` (a person's login, or ``playbook``/``worker`` for the
system) and writes an audit event, so the console, the API and the playbooks share the
same rules: a resource the account does not hold now is refused, a dry run never
restricts anything, and the kinds in ``settings.two_person_kinds`` need two people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.enforcement.adapters import adapter_for, builtin_for
from abusedesk.enforcement.adapters.base import ActionRequest, AdapterResult
from abusedesk.enforcement.models import ActionState, EnforcementAction, Strike, TargetKind
from abusedesk.inventory.models import Account
from abusedesk.jobs.service import enqueue
from abusedesk.policy.models import ActionKind
from abusedesk.reports.models import Report
from abusedesk.resources import Resource, ResourceKind
from abusedesk.timeutil import utcnow

APPLY_JOB = "enforcement.apply"

#: actions that restrict something and so need a statement of reasons (DSA Art. 17)
RESTRICTIVE = frozenset(k.value for k in ActionKind) - {ActionKind.NOTIFY.value, ActionKind.RESTORE.value}
ACCOUNT_KINDS = frozenset({ActionKind.SUSPEND_ACCOUNT.value, ActionKind.TERMINATE_ACCOUNT.value})
#: system actors: they never count as one of the two people
SYSTEM_ACTORS = frozenset({"playbook", "worker", "scheduler", "system"})


class EnforcementError(ValueError):
    """Base of the refusals below; the message is meant for the analyst."""


class ActionRefusedError(EnforcementError):
    """The action would hit something the account does not hold now, or makes no sense."""


class ApprovalError(EnforcementError):
    """The approval rules (two people, state) do not allow this approval."""


def is_person(actor: str) -> bool:
    return actor not in SYSTEM_ACTORS and not actor.startswith("system:")


def check_target(ctx: Context, session: Session, *, account_id: str, target_kind: str, target: str) -> int | None:
    """Refuse targets the account does not hold NOW (attribution index at now).

    Returns the inventory row id of the holding, or None for account-level targets.
    A report's past attribution is not enough: the address may have moved to another
    customer since, and we must never restrict an innocent one.
    """
    if target_kind == TargetKind.ACCOUNT.value:
        if session.get(Account, account_id) is None:
            raise ActionRefusedError(f"no account {account_id!r}")
        if target != account_id:
            raise ActionRefusedError(f"account action target {target!r} is not the account {account_id!r}")
        return None
    try:
        resource = Resource(ResourceKind(target_kind), target)
    except ValueError:
        raise ActionRefusedError(f"unknown target kind {target_kind!r}") from None
    holding = ctx.attribution.get(session).lookup(resource, utcnow())
    if holding is None:
        raise ActionRefusedError(f"refused: no account holds {target_kind}:{target} now")
    if holding.account != account_id:
        raise ActionRefusedError(f"refused: {target_kind}:{target} is held by another account now, not by {account_id}")
    return holding.resource_id


@dataclass(frozen=True, slots=True)
class Proposal:
    kind: ActionKind
    account_id: str
    target_kind: str
    target: str
    reason: str
    params: dict[str, Any] | None = None
    case_id: int | None = None
    ends_at: datetime | None = None


def propose(
    ctx: Context, session: Session, proposal: Proposal, *, actor: str, approve: bool = False,
    dry_run: bool = False, automated: bool = False, adapter: str | None = None,
) -> EnforcementAction:
    """Record a proposed action (refusing bad targets); optionally approve it at once.

    ``dry_run`` runs the adapter's dry run now and stores what it would do; such an
    action can never be approved. With ``approve`` a one-person kind is approved by the
    proposer at once; a two-person kind stays proposed for a second person.
    """
    kind = ActionKind(proposal.kind)
    params = dict(proposal.params or {})
    if kind is ActionKind.RESTORE:
        raise ActionRefusedError("use lift() to restore: it names the action it undoes")
    if kind is ActionKind.RESTRICT_PORT and not params.get("port"):
        raise ActionRefusedError("restrict_port needs a port, e.g. tcp/25")
    if kind.value in ACCOUNT_KINDS and proposal.target_kind != TargetKind.ACCOUNT.value:
        raise ActionRefusedError(f"{kind.value} targets the account, not {proposal.target_kind}:{proposal.target}")
    holding_id = check_target(ctx, session, account_id=proposal.account_id, target_kind=proposal.target_kind, target=proposal.target)
    if holding_id is not None:
        params["inventory_resource_id"] = holding_id
    required = 2 if kind.value in ctx.settings.two_person_kinds else 1
    action = EnforcementAction(
        case_id=proposal.case_id, account_id=proposal.account_id, kind=kind.value, target_kind=proposal.target_kind,
        target=proposal.target, params=params, state=ActionState.PROPOSED.value, dry_run=dry_run,
        adapter=adapter or ctx.settings.enforcement_adapters.get(kind.value, "builtin"), reason=proposal.reason,
        automated=automated, approvals_required=required, approvals=[actor] if is_person(actor) else [],
        proposed_by=actor, ends_at=proposal.ends_at, result={}, created_at=utcnow(),
    )
    session.add(action)
    session.flush()
    record(session, actor=actor, action="action.proposed", object_type="action", object_id=action.id, data={
        "kind": action.kind, "target": f"{action.target_kind}:{action.target}", "case": action.case_id,
        "dry_run": dry_run, "approvals_required": required, "reason": proposal.reason,
    })
    if dry_run:
        result = adapter_for(ctx, session, action.adapter).dry_run(to_request(action))
        action.result = {"dry_run": True, "changed": result.changed, "detail": result.detail}
        record(session, actor=actor, action="action.dry_run", object_type="action", object_id=action.id, data=action.result)
        return action
    if approve and required == 1:
        _approved(ctx, session, action, actor=actor)  # one-person kind: the proposer decides
    return action


def approve(ctx: Context, session: Session, action_id: int, *, actor: str) -> EnforcementAction:
    """Add ``actor``'s approval; at the required count the action is queued for applying."""
    action = get_action(session, action_id)
    if action.dry_run:
        raise ApprovalError(f"action {action.id} is a dry run; propose it again for real")
    if action.state != ActionState.PROPOSED.value:
        raise ApprovalError(f"action {action.id} is {action.state}, not proposed")
    if not is_person(actor) and action.approvals_required > 1:
        raise ApprovalError(f"{action.kind} needs two people; {actor} is not a person")
    if action.approvals_required > 1 and actor == action.proposed_by:
        raise ApprovalError(f"{action.kind} needs a second person: the approver must not be the proposer ({actor})")
    if actor in action.approvals:
        raise ApprovalError(f"{actor} has already approved action {action.id}")
    action.approvals = [*action.approvals, actor]
    record(session, actor=actor, action="action.approval", object_type="action", object_id=action.id, data={"approvals": action.approvals})
    if len(action.approvals) >= action.approvals_required:
        _approved(ctx, session, action, actor=actor)
    return action


def _approved(ctx: Context, session: Session, action: EnforcementAction, *, actor: str) -> None:
    """Approved: write the decision record now (Art. 17: at the latest when imposed) and
    queue the apply job in this transaction, so it runs only after commit."""
    from abusedesk.enforcement.statements import write_decision_record  # decision records need the policy view

    now = utcnow()
    action.state = ActionState.APPROVED.value
    action.approved_by = actor
    action.approved_at = now
    if action.kind in RESTRICTIVE:
        write_decision_record(ctx, session, action)
    enqueue(session, APPLY_JOB, {"action_id": action.id}, dedupe_key=f"action:{action.id}:apply")
    record(session, actor=actor, action="action.approved", object_type="action", object_id=action.id, data={"kind": action.kind})


def reject(session: Session, action_id: int, *, actor: str, reason: str) -> EnforcementAction:
    """A proposal nobody should carry out; kept (failed) with the reason for the record."""
    action = get_action(session, action_id)
    if action.state != ActionState.PROPOSED.value:
        raise ApprovalError(f"action {action.id} is {action.state}, not proposed")
    action.state = ActionState.FAILED.value
    action.last_error = f"rejected by {actor}: {reason}"
    record(session, actor=actor, action="action.rejected", object_type="action", object_id=action.id, data={"reason": reason})
    return action


def lift(ctx: Context, session: Session, action_id: int, *, actor: str, reason: str) -> EnforcementAction:
    """Undo an applied restriction through a ``restore`` action (approved by ``actor``)."""
    original = get_action(session, action_id)
    if original.state != ActionState.APPLIED.value:
        raise ActionRefusedError(f"action {original.id} is {original.state}; only an applied action can be lifted")
    pending = session.execute(
        select(EnforcementAction).where(
            EnforcementAction.reverses_id == original.id,
            EnforcementAction.state.in_([ActionState.PROPOSED.value, ActionState.APPROVED.value]),
        )
    ).scalars().first()
    if pending is not None:
        return pending
    restore = EnforcementAction(
        case_id=original.case_id, account_id=original.account_id, kind=ActionKind.RESTORE.value,
        target_kind=original.target_kind, target=original.target, params=dict(original.params),
        state=ActionState.PROPOSED.value, adapter=original.adapter, reason=reason, automated=not is_person(actor),
        approvals_required=1, approvals=[actor], proposed_by=actor, reverses_id=original.id, result={}, created_at=utcnow(),
    )
    session.add(restore)
    session.flush()
    record(session, actor=actor, action="action.proposed", object_type="action", object_id=restore.id, data={"kind": "restore", "reverses": original.id, "reason": reason})
    _approved(ctx, session, restore, actor=actor)
    return restore


def get_action(session: Session, action_id: int) -> EnforcementAction:
    action = session.get(EnforcementAction, action_id)
    if action is None:
        raise EnforcementError(f"no action {action_id}")
    return action


def to_request(action: EnforcementAction) -> ActionRequest:
    return ActionRequest(action.id, action.kind, action.target_kind, action.target, action.account_id, dict(action.params))


def carry_out(ctx: Context, session: Session, action: EnforcementAction) -> AdapterResult:
    """Apply (or, for ``restore``, revert the original) through the adapter, then mirror the
    new state into the inventory with the built-in adapter. Both steps are idempotent."""
    if action.kind == ActionKind.RESTORE.value:
        original = get_action(session, int(action.reverses_id or 0))
        request = to_request(original)
        result = adapter_for(ctx, session, original.adapter).revert(request)
        if original.adapter != "builtin" and builtin_for(session).supports(original.kind):
            builtin_for(session).revert(request)
        return result
    request = to_request(action)
    if action.kind == ActionKind.NOTIFY.value:
        return AdapterResult(False, "notices go through the outbox")
    result = adapter_for(ctx, session, action.adapter).apply(request)
    if action.adapter != "builtin" and builtin_for(session).supports(action.kind):
        builtin_for(session).apply(request)
    return result


# ----------------------------------------------------------------------------- strikes


def add_strike(
    session: Session, *, account_id: str, category: str, case_id: int | None, reason: str, decay: timedelta,
    at: datetime | None = None, actor: str = "playbook",
) -> bool:
    """Record a strike once per (case, reason); False when it was already there."""
    if case_id is not None:
        exists = session.execute(select(Strike.id).where(Strike.case_id == case_id, Strike.reason == reason)).scalar_one_or_none()
        if exists is not None:
            return False
    when = at or utcnow()
    session.add(Strike(account_id=account_id, category=category, case_id=case_id, reason=reason, at=when, expires_at=when + decay))
    session.flush()
    record(session, actor=actor, action="strike.added", object_type="account", object_id=account_id, data={"category": category, "case": case_id, "reason": reason})
    return True


def active_strikes(session: Session, *, account_id: str, category: str | None = None, at: datetime | None = None) -> int:
    """Strikes not yet decayed; per category when given (the ladder is per category)."""
    query = select(func.count(Strike.id)).where(Strike.account_id == account_id, Strike.expires_at > (at or utcnow()))
    if category is not None:
        query = query.where(Strike.category == category)
    return int(session.execute(query).scalar_one())


def actions_for_case(session: Session, case_id: int, *, states: Sequence[str] | None = None) -> list[EnforcementAction]:
    query = select(EnforcementAction).where(EnforcementAction.case_id == case_id)
    if states is not None:
        query = query.where(EnforcementAction.state.in_(list(states)))
    return list(session.execute(query.order_by(EnforcementAction.id)).scalars())


def lift_restrictions(ctx: Context, session: Session, case_id: int, *, actor: str, reason: str) -> list[EnforcementAction]:
    """Lift every applied restriction of the case (a ``restore`` action each)."""
    applied = actions_for_case(session, case_id, states=[ActionState.APPLIED.value])
    return [lift(ctx, session, a.id, actor=actor, reason=reason) for a in applied if a.kind in RESTRICTIVE]


def case_of(session: Session, action: EnforcementAction) -> Case | None:
    return session.get(Case, action.case_id) if action.case_id is not None else None


def case_reports(session: Session, case: Case) -> list[Report]:
    """The case's reports, oldest first."""
    return list(session.execute(select(Report).where(Report.case_id == case.id).order_by(Report.received_at)).scalars())
