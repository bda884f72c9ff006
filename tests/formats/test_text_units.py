"""The pieces of free-text reading: refanging, address and time extraction, hops, words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from abusedesk.formats.received import last_external_hop, parse_hop
from abusedesk.formats.text import classify
from abusedesk.formats.textextract import extract, find_times, html_to_text, is_internal_ip, refang
from abusedesk.policy.taxonomy import Category


@pytest.mark.parametrize(
    ("written", "url"),
    [
        ("hxxp://evil[.]example[.]com/a", "http://evil.example.com/a"),
        ("hxxps[:]//evil(dot)example(dot)com/login", "https://evil.example.com/login"),
        ("HXXPS://Evil.Example.COM/Path", "https://evil.example.com/Path"),
        ("fxp://files[.]example.net/x", "ftp://files.example.net/x"),
        ("see (https://shop.example.org/a_(b)).", "https://shop.example.org/a_(b)"),
        ("www.bad.example.net/x?y=1,", "http://www.bad.example.net/x?y=1"),
    ],
)
def test_refanged_urls(written: str, url: str) -> None:
    assert extract(written).urls == [url]


def test_refang_leaves_clean_text_alone() -> None:
    text = "nothing [here] to (change)."
    assert refang(text) is text


def test_addresses_are_normalized_and_internal_ones_dropped() -> None:
    found = extract("from 2001:DB8:0:0:0:0:0:1, 10.1.2.3, 127.0.0.1, 192.0.2.7, ::ffff:198.51.100.3 and fe80::1")
    assert found.ips == ["2001:db8::1", "192.0.2.7", "198.51.100.3"]


def test_times_and_versions_are_not_addresses() -> None:
    found = extract("at 10:00:01, version 1.2.3, counter 12:34:56:78")
    assert found.ips == []


def test_destination_of_a_firewall_line_is_the_victim() -> None:
    found = extract("SRC=203.0.113.9 DST=192.0.2.10 DPT=22")
    assert [r.value for r in found.resources()] == ["203.0.113.9"]


def test_file_names_are_not_domains_but_real_domains_are() -> None:
    found = extract("see config.py, auth.log and index.html on shop.example.com, www.example.org, Evil.Example.NET.")
    assert found.domains == ["shop.example.com", "evil.example.net"]
    assert found.urls == ["http://www.example.org"]


def test_is_internal_ip_keeps_documentation_ranges_public() -> None:
    assert not is_internal_ip("192.0.2.1")
    assert not is_internal_ip("2001:db8::1")
    assert is_internal_ip("100.64.0.1")
    assert is_internal_ip("fd00::1")


MAIL_ZONE = timezone(timedelta(hours=1))
REFERENCE = datetime(2026, 2, 3, 9, 0, tzinfo=MAIL_ZONE)


@pytest.mark.parametrize(
    ("written", "utc", "zone_given"),
    [
        ("2026-01-31T10:00:00Z", datetime(2026, 1, 31, 10, 0, tzinfo=UTC), True),
        ("2026-01-31 10:00:00 +0200", datetime(2026, 1, 31, 8, 0, tzinfo=UTC), True),
        ("Sat, 31 Jan 2026 10:00:00 -0500", datetime(2026, 1, 31, 15, 0, tzinfo=UTC), True),
        ("am 31.01.2026 um 10:00 Uhr MESZ", datetime(2026, 1, 31, 8, 0, tzinfo=UTC), True),
        ("31. Januar 2026 10:00 MEZ", datetime(2026, 1, 31, 9, 0, tzinfo=UTC), True),
        ("[31/Jan/2026:10:00:00 +0100]", datetime(2026, 1, 31, 9, 0, tzinfo=UTC), True),
        ("January 31, 2026 10:00 PST", datetime(2026, 1, 31, 18, 0, tzinfo=UTC), True),
        ("2026-01-31 10:00:00", datetime(2026, 1, 31, 9, 0, tzinfo=UTC), False),
        ("Jan 31 10:00:00 host sshd", datetime(2026, 1, 31, 9, 0, tzinfo=UTC), False),
    ],
)
def test_times_with_their_zones(written: str, utc: datetime, zone_given: bool) -> None:
    found = find_times(written, default_zone=MAIL_ZONE, reference=REFERENCE)
    assert [(t.value, t.zone_given) for t in found] == [(utc, zone_given)]


def test_syslog_time_in_december_seen_in_january_is_last_year() -> None:
    found = find_times("Dec 31 23:59:00 gw kernel", reference=datetime(2026, 1, 2, tzinfo=UTC))
    assert found[0].value == datetime(2025, 12, 31, 23, 59, tzinfo=UTC)


def test_html_to_text_drops_markup_and_keeps_links() -> None:
    text, links = html_to_text("<p>Hi <script>x()</script><a href='https://a.example.com/'>there</a></p><style>p{}</style>")
    assert text == "Hi there"
    assert links == ["https://a.example.com/"]


def test_received_hop_forms() -> None:
    postfix = parse_hop("from mail.example.com (mail.example.com [203.0.113.5]) by mx.example.org (Postfix) with ESMTP; Sat, 31 Jan 2026 10:00:00 +0100")
    assert (postfix.from_ip, postfix.from_host, postfix.by_host) == ("203.0.113.5", "mail.example.com", "mx.example.org")
    assert postfix.received_at == datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    exim = parse_hop("from [198.51.100.7] (helo=spam.example.net) by mx.example.org with esmtp (Exim 4.96)")
    assert exim.from_ip == "198.51.100.7"
    ipv6 = parse_hop("from host.example.net (IPv6:2001:db8::25) by mx.example.org")
    assert ipv6.from_ip == "2001:db8::25"


def test_last_external_hop_skips_the_complainants_own_hops() -> None:
    chain = [
        "from mx-int.example.org (mx-int.example.org [10.0.0.2]) by store.example.org",
        "from mx1.example.org (mx1.example.org [198.51.100.30]) by mx-int.example.org",
        "from relay.example.net (relay.example.net [192.0.2.99]) by mx1.example.org",
        "from forged.example.com ([203.0.113.1]) by relay.example.net",
    ]
    hop, skipped = last_external_hop(chain, {"example.org"}, set())
    assert hop is not None and hop.from_ip == "192.0.2.99"
    assert len(skipped) == 2


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("sshd: Failed password for root from 203.0.113.5", Category.SECURITY_BRUTEFORCE),
        ("Ihr Server führt Brute-Force-Anmeldeversuche durch", Category.SECURITY_BRUTEFORCE),
        ("Portscan von 203.0.113.5, viele Ports gescannt", Category.SECURITY_SCAN),
        ("your customer hosts a phishing page", Category.CONTENT_PHISHING),
        ("Phishing-Seite mit gefälschter Login-Maske", Category.CONTENT_PHISHING),
        ("DDoS attack, 3 Gbit/s UDP flood", Category.NETWORK_DOS),
        ("Schadsoftware wird verteilt (Trojaner)", Category.CONTENT_MALWARE),
        ("unerwünschte Werbung per E-Mail (Spam)", Category.EMAIL_SPAM),
        ("Betrug: Fake-Shop nimmt Vorkasse", Category.CONTENT_FRAUD),
        ("please call me back", Category.OTHER_UNCLASSIFIED),
        ("spam, and child sexual abuse material on the same host", Category.CONTENT_CSAM),
    ],
)
def test_classify_english_and_german(text: str, category: Category) -> None:
    assert classify(text)[0] == category
