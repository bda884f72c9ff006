"""Orchestration from case to enforcement: run the playbook, deadlines and escalation,
apply actions after commit, and the analyst's decisions.

The pipeline enqueues one ``enforcement.run_playbooks`` job per batch of touched cases
(in its own transaction); everything here is safe to repeat, because a job may run twice
after a crash: a playbook step is chosen from the case's state, strikes are unique per
case and reason, and the deadline job only escalates the deadline the case still has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.audit.models import AuditEvent
from abusedesk.audit.service import record
from abusedesk.cases.models import Case
from abusedesk.cases.workflow import CaseStatus, can_transition, transition
from abusedesk.context import Context
from abusedesk.enforcement import playbooks as pb
from abusedesk.enforcement.adapters.base import AdapterError
from abusedesk.enforcement.models import ActionState, DecisionRecord, EnforcementAction, TargetKind
from abusedesk.enforcement.service import (
    RESTRICTIVE,
    ActionRefusedError,
    EnforcementError,
    Proposal,
    active_strikes,
    add_strike,
    carry_out,
    case_of,
    case_reports,
    check_target,
    is_person,
    lift,
    lift_restrictions,
    propose,
)
from abusedesk.enforcement.statements import RESTRICTION_TEXT, notice_view
from abusedesk.jobs.models import Job
from abusedesk.jobs.service import enqueue
from abusedesk.notices.flows import Skipped, announced_actions, next_notice_allowed, notify_reporters, send_case_notice
from abusedesk.notices.models import OutboundMessage
from abusedesk.policy.models import ActionKind
from abusedesk.reports.models import Report
from abusedesk.timeutil import as_utc, isoformat_z, parse_timestamp, utcnow

PLAYBOOK_JOB = "enforcement.run_playbooks"
DEADLINE_JOB = "enforcement.deadline"
EXPIRE_JOB = "enforcement.expire"
ANNOUNCE_JOB = "enforcement.announce"
WAITING = frozenset({CaseStatus.NOTIFIED.value, CaseStatus.AWAITING_CUSTOMER.value})
ACTOR = "playbook"


def enqueue_playbooks(session: Session, case_ids: Iterable[int]) -> Job | None:
    """One job for a whole batch of touched cases, in the caller's transaction."""
    ids = sorted(set(case_ids))
    if not ids:
        return None
    return enqueue(session, PLAYBOOK_JOB, {"case_ids": ids})


def handle_run_playbooks(ctx: Context, session: Session, job: Job) -> None:
    ids = [int(i) for i in job.payload["case_ids"]]
    # row locks (PostgreSQL; SQLite serializes writers anyway): two batches touching the
    # same new case run its first step once, the second sees it notified and does nothing
    for case in session.execute(select(Case).where(Case.id.in_(ids)).order_by(Case.id).with_for_update()).scalars():
        run_playbook(ctx, session, case, actor=ACTOR)


def move_case(session: Session, case: Case, target: CaseStatus, *, actor: str, reason: str) -> bool:
    """Transition when the workflow allows it and the case is not there yet."""
    if case.status == target.value or not can_transition(case.status, target):
        return False
    transition(session, case, target, actor=actor, reason=reason)
    return True


def describe(action: EnforcementAction) -> str:
    text = RESTRICTION_TEXT.get(action.kind, action.kind).format(port=action.params.get("port", ""))
    return f"{text} ({action.target_kind} {action.target})" if action.target_kind != "account" else text


def tell(
    ctx: Context, session: Session, case: Case, actions: Sequence[EnforcementAction | None], *, actor: str,
    deadline: datetime | None = None, force: bool = False,
) -> OutboundMessage | Skipped:
    """The customer notice for a step: what was done, each restriction's statement of
    reasons (DSA Art. 17, from its decision record) and the deadline, if any."""
    taken = [a for a in actions if a is not None and a.state in (ActionState.APPROVED.value, ActionState.APPLIED.value)]
    records: dict[int, DecisionRecord] = {}
    if taken:
        rows = session.execute(select(DecisionRecord).where(DecisionRecord.action_id.in_([a.id for a in taken]))).scalars()
        records = {r.action_id: r for r in rows}
    return send_case_notice(
        ctx, session, case, actor=actor, deadline=deadline, force=force, actions=[describe(a) for a in taken],
        statements=[notice_view(records[a.id]) for a in taken if a.id in records], action_ids=[a.id for a in taken],
    )


