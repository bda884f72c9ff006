"""No input crashes a parser: it returns reports or raises ParseError with a message.

Hypothesis feeds random bytes and input that is shaped like each format (so the search
gets past the first check); every parser must either return a list of well-formed
reports or raise :class:`ParseError` with a non-empty message.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abusedesk.formats import dmca, iodef, iplist, registry, shadowserver, spamcop, text, xarf_yaml
from abusedesk.formats.base import ParsedReport, ParseError
from abusedesk.formats.mail import parse_message
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import ResourceKind, make_resource

SETTINGS = settings(max_examples=int(os.environ.get("ABUSEDESK_HYPOTHESIS_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

_words = st.sampled_from([
    "203.0.113.7", "2001:db8::1", "hxxp://evil[.]example.com/x", "https://shop.example.org/a?b=c", "example.net",
    "Failed password for root from 198.51.100.4 port 22 ssh2", "DDoS", "phishing", "Spam", "Portscan", "DMCA",
    "penalty of perjury", "2026-01-31T10:00:00Z", "31.01.2026 10:00 MEZ", "Jan 31 10:00:01", "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>", "\x00", "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "ü", "[.]", "(dot)",
    "Received: from x (x [192.0.2.1]) by y; Sat, 31 Jan 2026 10:00:00 +0000", "> Received: from a [203.0.113.9] by b",
    "Email from 203.0.113.20 / Tue, 10 Feb 2026 03:04:05 -0500", "<Infringement xmlns=\"http://www.acns.net/ACNS\">",
    "---", "Report-Type: login-attack", "Source: 203.0.113.1", ":", "::", "\r\n", "\n", " ",
])
_prose = st.lists(st.one_of(_words, st.text(max_size=20)), max_size=30).map(" ".join)
_header_names = st.sampled_from(["From", "To", "Subject", "Date", "Received", "Content-Type", "X-ARF", "X-XARF", "Content-Transfer-Encoding", "MIME-Version"])
_header_values = st.one_of(
    _prose,
    st.sampled_from([
        "multipart/mixed; boundary=b", "text/html; charset=utf-8", "text/plain; charset=x-unknown", "message/rfc822",
        "base64", "quoted-printable", "YES", "PLAIN", "1234@reports.spamcop.net", "summaries@admin.spamcop.net",
        "[SpamCop (203.0.113.1) id:1]x", "Sat, 31 Jan 2026 10:00:00 +0100", "not a date",
    ]),
)


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(_header_names, _header_values), max_size=8))
    lines = [f"{name}: {value}".replace("\n", " ").replace("\r", " ") for name, value in headers]
    body = draw(st.one_of(_prose, st.just("--b\r\nContent-Type: text/plain\r\n\r\n203.0.113.5 spam\r\n--b"), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
    return ("\r\n".join(["From: someone@example.net", *lines]) + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")


@st.composite
def csvs(draw: st.DrawFn) -> bytes:
    header = '"timestamp","ip","protocol","port","hostname"'
    rows = draw(st.lists(st.lists(st.one_of(_words, st.text(max_size=12)), min_size=0, max_size=7), max_size=10))
    body = "\n".join(",".join('"' + cell.replace('"', '""') + '"' for cell in row) for row in rows)
    return (header + "\n" + body).encode("utf-8", "surrogateescape")


def _valid(reports: list[ParsedReport]) -> None:
    assert isinstance(reports, list)
    for report in reports:
        assert isinstance(report, ParsedReport)
        assert report.category is None or isinstance(report.category, Category)
        for resource in report.resources:
            # every resource is already in its normal form
            assert make_resource(resource.kind, resource.value) == resource
            assert resource.kind in ResourceKind
        if report.occurred_at is not None:
            assert report.occurred_at.utcoffset() is not None
            assert report.occurred_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def _safe(parse: Callable[[], list[ParsedReport]]) -> None:
    try:
        reports = parse()
    except ParseError as exc:
        assert str(exc).strip(), "a ParseError must say why"  # noqa: PT017 - either outcome is allowed
        return
    _valid(reports)


@SETTINGS
@given(st.one_of(st.binary(max_size=2000), mails(), csvs()))
def test_registry_never_crashes(data: bytes) -> None:
    _safe(lambda: registry.parse_input(data, filename="2026-01-01-scan_dns-x.csv"))
    _safe(lambda: registry.parse_input(data))


@SETTINGS
@given(mails())
def test_text_always_gives_one_report(data: bytes) -> None:
    reports = text.parse_mail(parse_message(data))
    _valid(reports)
    assert len(reports) == 1


@SETTINGS
@given(mails())
def test_mail_parsers_never_crash(data: bytes) -> None:
    message = parse_message(data)
    for parse in (xarf_yaml.parse_mail, spamcop.parse_mail, dmca.parse_mail, dmca.parse_acns_mail, iodef.parse_mail, shadowserver.parse_mail):
        _safe(lambda parse=parse: parse(message))  # type: ignore[misc]


@SETTINGS
@given(st.one_of(csvs(), st.binary(max_size=1000)))
def test_shadowserver_never_crashes(data: bytes) -> None:
    _safe(lambda: shadowserver.parse_bytes(data, "2026-01-01-scan_dns-x.csv"))


@SETTINGS
@given(st.one_of(st.binary(max_size=1000), _prose.map(str.encode), csvs()))
def test_iplist_never_crashes(data: bytes) -> None:
    _safe(lambda: iplist.parse_list(data, "security.scan"))


_xml_pieces = st.sampled_from([
    '<?xml version="1.0"?>', '<IODEF-Document version="2.00" xmlns="urn:ietf:params:xml:ns:iodef-2.0">',
    "<Incident purpose=\"reporting\">", "<IncidentID name=\"x\">1</IncidentID>", "<EventData>", "</EventData>",
    "<Flow><System category=\"source\"><Node><Address category=\"ipv4-addr\">", "203.0.113.5", "not-an-ip",
    "</Address></Node></System></Flow>", "<DetectTime>2026-01-01T00:00:00Z</DetectTime>", "<DetectTime>x</DetectTime>",
    "</Incident>", "</IODEF-Document>", '<!DOCTYPE x [<!ENTITY a "aaaa">]>', "&a;",
    '<Infringement xmlns="http://www.acns.net/ACNS">', "<Source><IP_Address>198.51.100.1</IP_Address>",
    "<TimeStamp>2026-01-01T00:00:00Z</TimeStamp></Source>", "</Infringement>",
])


@SETTINGS
@given(st.lists(_xml_pieces, max_size=25).map(lambda parts: "".join(parts).encode()))
def test_xml_parsers_never_crash(data: bytes) -> None:
    _safe(lambda: iodef.parse_bytes(data))
    _safe(lambda: dmca.parse_bytes(data))


@pytest.mark.parametrize(
    ("parse", "data", "words"),
    [
        (lambda d: shadowserver.parse_bytes(d, "2026-01-01-scan_dns-x.csv"), b"hello,world\n1,2\n", "not a Shadowserver CSV"),
        (iodef.parse_bytes, b"<html><body>hi</body></html>", "not an IODEF document"),
        (iodef.parse_bytes, b"<IODEF-Document", "not well-formed"),
        (dmca.parse_bytes, b"<Infringement xmlns='http://www.acns.net/ACNS'><Source/></Infringement>", "names no subject"),
        (lambda d: iplist.parse_list(d, "no.such"), b"192.0.2.1", "unknown category"),
        (lambda d: iplist.parse_list(d, "security.scan"), b"\xff\xfe\x00", "not UTF-8"),
        (registry.parse_input, b"\x00\x01\x02 binary junk", "not a known report format"),
    ],
)
def test_garbage_gets_a_clear_error(parse: Callable[[bytes], list[ParsedReport]], data: bytes, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        parse(data)
