"""Playbooks end to end through the pipeline and the worker, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from abusedesk.cases.models import Case
from abusedesk.cases.workflow import CaseStatus
from abusedesk.context import Context
from abusedesk.enforcement import flows
from abusedesk.enforcement.models import DecisionRecord, Strike
from abusedesk.enforcement.scheduler import DeadlineScheduler
from abusedesk.enforcement.service import EnforcementError, active_strikes
from abusedesk.inventory.models import Account, InventoryResource
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.worker import Worker
from abusedesk.timeutil import as_utc, utcnow
from tests.enforcement.support import actions, audit_count, case, ingest, report, setup, work


def test_spam_gets_a_notice_with_a_48h_deadline(ctx: Context) -> None:
    transport = setup(ctx)
    start = utcnow()
    case_id = ingest(ctx, report("email.spam", evidence="To: victim@mailbox.example\nSubject: cheap pills\n\nbuy now"))
    work(ctx)
    found = case(ctx, case_id)
    assert found.status == CaseStatus.NOTIFIED.value
    assert found.deadline_at is not None
    assert timedelta(hours=47, minutes=59) < as_utc(found.deadline_at) - start < timedelta(hours=48, minutes=1)
    [mail] = transport.sent
    ref = found.ref()
    assert mail["To"] == "noc@acme.example"
    assert mail["Reply-To"] == f"abuse+{ref}@abusedesk.test"
    assert ref in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "No E-Mail or Other Message Abuse" in body  # the clause
    assert "Send only to recipients who opted in" in body  # help.fix
    assert "cheap pills" in body and "victim@mailbox.example" not in body  # reporter removed
    assert actions(ctx, case_id) == []  # first strike: notice only
    with ctx.transaction() as session:
        assert active_strikes(session, account_id="acme", category="email.spam") == 1


def test_escalation_fires_after_the_deadline_not_before_and_once(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    due = as_utc(case(ctx, case_id).deadline_at)  # type: ignore[arg-type]
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        work(ctx)
        DeadlineScheduler(ctx).run_once()
        work(ctx)
        assert case(ctx, case_id).status == CaseStatus.NOTIFIED.value
        assert actions(ctx, case_id) == []
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        work(ctx)
        escalated = case(ctx, case_id)
        assert escalated.status == CaseStatus.ACTIONED.value  # escalated, then the action applied
        [action] = actions(ctx, case_id)
        assert (action.kind, action.state, action.params["port"]) == ("restrict_port", "applied", "tcp/25")
        # a restart: fresh worker and scheduler, sweeps repeated; nothing runs twice
        for _ in range(2):
            assert DeadlineScheduler(ctx).run_once() == 0
            Worker(ctx, default_handlers(), name="after-restart").run_until_idle()
        assert len(actions(ctx, case_id)) == 1
        assert audit_count(ctx, "case.deadline_set", case_id) == 1
        with ctx.transaction() as session:
            reasons = sorted(s.reason for s in session.execute(select(Strike).where(Strike.case_id == case_id)).scalars())
            assert reasons == ["deadline:" + due.isoformat().replace("+00:00", "Z"), "opened"]
            holding = session.execute(select(InventoryResource).where(InventoryResource.account_id == "acme")).scalars().one()
            assert holding.state == "restricted"
            record = session.execute(select(DecisionRecord).where(DecisionRecord.action_id == action.id)).scalar_one()
            assert record.decision_provision == "DECISION_PROVISION_PARTIAL_SUSPENSION"
            assert record.clause == "No E-Mail or Other Message Abuse"
            assert record.source_type == "SOURCE_TYPE_OTHER_NOTIFICATION"
            assert record.automated_decision == "AUTOMATED_DECISION_FULLY"
            assert "six months" in record.redress
    first, second = [m for m in transport.sent if m["To"] == "noc@acme.example"]
    [outcome] = [m for m in transport.sent if m["To"] == "victim@mailbox.example"]
    assert "took action" in outcome.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "acme" not in outcome.as_string().lower()  # the customer is never named to the reporter
    assert second["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in second["References"]
    text = second.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "tcp/25" in text
    assert f"Statement of reasons (abusedesk-{case_id}-{action.id})" in text  # DSA Art. 17 in the notice
    assert "Automated means: no automated detection; decided automatically by our enforcement playbook" in text
    assert "Ground: our terms: No E-Mail or Other Message Abuse" in text


def test_a_lost_deadline_job_is_recreated_by_the_scheduler_once(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    from abusedesk.jobs.models import Job

    with ctx.transaction() as session:  # simulate a deadline whose job vanished
        for job in session.execute(select(Job).where(Job.kind == flows.DEADLINE_JOB)).scalars():
            session.delete(job)
    due = as_utc(case(ctx, case_id).deadline_at)  # type: ignore[arg-type]
    with time_machine.travel(due + timedelta(seconds=5), tick=False):
        assert DeadlineScheduler(ctx).run_once() == 1
        assert DeadlineScheduler(ctx).run_once() == 0  # idempotent
        work(ctx)
        assert case(ctx, case_id).status == CaseStatus.ACTIONED.value
        assert audit_count(ctx, "action.applied") == 1


def test_strikes_drive_the_ladder_and_decay(ctx: Context) -> None:
    setup(ctx)
    first = ingest(ctx, report("email.spam", source="192.0.2.10"))
    work(ctx)
    assert actions(ctx, first) == []
    second = ingest(ctx, report("email.spam", source="192.0.2.11"))  # a repeat: strike 2
    work(ctx)
    [restrict] = actions(ctx, second)
    assert (restrict.kind, restrict.state, restrict.target) == ("restrict_port", "applied", "192.0.2.11")
    third = ingest(ctx, report("email.spam", source="192.0.2.12"))  # strike 3 in 90 days
    work(ctx)
    [suspend] = actions(ctx, third)
    assert (suspend.kind, suspend.state, suspend.target_kind) == ("suspend_account", "applied", "account")
    with ctx.transaction() as session:
        assert session.get(Account, "acme").status == "suspended"  # type: ignore[union-attr]
        for case_id in (first, second, third):  # the analyst closes them; no deadline is left
            flows.close_case(ctx, session, session.get(Case, case_id), actor="alice", reason="done")  # type: ignore[arg-type]
    with time_machine.travel(utcnow() + timedelta(days=91), tick=False):
        fourth = ingest(ctx, report("email.spam", source="192.0.2.13", at="2027-02-25T10:00:00Z"))
        work(ctx)
        assert actions(ctx, fourth) == []  # old strikes decayed: back to a notice
        with ctx.transaction() as session:
            assert active_strikes(session, account_id="acme", category="email.spam") == 1


def test_own_confident_dos_detection_is_contained_at_once_then_lifted(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("network.dos", reporter="detector@abusedesk.test", automated=True, confidence=0.97), channel="detector")
    work(ctx)
    [block] = actions(ctx, case_id)
    assert (block.kind, block.state, block.target) == ("block_ip", "applied", "192.0.2.10")
    assert case(ctx, case_id).status == CaseStatus.ACTIONED.value
    [notice] = transport.sent
    assert "all traffic of the address blocked" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with ctx.transaction() as session:
        record = session.execute(select(DecisionRecord)).scalar_one()
        assert (record.source_type, record.automated_detection) == ("SOURCE_VOLUNTARY", True)
        found = session.get(Case, case_id)
        assert found is not None
        with pytest.raises(EnforcementError, match="not reported a fix"):
            flows.lift_containment(ctx, session, found, actor="alice", reason="fixed")
    with ctx.transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None
        flows.customer_responded(ctx, session, found, actor="customer:acme", remediated=True, note="killed the flooder")
        with pytest.raises(EnforcementError, match="analyst"):
            flows.lift_containment(ctx, session, found, actor="playbook", reason="auto")
        flows.lift_containment(ctx, session, found, actor="alice", reason="verified: traffic stopped")
    work(ctx)
    states = [(a.kind, a.state) for a in actions(ctx, case_id)]
    assert states == [("block_ip", "reverted"), ("restore", "applied")]
    assert case(ctx, case_id).status == CaseStatus.RESOLVED.value


def test_unconfident_or_third_party_dos_waits_for_notice(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("network.dos", automated=True, confidence=0.5), channel="detector")
    work(ctx)
    [proposal] = actions(ctx, case_id)  # the ladder's block waits for an analyst
    assert (proposal.kind, proposal.state) == ("block_ip", "proposed")
    assert case(ctx, case_id).status == CaseStatus.NOTIFIED.value


def test_phishing_waits_for_confirmation_then_disables_the_url(ctx: Context) -> None:
    transport = setup(ctx)
    url = "http://shop.example/login/verify.php"
    case_id = ingest(ctx, report("content.phishing", source=url))
    work(ctx)
    assert case(ctx, case_id).status == CaseStatus.TRIAGED.value
    assert actions(ctx, case_id) == [] and transport.sent == []
    with ctx.transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None
        with pytest.raises(EnforcementError, match="person"):
            flows.confirm_case(ctx, session, found, actor="playbook")
        flows.confirm_case(ctx, session, found, actor="alice")
    work(ctx)
    [disable] = actions(ctx, case_id)
    assert (disable.kind, disable.state, disable.target) == ("disable_url", "applied", url)
    found_case = case(ctx, case_id)
    assert found_case.deadline_at is not None and as_utc(found_case.deadline_at) - utcnow() < timedelta(hours=24, minutes=1)
    assert [m["To"] for m in transport.sent] == ["admin@shop.example", "victim@mailbox.example"]  # notice, outcome


def test_phishing_from_a_trusted_source_is_acted_on_at_once(ctx: Context, make_settings: object) -> None:
    setup(ctx)
    ctx.settings.trusted_reporters = ["@phishlabs.example"]
    case_id = ingest(ctx, report("content.phishing", source="http://shop.example/x", reporter="feed@phishlabs.example"))
    work(ctx)
    [disable] = actions(ctx, case_id)
    assert (disable.kind, disable.state) == ("disable_url", "applied")


def test_open_resolver_gets_seven_days_then_the_port_is_firewalled(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("network.open_resolver"))
    work(ctx)
    text = transport.sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "allow-recursion" in text and "udp/53" in text
    due = as_utc(case(ctx, case_id).deadline_at)  # type: ignore[arg-type]
    assert timedelta(days=6, hours=23) < due - utcnow() <= timedelta(days=7)
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        work(ctx)
    [restrict] = actions(ctx, case_id)
    assert (restrict.kind, restrict.state, restrict.params["port"]) == ("restrict_port", "applied", "udp/53")


def test_other_categories_escalate_to_an_analyst(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("security.scan"))
    work(ctx)
    due = as_utc(case(ctx, case_id).deadline_at)  # type: ignore[arg-type]
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        work(ctx)
    assert case(ctx, case_id).status == CaseStatus.ESCALATED.value
    [proposal] = actions(ctx, case_id)
    assert (proposal.kind, proposal.state) == ("block_ip", "proposed")  # the analyst decides
    assert audit_count(ctx, "case.needs_analyst", case_id) == 1


def test_the_playbook_job_repeated_does_nothing_more(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("email.spam"))
    ingest(ctx, report("email.spam", at="2026-11-20T10:05:00Z"))  # a second batch touching the same case
    with ctx.transaction() as session:
        flows.enqueue_playbooks(session, [case_id])  # and a duplicate job, as after a crash
    work(ctx)
    assert len(transport.sent) == 1
    assert audit_count(ctx, "strike.added") == 1 and audit_count(ctx, "case.deadline_set", case_id) == 1


def test_a_case_reopened_by_a_new_report_counts_as_a_repeat(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    with ctx.transaction() as session:
        flows.close_case(ctx, session, session.get(Case, case_id), actor="alice", reason="customer cleaned up")  # type: ignore[arg-type]
    assert ingest(ctx, report("email.spam", at="2026-11-22T10:00:00Z")) == case_id  # inside the quiet window: reopened
    work(ctx)
    [restrict] = actions(ctx, case_id)
    assert (restrict.kind, restrict.state) == ("restrict_port", "applied")
    with ctx.transaction() as session:
        reasons = sorted(s.reason for s in session.execute(select(Strike).where(Strike.case_id == case_id)).scalars())
        assert reasons == ["opened", "opened#2"]


def test_a_claimed_fix_stops_the_deadline(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    due = as_utc(case(ctx, case_id).deadline_at)  # type: ignore[arg-type]
    with ctx.transaction() as session:
        flows.customer_responded(ctx, session, session.get(Case, case_id), actor="portal:acme", remediated=True, note="removed the script")  # type: ignore[arg-type]
    with time_machine.travel(due + timedelta(hours=1), tick=False):
        work(ctx)
        DeadlineScheduler(ctx).run_once()
        work(ctx)
    found = case(ctx, case_id)
    assert found.status == CaseStatus.NOTIFIED.value and found.deadline_at is None
    assert actions(ctx, case_id) == []


def test_confirmed_malware_on_a_host_disables_the_resource(ctx: Context) -> None:
    setup(ctx)
    ctx.settings.trusted_reporters = ["@abuse.ch"]
    case_id = ingest(ctx, report("content.malware", source="192.0.2.66", reporter="feeds@abuse.ch"))
    work(ctx)
    [disable] = actions(ctx, case_id)
    assert (disable.kind, disable.target_kind, disable.state) == ("disable_resource", "ip", "applied")
    with ctx.transaction() as session:
        record = session.execute(select(DecisionRecord)).scalar_one()
        assert (record.decision_provision, record.decision_visibility) == (None, ["DECISION_VISIBILITY_CONTENT_DISABLED"])


def test_an_analysts_restriction_is_announced_once_after_the_repeat_window(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("security.scan"))
    work(ctx)
    assert len(transport.sent) == 1  # the first notice
    with ctx.transaction() as session:
        action_id = flows.decide(ctx, session, session.get(Case, case_id), "block_ip", actor="alice", reason="scanning goes on").id  # type: ignore[arg-type]
    work(ctx)
    assert [a.state for a in actions(ctx, case_id)] == ["applied"]
    assert [m["To"] for m in transport.sent] == ["noc@acme.example", "victim@mailbox.example"]  # notice held back by the window
    later = utcnow() + timedelta(seconds=ctx.settings.notice_min_interval_seconds + 5)
    with time_machine.travel(later, tick=False):
        work(ctx)
        work(ctx)
    customer = [m for m in transport.sent if m["To"] == "noc@acme.example"]
    assert len(customer) == 2
    text = customer[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"Statement of reasons (abusedesk-{case_id}-{action_id})" in text and "decided by a person" in text
    assert customer[1]["X-Abusedesk-Actions"] == str(action_id)