def announce(ctx: Context, session: Session, action: EnforcementAction, case: Case, *, actor: str) -> bool:
    """Make sure the customer gets this restriction's statement of reasons: now, or when
    the case's repeat window allows (a job). True when it is (or was already) announced."""
    if action.id in announced_actions(session, case.id):
        return True
    outcome = tell(ctx, session, case, [action], actor=actor)
    if isinstance(outcome, OutboundMessage):
        return True
    if outcome.reason == "repeat-window":  # other reasons (no contact) do not pass with time
        _announce_later(ctx, session, action, case)
    return False


def _announce_later(ctx: Context, session: Session, action: EnforcementAction, case: Case) -> None:
    when = next_notice_allowed(ctx, session, case.id)
    enqueue(session, ANNOUNCE_JOB, {"action_id": action.id}, run_after=when, dedupe_key=f"action:{action.id}:announce:{isoformat_z(when)}")


def handle_announce(ctx: Context, session: Session, job: Job) -> None:
    action = session.get(EnforcementAction, int(job.payload["action_id"]))
    case = case_of(session, action) if action is not None else None
    if action is None or case is None or action.state != ActionState.APPLIED.value:
        return
    announce(ctx, session, action, case, actor="worker")


def set_deadline(ctx: Context, session: Session, case: Case, *, actor: str) -> datetime:
    """The playbook's deadline from now, with its durable escalation job.

    The job's dedupe key names the case and the moment, so scheduling the same deadline
    again (a repeated step, the scheduler's sweep after a restart) adds nothing.
    """
    due = (utcnow() + ctx.policy.category(case.category).playbook.deadline).replace(microsecond=0)
    case.deadline_at = due
    _schedule_deadline(session, case.id, due)
    record(session, actor=actor, action="case.deadline_set", object_type="case", object_id=case.id, data={"due": isoformat_z(due)})
    return due


def deadline_key(case_id: int, due: datetime) -> str:
    return f"deadline:{case_id}:{isoformat_z(due)}"


def _schedule_deadline(session: Session, case_id: int, due: datetime) -> Job | None:
    """The escalation job for ``due``; None when that deadline already has one."""
    return enqueue(session, DEADLINE_JOB, {"case_id": case_id, "due": isoformat_z(due)}, run_after=due, dedupe_key=deadline_key(case_id, due))


def propose_rung(
    ctx: Context, session: Session, case: Case, kind: ActionKind, reports: Sequence[Report], *, actor: str,
    approve: bool, reason: str,
) -> EnforcementAction | None:
    """Propose the ladder's action for the case; a refusal is audited, not raised, so
    the case goes on to an analyst instead of failing the whole batch."""
    cat = ctx.policy.category(case.category)
    target = pb.target_for(kind, case, reports)
    if target is None:
        record(session, actor=actor, action="action.refused", object_type="case", object_id=case.id, data={"kind": kind.value, "reason": "no target fits this case"})
        return None
    kind = pb.fit_kind(kind, target)
    try:
        return propose(
            ctx, session,
            Proposal(kind, case.account_id, target.kind, target.value, reason, pb.params_for(kind, cat.playbook, target), case.id, pb.ends_at(cat.playbook, utcnow())),
            actor=actor, approve=approve, automated=not is_person(actor),
        )
    except ActionRefusedError as exc:
        record(session, actor=actor, action="action.refused", object_type="case", object_id=case.id, data={"kind": kind.value, "reason": str(exc)})
        return None


def run_playbook(ctx: Context, session: Session, case: Case, *, actor: str = ACTOR) -> None:
    """The category's first step for a new (or reopened) case; nothing for other states."""
    if case.status != CaseStatus.NEW.value:
        return
    cat = ctx.policy.category(case.category)
    reports = case_reports(session, case)
    if cat.restricted_to_legal or cat.playbook.mandated_report:
        from abusedesk.enforcement.special import run_csam

        run_csam(ctx, session, case, reports, actor=actor)
        return
    if cat.playbook.counter_notice:
        from abusedesk.enforcement.special import run_dmca

        run_dmca(ctx, session, case, reports, actor=actor)
        return
    if not cat.enforceable:
        send_case_notice(ctx, session, case, actor=actor)
        move_case(session, case, CaseStatus.NOTIFIED, actor=actor, reason="informational notice")
        return
    if cat.playbook.auto_containment and pb.confident_detection(reports, cat.playbook):
        _contain(ctx, session, case, reports, actor=actor)
        return
    if cat.playbook.requires_confirmation:
        if pb.confirmed_by_trusted_source(reports, ctx.settings.trusted_reporters):
            act_on_confirmed(ctx, session, case, actor=actor, reason="confirmed by a trusted source")
        else:
            move_case(session, case, CaseStatus.TRIAGED, actor=actor, reason="waiting for an analyst or a trusted source to confirm")
        return
    _notice_and_deadline(ctx, session, case, reports, actor=actor)


