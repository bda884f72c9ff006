"""What the worker makes of accepted mail: reports + acknowledgement, ignored, correspondence."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from abusedesk.audit.models import AuditEvent
from abusedesk.cases.models import Case, format_ref
from abusedesk.context import Context
from abusedesk.intake.flows import accept_mail
from abusedesk.intake.mailrules import Envelope
from abusedesk.intake.models import Correspondence, RawInput, RawStatus
from abusedesk.notices.models import OutboundMessage
from abusedesk.notices.outbox import queue_mail
from abusedesk.notices.transport import RecordingTransport
from abusedesk.reports.models import Report
from tests.helpers import load_inventory
from tests.intake.mails import arf, complaint, dsn

Deliver = Callable[..., RawInput]


@pytest.fixture
def deliver(ctx: Context, run_worker: Callable[[], int], sent: RecordingTransport) -> Deliver:
    """Accept like the SMTP listener does, then let the worker process (and send) it."""
    load_inventory(ctx)

    def run(data: bytes, *, mail_from: str = "victim@reporter.example", to: str = "abuse@abusedesk.test") -> RawInput:
        accepted = accept_mail(ctx, data, Envelope(mail_from=mail_from, rcpt_tos=(to,), peer="127.0.0.1"))
        run_worker()
        with ctx.transaction() as session:
            raw = session.get(RawInput, accepted.raw_id)
            assert raw is not None
            return raw

    return run


def _count(ctx: Context, model: type[object], *where: object) -> int:
    with ctx.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())  # type: ignore[arg-type]


def _acks(ctx: Context, sent: RecordingTransport) -> list[EmailMessage]:
    """The acknowledgements among what was sent (enforcement sends notices too)."""
    with ctx.transaction() as session:
        ids = set(session.execute(select(OutboundMessage.message_id).where(OutboundMessage.kind == "acknowledgement")).scalars())
    return [m for m in sent.sent if m["Message-ID"] in ids]


def _case(ctx: Context) -> Case:
    with ctx.transaction() as session:
        return session.execute(select(Case).order_by(Case.id)).scalars().first()  # type: ignore[return-value]


def test_a_complaint_becomes_a_case_and_the_reporter_gets_one_acknowledgement(ctx: Context, deliver: Deliver, sent: RecordingTransport) -> None:
    raw = deliver(complaint(subject="Spam from 192.0.2.10"))
    assert raw.status == RawStatus.PARSED
    assert raw.meta["ack"].startswith("queued")
    case = _case(ctx)
    ref = format_ref("AD", case.opened_at.year, case.id)
    assert len(_acks(ctx, sent)) == 1
    ack = _acks(ctx, sent)[0]
    assert ack["To"] == "victim@reporter.example"
    assert ack["Subject"] == f"[{ref}] Received: Spam from 192.0.2.10"
    assert ack["Reply-To"] == f"abuse+{ref}@abusedesk.test"
    assert ack["Auto-Submitted"] == "auto-generated"
    assert ack["In-Reply-To"]
    body = ack.get_content()
    assert ref in body and f"R-{raw.id}" in body
    assert "acme" not in body  # never the customer's identity

    # a second mail within the hour: processed, but no second acknowledgement
    again = deliver(complaint(subject="more spam", ip="192.0.2.11"))
    assert again.status == RawStatus.PARSED
    assert "throttled" in again.meta["ack"]
    assert len(_acks(ctx, sent)) == 1
    # another reporter is answered
    deliver(complaint(sender="other@reporter.example"), mail_from="other@reporter.example")
    assert [m["To"] for m in _acks(ctx, sent)] == ["victim@reporter.example", "other@reporter.example"]
    assert _count(ctx, OutboundMessage, OutboundMessage.kind == "acknowledgement") == 2


@pytest.mark.parametrize(
    ("make", "mail_from", "reason"),
    [
        (lambda: complaint(sender="abuse@abusedesk.test"), "abuse@abusedesk.test", "own mail"),
        (lambda: dsn(), "", "bounce"),
        (lambda: complaint(), "", "bounce: null reverse-path"),
        (lambda: complaint(headers={"Auto-Submitted": "auto-replied"}), "victim@reporter.example", "auto-replied"),
        (lambda: complaint(headers={"Auto-Submitted": "auto-generated"}), "victim@reporter.example", "Auto-Submitted"),
    ],
)
def test_loops_are_stored_and_ignored_never_parsed_or_answered(
    ctx: Context, deliver: Deliver, sent: RecordingTransport, make: Callable[[], bytes], mail_from: str, reason: str
) -> None:
    raw = deliver(make(), mail_from=mail_from)
    assert raw.status == RawStatus.IGNORED
    assert raw.error is not None and reason in raw.error
    assert _count(ctx, Report) == 0
    assert _count(ctx, OutboundMessage) == 0
    with ctx.transaction() as session:
        actions = list(session.execute(select(AuditEvent.action).where(AuditEvent.object_id == str(raw.id))).scalars())
    assert actions == ["raw.received", "raw.ignored"]


@pytest.mark.parametrize("mail_from", ["fbl@isp.example", ""])
def test_machine_reports_are_processed_even_when_auto_submitted_but_never_answered(
    ctx: Context, deliver: Deliver, sent: RecordingTransport, mail_from: str
) -> None:
    raw = deliver(arf(), mail_from=mail_from)
    assert raw.status == RawStatus.PARSED
    assert raw.source_format == "arf"
    assert _count(ctx, Report, Report.outcome == "case") == 1
    assert raw.meta["ack"].startswith("skipped")
    assert _acks(ctx, sent) == []


def test_our_own_message_id_coming_back_is_ignored(ctx: Context, deliver: Deliver) -> None:
    with ctx.transaction() as session:
        ours = queue_mail(session, kind="notice", recipient="noc@customer.example", sender="notices@elsewhere.example", subject="n", body_text="b")
        message_id = ours.message_id
    raw = deliver(complaint(sender="forwarder@lists.example", message_id=message_id))
    assert raw.status == RawStatus.IGNORED
    assert "Message-ID of our outbound message" in (raw.error or "")


def test_a_reply_to_a_notice_is_correspondence_not_a_report(ctx: Context, deliver: Deliver, sent: RecordingTransport) -> None:
    deliver(complaint())
    case = _case(ctx)
    with ctx.transaction() as session:
        notice = queue_mail(
            session, kind="notice", recipient="noc@acme.example", sender="abuse@abusedesk.test", subject="Abuse notice",
            body_text="please fix", case_id=case.id,
        )
        notice_id, notice_message_id = notice.id, notice.message_id
    reports_before = _count(ctx, Report)
    reply = complaint(
        sender="noc@acme.example", subject="Re: Abuse notice", ip="192.0.2.10",
        headers={"In-Reply-To": notice_message_id, "References": notice_message_id},
        body="We fixed 192.0.2.10, the machine was compromised.\n",
    )
    raw = deliver(reply, mail_from="noc@acme.example")
    assert raw.status == RawStatus.CORRESPONDENCE
    assert _count(ctx, Report) == reports_before
    with ctx.transaction() as session:
        row = session.execute(select(Correspondence)).scalar_one()
        audit = session.execute(select(AuditEvent).where(AuditEvent.action == "case.correspondence")).scalar_one()
    assert (row.case_id, row.raw_id, row.matched_by, row.party) == (case.id, raw.id, "thread", "customer")
    assert row.in_reply_to_outbound_id == notice_id
    assert "compromised" in row.body_text
    assert audit.object_id == str(case.id)
    # no acknowledgement of a reply: the first complaint's is the only one
    assert len(_acks(ctx, sent)) == 1
    # the customer's mail counts as their answer, as a portal reply does
    with ctx.transaction() as session:
        answered = session.execute(select(AuditEvent).where(AuditEvent.action == "case.customer_response")).scalar_one()
    assert answered.object_id == str(case.id)
    assert answered.actor == "customer-mail:noc@acme.example"


@pytest.mark.parametrize("how", ["recipient", "subject"])
def test_a_case_reference_in_the_recipient_or_subject_makes_correspondence(ctx: Context, deliver: Deliver, how: str) -> None:
    deliver(complaint())
    case = _case(ctx)
    ref = case.ref()
    if how == "recipient":
        raw = deliver(complaint(subject="more logs", ip="192.0.2.99"), to=f"abuse+{ref}@abusedesk.test")
    else:
        raw = deliver(complaint(subject=f"[{ref}] Received: more logs", ip="192.0.2.99"))
    assert raw.status == RawStatus.CORRESPONDENCE
    with ctx.transaction() as session:
        row = session.execute(select(Correspondence)).scalar_one()
    assert (row.case_id, row.matched_by, row.party) == (case.id, how, "reporter")
    assert _count(ctx, Report) == 1
    with ctx.transaction() as session:  # a reporter's mail is not the customer answering
        assert session.execute(select(AuditEvent).where(AuditEvent.action == "case.customer_response")).first() is None


def test_a_reference_to_no_existing_case_is_a_new_report(ctx: Context, deliver: Deliver) -> None:
    deliver(complaint())
    case = _case(ctx)
    wrong_year = f"AD-{case.opened_at.year - 1}-{case.id:06d}"
    raw = deliver(complaint(subject=f"about {wrong_year} and AD-2026-999999", ip="192.0.2.50", sender="x@reporter.example"), to=f"abuse+{wrong_year}@abusedesk.test")
    assert raw.status == RawStatus.PARSED
    assert _count(ctx, Correspondence) == 0
    assert _count(ctx, Report) == 2


def test_a_reporter_replying_to_our_acknowledgement_is_correspondence(ctx: Context, deliver: Deliver, sent: RecordingTransport) -> None:
    deliver(complaint())
    (ack,) = _acks(ctx, sent)
    raw = deliver(complaint(subject="Re: thanks", headers={"In-Reply-To": str(ack["Message-ID"])}, body="Here are more logs.\n"))
    assert raw.status == RawStatus.CORRESPONDENCE
    with ctx.transaction() as session:
        row = session.execute(select(Correspondence)).scalar_one()
    assert (row.matched_by, row.party) == ("thread", "reporter")
    assert len(_acks(ctx, sent)) == 1


def test_a_bounced_notice_is_noted_on_its_case_but_stays_ignored(ctx: Context, deliver: Deliver) -> None:
    deliver(complaint())
    case = _case(ctx)
    with ctx.transaction() as session:
        notice = queue_mail(session, kind="notice", recipient="gone@acme.example", sender="abuse@abusedesk.test", subject="Abuse notice", body_text="b", case_id=case.id)
        notice_id, notice_message_id = notice.id, notice.message_id
    raw = deliver(dsn(notice_message_id), mail_from="")
    assert raw.status == RawStatus.IGNORED
    with ctx.transaction() as session:
        row = session.execute(select(Correspondence)).scalar_one()
    assert (row.case_id, row.matched_by, row.party, row.in_reply_to_outbound_id) == (case.id, "bounce", "mta", notice_id)
    # a bounce of something that is not ours, or of no case, is only ignored
    raw = deliver(dsn("<unknown@elsewhere.example>"), mail_from="")
    assert raw.status == RawStatus.IGNORED
    assert _count(ctx, Correspondence) == 1


def test_a_hostile_subject_cannot_break_or_inject_into_the_acknowledgement(ctx: Context, deliver: Deliver, sent: RecordingTransport) -> None:
    # an encoded line feed would otherwise smuggle a header into our reply
    raw = deliver(complaint(subject="=?utf-8?q?spam=0D=0ABcc:_victim@evil.example?="))
    assert raw.meta["ack"].startswith("queued")
    (ack,) = _acks(ctx, sent)
    assert ack["Bcc"] is None
    assert "\n" not in str(ack["Subject"]) and "Bcc: victim@evil.example" in str(ack["Subject"])


def test_an_analyst_can_list_set_aside_mail_and_process_it_anyway(ctx: Context, deliver: Deliver, sent: RecordingTransport) -> None:
    from typer.testing import CliRunner

    from abusedesk.cli import app

    raw = deliver(complaint(headers={"Auto-Submitted": "auto-generated"}, subject="fail2ban report"))
    assert raw.status == RawStatus.IGNORED
    env = {"ABUSEDESK_DATA_DIR": str(ctx.settings.data_dir), "ABUSEDESK_DATABASE_URL": ctx.settings.effective_database_url}
    runner = CliRunner()
    listed = runner.invoke(app, ["mail", "ignored"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "Auto-Submitted" in listed.output and "victim@reporter.example" in listed.output
    processed = runner.invoke(app, ["mail", "process", str(raw.id)], env=env)
    assert processed.exit_code == 0, processed.output
    assert "→ AD-" in processed.output
    assert _count(ctx, Report) == 1
    assert _acks(ctx, sent) == []
    again = runner.invoke(app, ["mail", "process", str(raw.id)], env=env)
    assert again.exit_code == 1 and "not ignored" in again.output


def test_a_reply_to_our_mail_that_names_no_single_case_is_never_a_new_report(ctx: Context, deliver: Deliver) -> None:
    with ctx.transaction() as session:
        digest = queue_mail(session, kind="digest", recipient="noc@acme.example", sender="abuse@abusedesk.test", subject="3 notices", body_text="...")
        digest_id = digest.message_id
    raw = deliver(complaint(sender="noc@acme.example", subject="Re: 3 notices", headers={"In-Reply-To": digest_id}), mail_from="noc@acme.example")
    assert raw.status == RawStatus.IGNORED
    assert "names no single case" in (raw.error or "")
    assert _count(ctx, Report) == 0
