"""Hostile input: each case parses safely or fails with a clear ParseError, quickly.

Abuse mail is written by the abusers as often as by their victims. None of these may
crash a parser, hang it, or let markup or formulas through to what we display.
"""

from __future__ import annotations

import base64
import io
import struct
import zipfile
from email.message import EmailMessage

import pytest

from abusedesk.formats import archive, dmca, iodef, iplist, registry, shadowserver, text, xarf_yaml
from abusedesk.formats.base import ParseError
from abusedesk.formats.csvsafe import is_formula, may_contain_formulas, neutralize
from abusedesk.formats.mail import parse_message

COMPLAINT = b"From: victim@example.org\r\nTo: abuse@provider.example.net\r\nSubject: spam\r\nDate: Sat, 31 Jan 2026 10:00:00 +0000\r\n"


def _ips(data: bytes) -> list[str]:
    reports = registry.parse_input(data)
    return [r.value for report in reports for r in report.resources if r.kind == "ip"]


def test_truncated_mime_keeps_what_is_readable() -> None:
    data = COMPLAINT + (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="cut"\r\n\r\n'
        b"--cut\r\nContent-Type: text/plain\r\n\r\nSSH brute force from 203.0.113.61, see log.\r\n"
        b"--cut\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"QUJDREVGR0hJSktMTU5PUFFS"  # cut mid-part: no closing boundary, no final newline
    )
    reports = registry.parse_input(data)
    assert len(reports) == 1
    assert [r.value for r in reports[0].resources] == ["203.0.113.61"]
    assert reports[0].category is not None
    assert reports[0].category.value == "security.bruteforce"


@pytest.mark.parametrize("charset", ["x-no-such-charset", "utf-8", "utf-7", "bogus\x00"])
def test_wrong_or_unknown_charset(charset: str) -> None:
    body = "Spam von 203.0.113.62 über Ihr Netz, Grüße".encode("latin-1")
    data = COMPLAINT + f'Content-Type: text/plain; charset="{charset}"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'.encode() + body
    assert _ips(data) == ["203.0.113.62"]


def test_eight_bit_headers() -> None:
    data = (
        b"From: J\xc3\xbcrgen M\xfcller <juergen@example.org>\r\nTo: abuse@provider.example.net\r\n"
        b"Subject: Phishing \xe2\x80\x93 \xff\xfe bitte pr\xfcfen\r\nDate: Sat, 31 Jan 2026 10:00:00 +0100\r\n\r\n"
        b"Phishing page at https://login.example.com/bank hosted on 198.51.100.63\r\n"
    )
    reports = registry.parse_input(data)
    assert reports[0].reporter.email == "juergen@example.org"
    assert reports[0].category is not None and reports[0].category.value == "content.phishing"
    assert {r.value for r in reports[0].resources} == {"198.51.100.63", "https://login.example.com/bank"}


def _nested(depth: int) -> bytes:
    inner = EmailMessage()
    inner["Received"] = "from bad.example.com (bad.example.com [203.0.113.64]) by mx.example.org; Sat, 31 Jan 2026 09:00:00 +0000"
    inner["From"] = "spammer@bad.example.com"
    inner["Subject"] = "innermost"
    inner.set_content("Buy at https://pills.example.com/\n")
    for level in range(depth):
        outer = EmailMessage()
        outer["From"] = "victim@example.org" if level == depth - 1 else f"hop{level}@example.net"
        outer["To"] = "abuse@provider.example.net"
        outer["Subject"] = f"Fwd level {level}"
        outer.set_content(f"forwarded, level {level}\n")
        outer.add_attachment(inner)
        inner = outer
    return bytes(inner)


def test_rfc822_nested_twenty_deep() -> None:
    reports = registry.parse_input(_nested(20))
    assert len(reports) == 1
    assert reports[0].source_format == "text"
    # only the first forwarded level is read as a forwarded mail; the rest is not recursed
    assert reports[0].fields["forwarded"][0]["hops"] == 0


def test_rfc822_nested_once_finds_the_spammer() -> None:
    reports = registry.parse_input(_nested(1))
    assert [r.value for r in reports[0].resources] == ["203.0.113.64", "https://pills.example.com/"]


def _zip(name: str, payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr(name, payload)
    return buffer.getvalue()


BOMB_NAME = "2026-01-01-scan_dns-example-asn.csv"
BOMB = _zip(BOMB_NAME, b'"timestamp","ip"\n' + b"\x00" * (24 * 1024 * 1024))


def test_zip_bomb_refused_by_ratio() -> None:
    with pytest.raises(ParseError, match=r"zip refused: expansion ratio \d+:1 over the limit 200:1"):
        shadowserver.parse_bytes(BOMB, BOMB_NAME + ".zip")


def test_zip_bomb_with_lying_sizes_refused_while_reading() -> None:
    data = bytearray(BOMB)
    # rewrite the declared uncompressed size (local header and central directory) to 1 KiB
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 1024)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1024)
    with pytest.raises(ParseError, match="zip"):
        shadowserver.parse_bytes(bytes(data), BOMB_NAME + ".zip")