def _reopenings(session: Session, case: Case) -> int:
    """How often the case was reopened by a new report (each reopening is a new episode)."""
    rows = session.execute(
        select(AuditEvent.data).where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id), AuditEvent.action == "case.transition")
    ).scalars()
    return sum(1 for data in rows if data.get("to") == CaseStatus.NEW.value)


def add_case_strike(ctx: Context, session: Session, case: Case, reason: str, *, actor: str) -> int:
    """Add the case's strike for ``reason`` (once) and return the active count.

    ``opened`` and ``confirmed`` are per episode: a case reopened by a new report after it
    was resolved is a repeat and counts again; the same step run twice does not.
    """
    if reason in ("opened", "confirmed"):
        episode = _reopenings(session, case)
        reason = reason if episode == 0 else f"{reason}#{episode + 1}"
    add_strike(session, account_id=case.account_id, category=case.category, case_id=case.id, reason=reason, decay=ctx.policy.defaults.strike_decay, actor=actor)
    return active_strikes(session, account_id=case.account_id, category=case.category)


def _notice_and_deadline(ctx: Context, session: Session, case: Case, reports: Sequence[Report], *, actor: str) -> None:
    """Notice with a deadline; a repeat offender's case starts further up the ladder."""
    cat = ctx.policy.category(case.category)
    strikes = add_case_strike(ctx, session, case, "opened", actor=actor)
    kind = pb.rung(cat.playbook, strikes)
    actions: list[EnforcementAction] = []
    if kind is not None and kind is not ActionKind.NOTIFY:
        action = propose_rung(ctx, session, case, kind, reports, actor=actor, approve=cat.playbook.auto_escalate, reason=f"repeat: strike {strikes} within the decay period")
        if action is not None:
            actions.append(action)
    due = set_deadline(ctx, session, case, actor=actor)
    tell(ctx, session, case, actions, actor=actor, deadline=due)
    move_case(session, case, CaseStatus.NOTIFIED, actor=actor, reason=f"notice sent, strike {strikes}")


def _contain(ctx: Context, session: Session, case: Case, reports: Sequence[Report], *, actor: str) -> None:
    """Stop first, talk after: block the source at once, then the notice."""
    cat = ctx.policy.category(case.category)
    strikes = add_case_strike(ctx, session, case, "opened", actor=actor)
    kind = pb.next_restriction(cat.playbook, strikes) or ActionKind.BLOCK_IP
    action = propose_rung(ctx, session, case, kind, reports, actor=actor, approve=True, reason="automatic containment: confident detection by our own monitoring")
    due = set_deadline(ctx, session, case, actor=actor)
    tell(ctx, session, case, [action], actor=actor, deadline=due)
    move_case(session, case, CaseStatus.NOTIFIED, actor=actor, reason="contained and notified")


def act_on_confirmed(ctx: Context, session: Session, case: Case, *, actor: str, reason: str) -> EnforcementAction | None:
    """Phishing or malware confirmed (analyst or trusted source): disable, then notice."""
    cat = ctx.policy.category(case.category)
    reports = case_reports(session, case)
    strikes = add_case_strike(ctx, session, case, "confirmed", actor=actor)
    kind = pb.next_restriction(cat.playbook, strikes)
    action = propose_rung(ctx, session, case, kind, reports, actor=actor, approve=True, reason=reason) if kind else None
    due = set_deadline(ctx, session, case, actor=actor)
    tell(ctx, session, case, [action], actor=actor, deadline=due)
    move_case(session, case, CaseStatus.NOTIFIED, actor=actor, reason=reason)
    return action


def confirm_case(ctx: Context, session: Session, case: Case, *, actor: str) -> EnforcementAction | None:
    """An analyst confirms a case that waits for confirmation (phishing, malware)."""
    if not is_person(actor):
        raise EnforcementError("only a person can confirm a case")
    if case.status not in (CaseStatus.NEW.value, CaseStatus.TRIAGED.value):
        raise EnforcementError(f"case {case.id} is {case.status}; only a new or triaged case waits for confirmation")
    record(session, actor=actor, action="case.confirmed", object_type="case", object_id=case.id, data={})
    # the reason reaches the statement of reasons: who confirmed stays in the audit log only
    return act_on_confirmed(ctx, session, case, actor=actor, reason="confirmed by an analyst")


