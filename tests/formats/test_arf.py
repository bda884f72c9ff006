"""ARF variants the corpus does not cover."""

from __future__ import annotations

from abusedesk.formats.registry import parse_input

SPAMCOP_ARF = b"""From: 1234567890@reports.spamcop.net
To: abuse@abusedesk.test
Subject: [SpamCop (192.0.2.77) id:1234567890]Cheap pills
Message-ID: <spamcop-arf-1@spamcop.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain

[ SpamCop V5.4.0 ]
This message is brief for your comfort.  Please use links below for details.

Email from 192.0.2.77 / Mon, 23 Nov 2026 10:00:00 +0100
https://www.spamcop.net/w3m?i=z1234567890

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SpamCop-FBL
Version: 1

--b1
Content-Type: message/rfc822

From: seller@pills.example
Subject: Cheap pills

Buy now.
--b1--
"""


def test_spamcop_arf_without_source_ip_uses_the_email_from_line() -> None:
    [report] = parse_input(SPAMCOP_ARF)
    line = report.contract("x")
    assert line["source_format"] == "arf"
    assert line["category"] == "email.spam"
    assert line["resources"] == [{"kind": "ip", "value": "192.0.2.77"}]
    assert line["occurred_at"] == "2026-11-23T09:00:00Z"


def test_malformed_address_header_does_not_break_arf() -> None:
    data = SPAMCOP_ARF.replace(b"To: abuse@abusedesk.test", b"To: a@")
    [report] = parse_input(data)
    assert report.resources[0].value == "192.0.2.77"
