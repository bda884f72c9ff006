"""The special paths: DMCA notice and counter-notice, CSAM removal, hold and report."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from abusedesk.cases.models import Case
from abusedesk.cases.workflow import CaseStatus
from abusedesk.context import Context
from abusedesk.enforcement.models import CounterNotice, MandatedReport, PreservationHold
from abusedesk.enforcement.playbooks import business_days_between, is_legal_only
from abusedesk.enforcement.special import held_blobs, missing_elements, report_suit, submit_counter_notice
from abusedesk.timeutil import as_utc, utcnow
from tests.enforcement.support import actions, case, ingest, report, setup, work

URL = "http://shop.example/films/blockbuster.mkv"
COMPLETE = {
    "signature": "/s/ Sam Shop", "material": "blockbuster.mkv, my own film", "location": URL,
    "good_faith_statement": "I swear, under penalty of perjury, that I have a good faith belief the material was removed as a result of mistake or misidentification.",
    "name": "Sam Shop", "address": "1 Main St, Springfield", "phone": "+1 555 0100",
    "jurisdiction_consent": "I consent to the jurisdiction of the Federal District Court for my address.",
    "service_consent": "I will accept service of process from the complainant.",
}


def _dmca_case(ctx: Context) -> int:
    case_id = ingest(ctx, report("content.infringing", source=URL, reporter="agent@rights.example", evidence="Work: Blockbuster (2026)"))
    work(ctx)
    return case_id


def test_copyright_notice_disables_and_forwards_with_the_complainant(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = _dmca_case(ctx)
    [disable] = actions(ctx, case_id)
    assert (disable.kind, disable.state, disable.target) == ("disable_url", "applied", URL)
    [notice] = [m for m in transport.sent if m["To"] == "admin@shop.example"]
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "agent@rights.example" in text and "Vic Tim" in text  # the policy says copyright notices carry it
    assert "counter-notice" in text and "penalty of perjury" in text


def test_an_incomplete_counter_notice_lists_what_is_missing(ctx: Context) -> None:
    setup(ctx)
    case_id = _dmca_case(ctx)
    partial = dict(COMPLETE, phone="", good_faith_statement="It was a mistake.")
    assert missing_elements(partial) == ["phone", "good_faith_statement"]
    with ctx.transaction() as session:
        notice = submit_counter_notice(ctx, session, session.get(Case, case_id), partial, actor="customer:shop")  # type: ignore[arg-type]
        assert (notice.state, notice.missing) == ("incomplete", ["phone", "good_faith_statement"])
        assert notice.restore_earliest is None


def test_counter_notice_restores_after_ten_to_fourteen_business_days(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = _dmca_case(ctx)
    with ctx.transaction() as session:
        notice = submit_counter_notice(ctx, session, session.get(Case, case_id), COMPLETE, actor="customer:shop")  # type: ignore[arg-type]
        earliest, latest, received = as_utc(notice.restore_earliest), as_utc(notice.restore_latest), notice.received_at  # type: ignore[arg-type]
    assert business_days_between(received.date(), earliest.date()) == 10
    assert business_days_between(received.date(), latest.date()) == 14
    work(ctx)
    copy = [m for m in transport.sent if m["To"] == "agent@rights.example" and "Counter-notice" in m["Subject"]]
    assert len(copy) == 1 and "Sam Shop" in copy[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with time_machine.travel(earliest - timedelta(minutes=5), tick=False):
        work(ctx)
        assert [a.state for a in actions(ctx, case_id)] == ["applied"]
    with time_machine.travel(earliest + timedelta(seconds=1), tick=False):
        work(ctx)
    assert [(a.kind, a.state) for a in actions(ctx, case_id)] == [("disable_url", "reverted"), ("restore", "applied")]
    with ctx.transaction() as session:
        assert session.execute(select(CounterNotice.state)).scalar_one() == "restored"


def test_a_reported_suit_stops_the_restore(ctx: Context) -> None:
    setup(ctx)
    case_id = _dmca_case(ctx)
    with ctx.transaction() as session:
        found = session.get(Case, case_id)
        notice = submit_counter_notice(ctx, session, found, COMPLETE, actor="customer:shop")  # type: ignore[arg-type]
        earliest = as_utc(notice.restore_earliest)  # type: ignore[arg-type]
        assert report_suit(session, found, actor="legal:carol", note="case 1:26-cv-1") == 1  # type: ignore[arg-type]
    with time_machine.travel(earliest + timedelta(days=10), tick=False):
        work(ctx)
    assert [a.state for a in actions(ctx, case_id)] == ["applied"]


def test_csam_is_removed_at_once_preserved_reported_and_legal_only(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("content.csam", source="http://shop.example/u/x.jpg", reporter="hotline@inhope.example"))
    from abusedesk.enforcement.flows import handle_run_playbooks
    from abusedesk.jobs.models import Job

    with ctx.transaction() as session:  # run only the playbook step: nothing may reach the customer yet
        job = session.execute(select(Job).where(Job.kind == "enforcement.run_playbooks")).scalar_one()
        handle_run_playbooks(ctx, session, job)
        job.status = "done"
        from abusedesk.notices.models import OutboundMessage

        assert session.execute(select(OutboundMessage)).first() is None  # no tip-off before removal
    [removal] = actions(ctx, case_id)
    assert (removal.kind, removal.state) == ("disable_resource", "approved")
    work(ctx)
    [removal] = actions(ctx, case_id)
    assert removal.state == "applied"
    [notice] = transport.sent  # after removal only; the reporter gets no outcome mail
    assert notice["To"] == "admin@shop.example" and "has been removed" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with ctx.transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None and is_legal_only(ctx.policy, found)
        assert found.status == CaseStatus.ACTIONED.value
        hold = session.execute(select(PreservationHold)).scalar_one()
        assert timedelta(days=364) < as_utc(hold.until) - utcnow() <= timedelta(days=365)
        assert len(hold.sha256s) == 1 and held_blobs(session) == set(hold.sha256s)
        mandated = session.execute(select(MandatedReport)).scalar_one()
        assert (mandated.state, mandated.adapter, mandated.submitted_at) == ("recorded", "recording", None)
        assert mandated.payload["case"] == case_id
    assert not is_legal_only(ctx.policy, case(ctx, ingest(ctx, report("email.spam"))))