# ----------------------------------------------------------------------------- deadlines


def handle_deadline(ctx: Context, session: Session, job: Job) -> None:
    case = session.get(Case, int(job.payload["case_id"]), with_for_update=True)
    if case is None:
        return
    escalate(ctx, session, case, due=parse_timestamp(str(job.payload["due"])))


def escalate(ctx: Context, session: Session, case: Case, *, due: datetime, actor: str = "scheduler") -> bool:
    """The deadline passed without remediation: next rung of the ladder.

    Runs only for the deadline the case still has and only while it waits for the
    customer, so a repeated job, a sweep after a restart or a deadline replaced in the
    meantime does nothing. Returns whether it escalated.
    """
    if case.deadline_at is None or as_utc(case.deadline_at) != as_utc(due) or case.status not in WAITING:
        return False
    if utcnow() < as_utc(due):
        return False
    cat = ctx.policy.category(case.category)
    case.deadline_at = None
    strikes = add_case_strike(ctx, session, case, f"deadline:{isoformat_z(due)}", actor=actor)
    transition(session, case, CaseStatus.ESCALATED, actor=actor, reason=f"deadline {isoformat_z(due)} passed, strike {strikes}")
    kind = pb.next_restriction(cat.playbook, strikes)
    if kind is None:
        record(session, actor=actor, action="case.needs_analyst", object_type="case", object_id=case.id, data={"reason": "ladder has no further step"})
        return True
    action = propose_rung(
        ctx, session, case, kind, case_reports(session, case), actor=actor, approve=cat.playbook.auto_escalate,
        reason=f"deadline passed without remediation (strike {strikes})",
    )
    if action is not None and action.state == ActionState.APPROVED.value:
        tell(ctx, session, case, [action], actor=actor)
    else:
        record(session, actor=actor, action="case.needs_analyst", object_type="case", object_id=case.id, data={"proposed": action.id if action else None})
    return True


def sweep_due_deadlines(ctx: Context, session: Session, *, now: datetime | None = None, limit: int = 500) -> int:
    """Make sure every due deadline has its escalation job (idempotent by dedupe key).

    The job written with the deadline normally covers it; this sweep is the safety net
    for deadlines set by other means (an analyst editing ``deadline_at``) and costs one
    indexed query when there is nothing to do.
    """
    moment = now or utcnow()
    due_cases = session.execute(
        select(Case.id, Case.deadline_at).where(
            Case.deadline_at.is_not(None), Case.deadline_at <= moment, Case.status.in_(sorted(WAITING))
        ).limit(limit)
    ).all()
    added = 0
    for case_id, due in due_cases:
        if due is None:
            continue
        added += _schedule_deadline(session, case_id, due) is not None
    return added


# ----------------------------------------------------------------------- applying actions


def handle_apply(ctx: Context, session: Session, job: Job) -> None:
    """Carry out an approved action after commit; a repeat finds it applied and stops."""
    action = session.get(EnforcementAction, int(job.payload["action_id"]))
    if action is not None:
        apply_action(ctx, session, action, may_retry=job.attempts < job.max_attempts)


def apply_action(ctx: Context, session: Session, action: EnforcementAction, *, may_retry: bool) -> None:
    """Apply an approved action through its adapter; it ends ``applied`` or ``failed``, unless
    a retryable adapter error is raised for the job to try again (``may_retry``)."""
    if action.state != ActionState.APPROVED.value:
        return
    if action.kind in RESTRICTIVE and action.target_kind != TargetKind.ACCOUNT.value:
        try:  # the address may have moved to another customer since the approval
            check_target(ctx, session, account_id=action.account_id, target_kind=action.target_kind, target=action.target)
        except ActionRefusedError as exc:
            action.state = ActionState.FAILED.value
            action.last_error = str(exc)
            record(session, actor="worker", action="action.refused", object_type="action", object_id=action.id, data={"reason": str(exc)})
            return
    try:
        result = carry_out(ctx, session, action)
    except AdapterError as exc:
        action.last_error = str(exc)
        if exc.retryable and may_retry:
            raise
        action.state = ActionState.FAILED.value
        record(session, actor="worker", action="action.failed", object_type="action", object_id=action.id, data={"error": str(exc)})
        return
    now = utcnow()
    action.state = ActionState.APPLIED.value
    action.applied_at = now
    action.last_error = None
    action.result = {"changed": result.changed, "detail": result.detail, **result.data}
    record(session, actor="worker", action="action.applied", object_type="action", object_id=action.id, data={"kind": action.kind, "changed": result.changed, "detail": result.detail})
    if action.kind == ActionKind.RESTORE.value and action.reverses_id is not None:
        original = session.get(EnforcementAction, action.reverses_id)
        if original is not None and original.state == ActionState.APPLIED.value:
            original.state = ActionState.REVERTED.value
            original.reverted_at = now
            record(session, actor="worker", action="action.reverted", object_type="action", object_id=original.id, data={"by": action.id})
        return
    if action.ends_at is not None and action.kind in RESTRICTIVE:
        enqueue(session, EXPIRE_JOB, {"action_id": action.id}, run_after=action.ends_at, dedupe_key=f"action:{action.id}:expire")
    case = case_of(session, action)
    if case is None or action.kind not in RESTRICTIVE:
        return
    move_case(session, case, CaseStatus.ACTIONED, actor="worker", reason=f"action {action.id} ({action.kind}) applied")
    # an analyst's action, or one the policy keeps quiet until done (CSAM), is announced now
    announce(ctx, session, action, case, actor="worker")
    notify_reporters(ctx, session, case, outcome="actioned", actor="worker")


