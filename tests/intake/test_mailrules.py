"""The loop and autoresponder rules, table-driven, without a database."""

from __future__ import annotations

import pytest

from abusedesk.formats.mail import parse_message
from abusedesk.intake.mailrules import Envelope, Identity, ack_refusal, automatic_reason, is_machine_report, loop_reason
from tests.intake.mails import arf, complaint, dsn

US = Identity.build("abuse@abusedesk.test", ["abuse@abusedesk.test", "abuse@cloud.test"])
HUMAN = Envelope(mail_from="victim@reporter.example", rcpt_tos=("abuse@abusedesk.test",))


@pytest.mark.parametrize(
    ("headers", "mail_from", "expected"),
    [
        ({}, "victim@reporter.example", None),
        ({"Auto-Submitted": "no"}, "victim@reporter.example", None),
        ({"Auto-Submitted": "auto-generated"}, "victim@reporter.example", "auto-submitted"),
        ({"Auto-Submitted": "auto-replied; owner-email=x@y"}, "victim@reporter.example", "auto-submitted"),
        ({}, "", "null reverse-path"),
        ({}, "MAILER-DAEMON@mx.reporter.example", "role"),
        ({}, "postmaster@reporter.example", "role"),
        ({}, "noreply@reporter.example", "role"),
        ({}, "no-reply@reporter.example", "role"),
        ({}, "reports-noreply@reporter.example", "role"),
        ({}, "donotreply@reporter.example", "role"),
        ({}, "do-not-reply@reporter.example", "role"),
        ({}, "bounce-123-abc@reporter.example", "role"),
        ({}, "bounces+x@reporter.example", "role"),
        ({}, "list-request@reporter.example", "role"),
        ({"Reply-To": "no-reply@reporter.example"}, "victim@reporter.example", "role"),
        ({}, "abuse@abusedesk.test", "our own address"),
        ({}, "abuse+AD-2026-000001@abusedesk.test", "our own address"),
        ({"Precedence": "bulk"}, "victim@reporter.example", "Precedence: bulk"),
        ({"Precedence": "list"}, "victim@reporter.example", "Precedence: list"),
        ({"Precedence": "junk"}, "victim@reporter.example", "Precedence: junk"),
        ({"Precedence": "first-class"}, "victim@reporter.example", None),
        ({"List-Id": "<spam.lists.example>"}, "victim@reporter.example", "mailing list"),
        ({"List-Unsubscribe": "<mailto:u@lists.example>"}, "victim@reporter.example", "mailing list"),
        ({"In-Reply-To": "<a@b.example>"}, "victim@reporter.example", "a reply"),
        ({"References": "<a@b.example>"}, "victim@reporter.example", "a reply"),
        ({"X-Auto-Response-Suppress": "OOF, AutoReply"}, "victim@reporter.example", "X-Auto-Response-Suppress"),
        ({"X-Autoreply": "yes"}, "victim@reporter.example", "auto-reply"),
        ({"Received-SPF": "softfail (domain does not designate)"}, "victim@reporter.example", "SPF fail"),
        ({"Authentication-Results": "mx.abusedesk.test; spf=fail smtp.mailfrom=x"}, "victim@reporter.example", "SPF fail"),
        ({"Authentication-Results": "mx.abusedesk.test; spf=pass smtp.mailfrom=x"}, "victim@reporter.example", None),
    ],
)
def test_when_not_to_acknowledge(headers: dict[str, str], mail_from: str, expected: str | None) -> None:
    message = parse_message(complaint(headers=headers))
    reason = ack_refusal(message, Envelope(mail_from=mail_from), US)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and expected in reason


@pytest.mark.parametrize(
    ("data", "envelope", "expected"),
    [
        (complaint(), HUMAN, None),
        # our own notices, by any of our addresses or by our Message-ID domain
        (complaint(sender="abuse@abusedesk.test"), HUMAN, "own mail"),
        (complaint(sender="ABUSE@cloud.test"), HUMAN, "own mail"),
        (complaint(headers={"Resent-From": "abuse@abusedesk.test"}), HUMAN, "own mail"),
        (complaint(message_id="<123.456.789@abusedesk.test>"), HUMAN, "own mail"),
        # bounces
        (dsn(), Envelope(mail_from=""), "bounce"),
        (dsn(), HUMAN, "bounce"),
        (complaint(sender="MAILER-DAEMON@mx.customer.example"), HUMAN, "bounce"),
        (complaint(), Envelope(mail_from=""), "bounce: null reverse-path"),
        # a feedback loop sending ARF from <> is a report, not a bounce
        (arf(), Envelope(mail_from=""), None),
        (arf(), HUMAN, None),
    ],
)
def test_what_is_a_loop(data: bytes, envelope: Envelope, expected: str | None) -> None:
    reason = loop_reason(parse_message(data), envelope, US)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(expected)


@pytest.mark.parametrize(
    ("data", "ignored"),
    [
        (complaint(), False),
        (complaint(headers={"Auto-Submitted": "no"}), False),
        (complaint(headers={"Auto-Submitted": "auto-replied"}), True),
        # automatic mail in no machine format: a robot's chatter, not a report
        (complaint(headers={"Auto-Submitted": "auto-generated"}), True),
        # machine reports are automatic by nature and are exactly what we are here for
        (arf(auto_submitted="auto-generated"), False),
        (arf(auto_submitted="auto-notified"), False),
        (complaint(headers={"Auto-Submitted": "auto-generated", "X-ARF": "YES"}), False),
    ],
)
def test_automatic_mail(data: bytes, ignored: bool) -> None:
    assert (automatic_reason(parse_message(data)) is not None) is ignored


def test_machine_report_detection_uses_the_registry() -> None:
    assert is_machine_report(parse_message(arf()))
    assert not is_machine_report(parse_message(complaint()))
    spamcop = complaint(sender="spamcop@reports.spamcop.net", body="[ SpamCop V5.4.0 ]\nThis message is brief.\n")
    assert is_machine_report(parse_message(spamcop))


def test_identity_defaults_to_the_notice_domain_and_takes_overrides() -> None:
    assert US.message_id_domains == frozenset({"abusedesk.test"})
    custom = Identity.build("abuse@abusedesk.test", [], ["Notices.Provider.Example"])
    assert custom.message_id_domains == frozenset({"notices.provider.example"})
    assert custom.owns_address("abuse+tag@abusedesk.test")
    assert not custom.owns_address("abuser@abusedesk.test")


def test_machine_reports_are_never_acknowledged_even_without_auto_submitted() -> None:
    reason = ack_refusal(parse_message(arf(auto_submitted=None)), Envelope(mail_from="fbl@isp.example"), US)
    assert reason == "a machine report"