def test_zip_total_limit_is_a_parameter() -> None:
    small = _zip(BOMB_NAME, b'"timestamp","ip"\n' + b'"2026-01-01 00:00:00","192.0.2.1"\n' * 40)
    assert len(shadowserver.parse_bytes(small, BOMB_NAME + ".zip")) == 40
    with pytest.raises(ParseError, match=r"would expand to \d+ bytes, limit 100"):
        shadowserver.parse_bytes(small, BOMB_NAME + ".zip", max_total=100)


def test_zip_bomb_in_shadowserver_mail() -> None:
    message = EmailMessage()
    message["From"] = "autoreports@shadowserver.org"
    message["Subject"] = "report"
    message.set_content("attached")
    message.add_attachment(BOMB, maintype="application", subtype="zip", filename=BOMB_NAME + ".zip")
    with pytest.raises(ParseError, match="zip refused"):
        registry.parse_input(bytes(message))


def test_gzip_bomb_refused() -> None:
    import gzip

    with pytest.raises(ParseError, match="gzip refused"):
        archive.gunzip(gzip.compress(b"\x00" * (8 * 1024 * 1024)), max_ratio=50)


def test_csv_formula_injection_is_neutralized_in_summary_and_kept_raw() -> None:
    data = b'"timestamp","ip","port","hostname"\n"2026-01-01 00:00:00","192.0.2.9","=1+2","@SUM(A1)"\n'
    report = shadowserver.parse_bytes(data, "2026-01-01-scan_dns-x.csv")[0]
    assert report.summary.endswith("port '=1+2")
    assert report.fields["port"] == "=1+2"
    assert report.fields["hostname"] == "@SUM(A1)"
    assert report.fields["formula_cells"] == ["port", "hostname"]


def test_formula_helpers() -> None:
    assert [neutralize(v) for v in ("=A1", "+1", "-2+3", "@x", "\t=x", "plain", "")] == ["'=A1", "'+1", "'-2+3", "'@x", "'\t=x", "plain", ""]
    assert is_formula(" =x")
    assert not may_contain_formulas(b'"2026-01-01 00:00:00","192.0.2.1","-1"\n')
    assert may_contain_formulas(b'"x","=cmd|\' /C calc\'!A0"\n')


def test_iplist_evidence_is_neutralized() -> None:
    reports = iplist.parse_list(b"ip,comment\n192.0.2.10,=HYPERLINK(\"http://x.example\")\n", "security.scan")
    assert reports[0].evidence == "192.0.2.10 comment='=HYPERLINK(\"http://x.example\")"
    assert reports[0].fields["note"] == "comment==HYPERLINK(\"http://x.example\")"


def test_large_attachment_24_mib() -> None:
    blob = base64.encodebytes(b"\x90" * (24 * 1024 * 1024)).decode()
    data = COMPLAINT + (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n'
        b"--big\r\nContent-Type: text/plain\r\n\r\nDDoS from 198.51.100.65, pcap attached.\r\n"
        b'--big\r\nContent-Type: application/vnd.tcpdump.pcap; name="dump.pcap"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + blob.encode()
        + b"\r\n--big--\r\n"
    )
    reports = registry.parse_input(data)
    assert [r.value for r in reports[0].resources] == ["198.51.100.65"]
    assert reports[0].fields["attachments"] == ["dump.pcap"]


def test_large_text_attachment_is_scanned_within_bounds() -> None:
    log = b"Jan 31 09:00:00 host sshd[1]: Failed password for root from 203.0.113.66 port 22 ssh2\n" * 300_000
    message = parse_message(COMPLAINT + b'Content-Type: text/plain; name="auth.log"\r\n\r\n' + log)
    report = text.parse_mail(message)[0]
    assert [r.value for r in report.resources] == ["203.0.113.66"]


def test_yaml_alias_bomb() -> None:
    bomb = "---\n" + "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)
    ) + "Report-Type: login-attack\nSource: 203.0.113.67\nSource-Type: ipv4\nDate: 2026-01-31T10:00:00Z\n"
    message = EmailMessage()
    message["From"] = "x@example.org"
    message["X-XARF"] = "PLAIN"
    message.set_content("intro")
    message.add_attachment(bomb, filename="report.txt")
    report = xarf_yaml.parse_mail(message)[0]
    assert [r.value for r in report.resources] == ["203.0.113.67"]
    assert "a" not in report.fields  # nested values are not copied, so the bomb never expands


@pytest.mark.parametrize("parse", [iodef.parse_bytes, dmca.parse_bytes])
def test_xml_entity_expansion_refused(parse: object) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-2.0"><Incident>&lol2;</Incident></IODEF-Document>'
    )
    with pytest.raises(ParseError, match=r"forbidden|well-formed"):
        parse(bomb)  # type: ignore[operator]


def test_xml_external_entity_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<Infringement xmlns="http://www.acns.net/ACNS"><Source><IP_Address>&e;</IP_Address></Source></Infringement>'
    )
    with pytest.raises(ParseError):
        dmca.parse_bytes(xxe)


def test_html_markup_and_scripts_never_reach_evidence() -> None:
    html = b"<html><script>alert('x')</script><style>p{}</style><p onclick=x()>Phishing at 203.0.113.68</p><iframe src=//x></iframe></html>"
    data = COMPLAINT + b"Content-Type: text/html\r\n\r\n" + html
    report = registry.parse_input(data)[0]
    assert "Phishing at 203.0.113.68" in report.evidence
    for forbidden in ("<", "alert", "onclick", "p{}"):
        assert forbidden not in report.evidence
