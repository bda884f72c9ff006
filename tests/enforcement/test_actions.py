"""Actions: refusal of resources not held now, dry runs, two people, restore, records."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from abusedesk.context import Context
from abusedesk.enforcement.models import DecisionRecord, EnforcementAction
from abusedesk.enforcement.service import (
    ActionRefusedError,
    ApprovalError,
    Proposal,
    approve,
    lift,
    propose,
)
from abusedesk.inventory.models import Account, InventoryResource
from abusedesk.policy.models import ActionKind
from tests.enforcement.support import audit_count, setup, work


def _state(ctx: Context, action_id: int) -> str:
    with ctx.transaction() as session:
        action = session.get(EnforcementAction, action_id)
        assert action is not None
        return action.state


def test_an_address_the_account_no_longer_holds_is_refused(ctx: Context) -> None:
    setup(ctx)  # 198.51.100.7 moved from "before" to "after" in 2026-06
    with ctx.transaction() as session, pytest.raises(ActionRefusedError, match="held by another account now"):
        propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "before", "ip", "198.51.100.7", "old report"), actor="alice", approve=True)
    with ctx.transaction() as session, pytest.raises(ActionRefusedError, match="no account holds"):
        propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "acme", "ip", "203.0.113.5", "typo"), actor="alice", approve=True)
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "after", "ip", "198.51.100.7", "current holder"), actor="alice", approve=True)
        assert action.state == "approved"


def test_dry_run_reports_and_changes_nothing(ctx: Context) -> None:
    setup(ctx)
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.SUSPEND_ACCOUNT, "acme", "account", "acme", "what if"), actor="alice", dry_run=True)
        action_id = action.id
        assert action.result == {"dry_run": True, "changed": True, "detail": "would set account acme active → suspended"}
    work(ctx)
    with ctx.transaction() as session:
        assert session.get(Account, "acme").status == "active"  # type: ignore[union-attr]
        assert session.execute(select(DecisionRecord)).first() is None  # nothing restricted, no statement
        with pytest.raises(ApprovalError, match="dry run"):
            approve(ctx, session, action_id, actor="bob")
    assert audit_count(ctx, "action.dry_run", action_id) == 1


def test_termination_needs_two_different_people(ctx: Context) -> None:
    setup(ctx)
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.TERMINATE_ACCOUNT, "acme", "account", "acme", "repeated fraud"), actor="alice", approve=True)
        action_id = action.id
        assert action.state == "proposed" and action.approvals == ["alice"]
    with ctx.transaction() as session, pytest.raises(ApprovalError, match="must not be the proposer"):
        approve(ctx, session, action_id, actor="alice")
    with ctx.transaction() as session, pytest.raises(ApprovalError, match="not a person"):
        approve(ctx, session, action_id, actor="playbook")
    work(ctx)
    assert _state(ctx, action_id) == "proposed"
    with ctx.transaction() as session:
        assert approve(ctx, session, action_id, actor="bob").state == "approved"
    work(ctx)
    assert _state(ctx, action_id) == "applied"
    with ctx.transaction() as session:
        assert session.get(Account, "acme").status == "terminated"  # type: ignore[union-attr]
        record = session.execute(select(DecisionRecord).where(DecisionRecord.action_id == action_id)).scalar_one()
        assert (record.decision_account, record.decision_provision) == ("DECISION_ACCOUNT_TERMINATED", "DECISION_PROVISION_TOTAL_TERMINATION")
        assert record.automated_decision == "AUTOMATED_DECISION_NOT_AUTOMATED"
        assert record.source_type == "SOURCE_VOLUNTARY"


def test_two_person_rule_is_configurable_per_kind(ctx: Context) -> None:
    setup(ctx)
    ctx.settings.two_person_kinds = ["terminate_account", "suspend_account"]
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.SUSPEND_ACCOUNT, "acme", "account", "acme", "x"), actor="alice", approve=True)
        assert action.state == "proposed" and action.approvals_required == 2


def test_apply_runs_after_commit_once_and_restore_reverts(ctx: Context) -> None:
    setup(ctx)
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.RESTRICT_PORT, "acme", "ip", "192.0.2.20", "manual", {"port": "tcp/25"}), actor="alice", approve=True)
        action_id = action.id
        holding = session.execute(select(InventoryResource).where(InventoryResource.account_id == "acme")).scalar_one()
        assert holding.state == "active"  # nothing happens before commit and the worker
    assert work(ctx) == 1
    assert work(ctx) == 0
    with ctx.transaction() as session:
        assert session.execute(select(InventoryResource).where(InventoryResource.account_id == "acme")).scalar_one().state == "restricted"
        with pytest.raises(ActionRefusedError, match="restore"):
            propose(ctx, session, Proposal(ActionKind.RESTORE, "acme", "ip", "192.0.2.20", "x"), actor="alice")
        restore = lift(ctx, session, action_id, actor="alice", reason="customer fixed the relay")
        assert lift(ctx, session, action_id, actor="alice", reason="again").id == restore.id  # one pending restore
    work(ctx)
    assert _state(ctx, action_id) == "reverted"
    with ctx.transaction() as session:
        assert session.execute(select(InventoryResource).where(InventoryResource.account_id == "acme")).scalar_one().state == "active"
    assert audit_count(ctx, "action.applied") == 2  # the restriction and the restore


def test_an_adapter_failure_is_retried_then_marked_failed(ctx: Context) -> None:
    from abusedesk.enforcement.adapters.base import ActionRequest, AdapterError, AdapterResult
    from abusedesk.jobs.models import Job

    class Broken:
        name = "broken"
        calls = 0

        def supports(self, kind: str) -> bool:
            return True

        def dry_run(self, request: ActionRequest) -> AdapterResult:
            return AdapterResult(True, "would")

        def apply(self, request: ActionRequest) -> AdapterResult:
            Broken.calls += 1
            raise AdapterError("control plane down")

        def revert(self, request: ActionRequest) -> AdapterResult:
            raise AdapterError("down")

    setup(ctx)
    ctx.adapter_overrides["broken"] = Broken()
    ctx.settings.enforcement_adapters = {"block_ip": "broken"}
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "acme", "ip", "192.0.2.30", "x"), actor="alice", approve=True)
        action_id = action.id
        assert action.adapter == "broken"
        job = session.execute(select(Job).where(Job.kind == "enforcement.apply")).scalar_one()
        job.max_attempts = 2
    work(ctx)
    assert _state(ctx, action_id) == "approved"  # first failure: retried later with backoff
    with ctx.transaction() as session:
        job = session.execute(select(Job).where(Job.kind == "enforcement.apply")).scalar_one()
        assert job.status == "queued" and "control plane down" in (job.last_error or "")
        job.run_after = job.created_at
    work(ctx)
    assert _state(ctx, action_id) == "failed" and Broken.calls == 2


def test_an_address_that_moved_after_approval_is_not_touched(ctx: Context) -> None:
    from abusedesk.inventory.service import end_resource
    from abusedesk.timeutil import utcnow

    setup(ctx)
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "after", "ip", "198.51.100.7", "x"), actor="alice", approve=True)
        action_id = action.id
        holding_id = action.params["inventory_resource_id"]
    with ctx.transaction() as session:  # the customer gives the address back before the worker runs
        end_resource(session, resource_id=holding_id, valid_to=utcnow(), actor="provisioning")
    work(ctx)
    with ctx.transaction() as session:
        failed = session.get(EnforcementAction, action_id)
        assert failed is not None and failed.state == "failed" and "no account holds" in (failed.last_error or "")
        assert session.get(InventoryResource, holding_id).state == "active"  # type: ignore[union-attr]


def test_a_restriction_with_a_duration_lifts_itself(ctx: Context) -> None:
    from datetime import timedelta

    import time_machine

    from abusedesk.timeutil import utcnow

    setup(ctx)
    ends = utcnow() + timedelta(hours=6)
    with ctx.transaction() as session:
        action = propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "acme", "ip", "192.0.2.40", "x", ends_at=ends), actor="alice", approve=True)
        action_id = action.id
        record = session.execute(select(DecisionRecord).where(DecisionRecord.action_id == action_id)).scalar_one()
        assert record.end_date == ends.date() and record.restriction.endswith(f"until {ends.date().isoformat()}")
    work(ctx)
    assert _state(ctx, action_id) == "applied"
    with time_machine.travel(ends - timedelta(minutes=1), tick=False):
        work(ctx)
        assert _state(ctx, action_id) == "applied"
    with time_machine.travel(ends + timedelta(seconds=1), tick=False):
        work(ctx)
    assert _state(ctx, action_id) == "reverted"


def test_a_crash_after_the_adapter_acted_repeats_safely(ctx: Context) -> None:
    """The worker dies after the firewall changed but before the commit: the job runs
    again, the adapter finds the effect in place, and the action is applied once."""
    from abusedesk.enforcement.adapters.base import ActionRequest, AdapterResult

    class Firewall:
        name = "firewall"

        def __init__(self) -> None:
            self.blocked: set[str] = set()
            self.calls = 0

        def supports(self, kind: str) -> bool:
            return kind == "block_ip"

        def dry_run(self, request: ActionRequest) -> AdapterResult:
            return AdapterResult(request.target not in self.blocked, "would block")

        def apply(self, request: ActionRequest) -> AdapterResult:
            self.calls += 1
            changed = request.target not in self.blocked
            self.blocked.add(request.target)
            if self.calls == 1:
                raise SystemError("worker killed after the firewall call")  # not an AdapterError: a crash
            return AdapterResult(changed, "blocked")

        def revert(self, request: ActionRequest) -> AdapterResult:
            changed = request.target in self.blocked
            self.blocked.discard(request.target)
            return AdapterResult(changed, "unblocked")

    from abusedesk.jobs.models import Job

    setup(ctx)
    firewall = Firewall()
    ctx.adapter_overrides["firewall"] = firewall
    ctx.settings.enforcement_adapters = {"block_ip": "firewall"}
    with ctx.transaction() as session:
        action_id = propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "acme", "ip", "192.0.2.50", "x"), actor="alice", approve=True).id
    work(ctx)
    assert _state(ctx, action_id) == "approved" and firewall.blocked == {"192.0.2.50"}
    with ctx.transaction() as session:
        job = session.execute(select(Job).where(Job.kind == "enforcement.apply")).scalar_one()
        job.run_after = job.created_at  # the retry is due
    work(ctx)
    with ctx.transaction() as session:
        action = session.get(EnforcementAction, action_id)
        assert action is not None and action.state == "applied" and action.result["changed"] is False
    assert firewall.calls == 2 and firewall.blocked == {"192.0.2.50"}
    assert audit_count(ctx, "action.applied", action_id) == 1
