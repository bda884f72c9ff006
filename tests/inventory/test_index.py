from __future__ import annotations

import pytest

from abusedesk.inventory.csvfiles import InventoryFileError, parse_resources
from abusedesk.inventory.index import AttributionIndex, InventoryKind, canonical_network
from abusedesk.resources import guess_resource
from abusedesk.timeutil import parse_timestamp as t

CSV = """account,kind,value,valid_from,valid_to
wide,cidr,192.0.2.0/24,2020-01-01T00:00:00Z,
narrow,cidr,192.0.2.128/26,2020-01-01T00:00:00Z,
before,ip,192.0.2.7,2020-01-01T00:00:00Z,2026-06-01T12:00:00Z
after,ip,192.0.2.7,2026-06-01T12:00:00Z,
v6,cidr,2001:db8:10::/48,2020-01-01T00:00:00Z,
v6host,ip,2001:DB8:10::0005,2020-01-01T00:00:00Z,
web,domain,Example.CO.UK.,2020-01-01T00:00:00Z,
sub,domain,shop.example.co.uk,2020-01-01T00:00:00Z,
mail,email_domain,mail.example,2020-01-01T00:00:00Z,
"""


@pytest.fixture(scope="module")
def index() -> AttributionIndex:
    return AttributionIndex(parse_resources(CSV))


def who(index: AttributionIndex, value: str, at: str = "2026-11-01T00:00:00Z") -> str | None:
    holding = index.lookup(guess_resource(value), t(at))
    return holding.account if holding else None


def test_most_specific_cidr_wins(index: AttributionIndex) -> None:
    assert who(index, "192.0.2.1") == "wide"
    assert who(index, "192.0.2.130") == "narrow"
    assert who(index, "192.0.2.191") == "narrow"
    assert who(index, "192.0.2.192") == "wide"
    assert who(index, "198.51.100.1") is None


def test_time_aware_reassignment(index: AttributionIndex) -> None:
    assert who(index, "192.0.2.7", "2026-06-01T10:00:00Z") == "before"
    assert who(index, "192.0.2.7", "2026-06-01T12:00:00Z") == "after"  # half-open interval
    assert who(index, "192.0.2.7", "2026-06-01T11:59:59Z") == "before"
    assert who(index, "192.0.2.7", "2019-12-31T23:59:59Z") is None  # nobody held it yet


def test_ipv6_normalized_and_specific(index: AttributionIndex) -> None:
    assert who(index, "2001:db8:10::5") == "v6host"
    assert who(index, "2001:0db8:0010:0000:0000:0000:0000:0005") == "v6host"
    assert who(index, "2001:db8:10::6") == "v6"
    assert who(index, "::ffff:192.0.2.130") == "narrow"


def test_domains_match_subdomains_up_to_the_registrable_domain(index: AttributionIndex) -> None:
    assert who(index, "example.co.uk") == "web"
    assert who(index, "www.a.b.example.co.uk") == "web"
    assert who(index, "shop.example.co.uk") == "sub"
    assert who(index, "x.shop.example.co.uk") == "sub"
    assert who(index, "other.co.uk") is None
    assert who(index, "co.uk") is None


def test_urls_by_host_and_emails_by_domain(index: AttributionIndex) -> None:
    assert who(index, "HTTPS://WWW.Example.co.uk/Path?q=1") == "web"
    assert who(index, "http://192.0.2.130:8080/x") == "narrow"
    assert who(index, "http://[2001:db8:10::5]/") == "v6host"
    assert who(index, "someone@mail.example") == "mail"
    assert who(index, "someone@shop.example.co.uk") == "sub"  # falls back to web domains
    assert who(index, "someone@elsewhere.example") is None


def test_public_suffix_cannot_be_held() -> None:
    with pytest.raises(ValueError, match="public suffix"):
        canonical_network(InventoryKind.DOMAIN, "co.uk")


def test_csv_errors_name_their_lines() -> None:
    bad = "account,kind,value,valid_from,valid_to\na,ip,999.1.1.1,2020-01-01T00:00:00Z,\nb,host,x,2020-01-01T00:00:00Z,\nc,ip,192.0.2.1,2021-01-01T00:00:00Z,2020-01-01T00:00:00Z\n"
    with pytest.raises(InventoryFileError) as info:
        parse_resources(bad, source="inv.csv")
    problems = info.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("inv.csv:2:")
    assert problems[1].startswith("inv.csv:3: kind 'host'")
    assert problems[2].startswith("inv.csv:4: valid_to")


def test_csv_header_is_checked() -> None:
    with pytest.raises(InventoryFileError, match="header lacks"):
        parse_resources("account,value\nx,192.0.2.1\n")