def handle_expire(ctx: Context, session: Session, job: Job) -> None:
    """A restriction with a duration ends by itself (through a ``restore`` action)."""
    action = session.get(EnforcementAction, int(job.payload["action_id"]))
    if action is None or action.state != ActionState.APPLIED.value:
        return
    lift(ctx, session, action.id, actor="system:expiry", reason="the restriction period ended")


# ------------------------------------------------------------------------ analyst and customer


def decide(
    ctx: Context, session: Session, case: Case, kind: ActionKind | str, *, actor: str, reason: str,
    target_kind: str | None = None, target: str | None = None, dry_run: bool = False,
) -> EnforcementAction:
    """An analyst's action on a case; the target defaults to what the playbook would pick."""
    action_kind = ActionKind(kind)
    cat = ctx.policy.category(case.category)
    if target_kind is None or target is None:
        found = pb.target_for(action_kind, case, case_reports(session, case))
        if found is None:
            raise ActionRefusedError(f"no target for {action_kind.value} in case {case.id}; name one")
        target_kind, target = found.kind, found.value
    params = pb.params_for(action_kind, cat.playbook, pb.Target(target_kind, target))
    return propose(
        ctx, session, Proposal(action_kind, case.account_id, target_kind, target, reason, params, case.id, pb.ends_at(cat.playbook, utcnow())),
        actor=actor, approve=True, dry_run=dry_run,
    )


def customer_responded(ctx: Context, session: Session, case: Case, *, actor: str, remediated: bool, note: str = "") -> None:
    """The customer answered (portal or mail reply). A claimed fix stops the deadline (the
    case keeps its state for an analyst to verify); it never lifts a restriction by itself."""
    record(session, actor=actor, action="case.customer_response", object_type="case", object_id=case.id, data={"remediated": remediated, "note": note[:2000]})
    if remediated:
        case.deadline_at = None
        record(session, actor=actor, action="case.remediation_claimed", object_type="case", object_id=case.id, data={})


def remediation_claimed(session: Session, case: Case) -> bool:
    found = session.execute(
        select(AuditEvent.id).where(AuditEvent.object_type == "case", AuditEvent.object_id == str(case.id), AuditEvent.action == "case.remediation_claimed").limit(1)
    ).scalar_one_or_none()
    return found is not None


def lift_containment(ctx: Context, session: Session, case: Case, *, actor: str, reason: str) -> list[EnforcementAction]:
    """Lift the case's applied restrictions: the customer remediated and an analyst agrees."""
    if not is_person(actor):
        raise EnforcementError("an analyst must agree before containment is lifted")
    if not remediation_claimed(session, case):
        raise EnforcementError(f"case {case.id}: the customer has not reported a fix yet")
    restores = lift_restrictions(ctx, session, case.id, actor=actor, reason=reason)
    move_case(session, case, CaseStatus.RESOLVED, actor=actor, reason=reason)
    return restores


def close_case(ctx: Context, session: Session, case: Case, *, actor: str, reason: str) -> None:
    """Close (through resolved when needed) and tell the reporters the outcome."""
    move_case(session, case, CaseStatus.RESOLVED, actor=actor, reason=reason)
    transition(session, case, CaseStatus.CLOSED, actor=actor, reason=reason)
    case.deadline_at = None
    notify_reporters(ctx, session, case, outcome="closed", actor=actor)

