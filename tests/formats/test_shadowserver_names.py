"""Shadowserver report names decide the category of every row of their file."""

from __future__ import annotations

import pytest

from abusedesk.formats.shadowserver import category_for, report_name
from abusedesk.policy.taxonomy import Category


@pytest.mark.parametrize(
    ("file_name", "report", "category"),
    [
        ("2026-01-15-scan_dns-example_org-asn.csv", "scan_dns", Category.NETWORK_OPEN_RESOLVER),
        ("2026-01-15-scan6_dns-example-geo.csv", "scan6_dns", Category.NETWORK_OPEN_RESOLVER),
        ("2026-01-15-scan_http_proxy-x.csv", "scan_http_proxy", Category.NETWORK_OPEN_PROXY),
        ("2026-01-15-scan_socks-x.csv.zip", "scan_socks", Category.NETWORK_OPEN_PROXY),
        ("2026-01-15-population_http_proxy-x.csv", "population_http_proxy", Category.INFO_VULNERABLE),
        ("2026-01-15-scan_ntpmonitor-x.csv", "scan_ntpmonitor", Category.INFO_VULNERABLE),
        ("2026-01-15-scan_memcached-x.csv", "scan_memcached", Category.INFO_VULNERABLE),
        ("2026-01-15-scan_smtp-x.csv", "scan_smtp", Category.INFO_VULNERABLE),
        ("2026-01-15-scan_redis-x.csv", "scan_redis", Category.INFO_VULNERABLE),
        ("2026-01-15-event4_ddos_participant-x.csv", "event4_ddos_participant", Category.NETWORK_DOS),
        ("2026-01-15-event4_honeypot_ddos_amp-x.csv", "event4_honeypot_ddos_amp", Category.NETWORK_DOS),
        ("2026-01-15-event4_honeypot_ddos_target-x.csv", "event4_honeypot_ddos_target", Category.OTHER_UNCLASSIFIED),
        ("2026-01-15-event4_ip_spoofer-x.csv", "event4_ip_spoofer", Category.SECURITY_SPOOFING),
        ("2026-01-15-event4_honeypot_brute_force-x.csv", "event4_honeypot_brute_force", Category.SECURITY_BRUTEFORCE),
        ("2026-01-15-event4_honeypot_darknet-x.csv", "event4_honeypot_darknet", Category.SECURITY_SCAN),
        ("2026-01-15-event4_sinkhole_http-x.csv", "event4_sinkhole_http", Category.CONTENT_MALWARE),
        ("2026-01-15-compromised_website-x.csv", "compromised_website", Category.SECURITY_INTRUSION),
        ("2026-01-15-phish_url-x.csv", "phish_url", Category.CONTENT_PHISHING),
        ("2026-01-15-scan_somethingnew-x.csv", "scan_somethingnew", Category.INFO_VULNERABLE),
        ("2026-01-15-brandnew_feed-x.csv", "brandnew_feed", Category.OTHER_UNCLASSIFIED),
    ],
)
def test_report_names(file_name: str, report: str, category: Category) -> None:
    assert report_name(file_name) == report
    assert category_for(report) == category


def test_names_that_are_not_shadowserver_files() -> None:
    assert report_name("invoice.csv") is None
    assert report_name(None) is None
    assert report_name("scan_dns-renamed.csv") is None
    assert report_name("scan_dns-renamed.csv", undated=True) == "scan_dns"
