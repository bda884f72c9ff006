"""Customer and reporter notices: templates, escaping, redaction, threading, throttle,
digests, and one end-to-end delivery through a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select

from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.enforcement import flows
from abusedesk.notices.flows import Skipped, send_case_notice
from abusedesk.notices.models import OutboundMessage
from abusedesk.notices.render import redact_reporter
from abusedesk.timeutil import as_utc
from abusedesk.users.links import read_token
from tests.enforcement.support import case, ingest, report, setup, work

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7*7 }}'


def test_html_notice_escapes_reported_content(ctx: Context) -> None:
    transport = setup(ctx)
    ingest(ctx, report("email.spam", evidence=f"Subject: {HOSTILE}"))
    work(ctx)
    [mail] = transport.sent
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]  # never evaluated


def test_redaction_removes_the_reporter_but_keeps_the_evidence() -> None:
    evidence = "Delivered-To: jane.doe@mailbox.example\nTo: Jane Doe <jane.doe@mailbox.example>\nFrom: offers@spammer.example\nHi jane.doe, buy pills"
    text = redact_reporter(evidence, ["jane.doe@mailbox.example", "Jane Doe"])
    assert "jane" not in text.lower()
    assert "offers@spammer.example" in text and "buy pills" in text
    assert redact_reporter("x" * 5000, []).endswith("[... truncated]")


def test_one_notice_per_case_per_interval(ctx: Context) -> None:
    setup(ctx)
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    with ctx.transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None
        assert send_case_notice(ctx, session, found, actor="alice") == Skipped("repeat-window")
    later = as_utc(case(ctx, case_id).opened_at) + timedelta(seconds=ctx.settings.notice_min_interval_seconds + 5)
    with time_machine.travel(later, tick=False), ctx.transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None
        again = send_case_notice(ctx, session, found, actor="alice")
        assert isinstance(again, OutboundMessage)
        first = session.execute(select(OutboundMessage).where(OutboundMessage.case_id == case_id).order_by(OutboundMessage.id)).scalars().first()
        assert first is not None and again.in_reply_to == first.message_id and again.references == first.message_id


def test_no_contact_is_a_reason_not_an_error(ctx: Context) -> None:
    setup(ctx)
    from abusedesk.inventory.models import Account

    with ctx.transaction() as session:
        session.get(Account, "acme").email = ""  # type: ignore[union-attr]
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    with ctx.transaction() as session:
        assert session.execute(select(OutboundMessage)).first() is None
    from tests.enforcement.support import audit_count

    assert audit_count(ctx, "notice.skipped", case_id) == 1


def test_digest_sends_one_mail_per_recipient(ctx: Context) -> None:
    transport = setup(ctx)
    ctx.settings.notice_digest = True
    first = ingest(ctx, report("email.spam", source="192.0.2.10"))
    second = ingest(ctx, report("security.scan", source="192.0.2.11"))
    work(ctx)
    assert transport.sent == []
    with time_machine.travel(as_utc(case(ctx, second).opened_at) + timedelta(seconds=ctx.settings.notice_digest_window_seconds + 5), tick=False):
        work(ctx)
    [digest] = transport.sent
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert digest["To"] == "noc@acme.example" and "2 notice(s)" in text
    assert case(ctx, first).ref() in text and case(ctx, second).ref() in text
    with ctx.transaction() as session:
        states = sorted(m.status for m in session.execute(select(OutboundMessage).where(OutboundMessage.kind == "notice")).scalars())
        assert states == ["digested", "digested"]


def test_a_held_notice_without_a_digest_job_is_swept(ctx: Context) -> None:
    from abusedesk.enforcement.scheduler import DeadlineScheduler
    from abusedesk.jobs.models import Job

    transport = setup(ctx)
    ctx.settings.notice_digest = True
    case_id = ingest(ctx, report("email.spam"))
    work(ctx)
    with ctx.transaction() as session:  # lose the digest job, as in the race with a running digest
        for job in session.execute(select(Job).where(Job.kind == "notices.digest")).scalars():
            session.delete(job)
    later = as_utc(case(ctx, case_id).opened_at) + timedelta(seconds=ctx.settings.notice_digest_window_seconds + 5)
    with time_machine.travel(later, tick=False):
        assert DeadlineScheduler(ctx).run_once() == 1
        assert DeadlineScheduler(ctx).run_once() == 0
        work(ctx)
    assert [m["Subject"] for m in transport.sent] == ["Abuse notices for your account (1)"]


def test_reporters_hear_the_outcome_when_closed_once(ctx: Context) -> None:
    transport = setup(ctx)
    case_id = ingest(ctx, report("security.scan", reporter="hp@honeypot.example"))
    ingest(ctx, report("security.scan", reporter="hp@honeypot.example", at="2026-11-20T11:00:00Z"))
    work(ctx)
    with ctx.transaction() as session:
        flows.close_case(ctx, session, session.get(Case, case_id), actor="alice", reason="customer fixed it")  # type: ignore[arg-type]
    work(ctx)
    outcomes = [m for m in transport.sent if m["To"] == "hp@honeypot.example"]
    text = outcomes[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert len(outcomes) == 1 and "closed the case" in text
    assert "out-of-court dispute settlement" in text  # DSA Art. 16(5): redress for the notifier
    assert outcomes[0]["Reply-To"].startswith("abuse+AD-")


# ----------------------------------------------------------------------------- real SMTP


class Sink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def test_notices_reach_a_real_smtp_server_threaded(ctx: Context, smtp_sink: tuple[Sink, int]) -> None:
    sink, port = smtp_sink
    setup(ctx)
    ctx.mail_transport = None  # the real SmtpTransport from the settings
    ctx.settings.outbound_smtp_host, ctx.settings.outbound_smtp_port = "127.0.0.1", port
    case_id = ingest(ctx, report("email.spam", evidence="To: victim@mailbox.example\n\nspam body"))
    work(ctx)
    [notice] = sink.messages
    ref = case(ctx, case_id).ref()
    assert notice["Reply-To"] == f"abuse+{ref}@abusedesk.test" and notice["X-Abusedesk-Case"] == ref
    assert notice["Auto-Submitted"] == "auto-generated"
    assert notice.get_body(("html",)) is not None
    # the notice carries a working portal link for this account's case only
    text = notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = text.split("/portal/l/", 1)[1].split()[0]
    assert read_token(ctx, token) == ("acme", case_id)
    due = as_utc(case(ctx, case_id).deadline_at)  # type: ignore[arg-type]
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        work(ctx)
    customer = [m for m in sink.messages if m["To"] == "noc@acme.example"]
    assert len(customer) == 2
    # a long Message-ID may be folded onto the next line: compare the ids, not the whitespace
    first_id = notice["Message-ID"].strip()
    assert customer[1]["In-Reply-To"].strip() == first_id and first_id in customer[1]["References"]


def test_an_unreachable_smtp_server_leaves_the_notice_queued_for_retry(ctx: Context) -> None:
    setup(ctx)
    ctx.mail_transport = None
    ctx.settings.outbound_smtp_host, ctx.settings.outbound_smtp_port = "127.0.0.1", free_port()  # nobody listens
    ingest(ctx, report("email.spam"))
    work(ctx)
    from abusedesk.jobs.models import Job

    with ctx.transaction() as session:
        message = session.execute(select(OutboundMessage)).scalar_one()
        assert message.status == "queued" and message.sent_at is None
        job = session.execute(select(Job).where(Job.kind == "notices.send")).scalar_one()
        assert (job.status, job.attempts) == ("queued", 1) and "Connection refused" in (job.last_error or "")
        assert job.run_after > message.created_at  # backed off
