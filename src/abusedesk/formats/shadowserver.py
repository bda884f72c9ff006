"""Shadowserver CSV reports: a file, or a plain or zipped attachment of their mail.

One row is one report (DESIGN.md). The report name comes from the file name
``YYYY-MM-DD-<report>[-suffix].csv`` and alone decides the category: every row of a
``scan_dns`` file is an open resolver. Files run to hundreds of thousands of rows, so the
row loop does the least work that keeps the contract: IPv4 addresses are checked by one
precompiled regex (the canonical form is already normal), times are cached per distinct
string, and formula checks are skipped when one scan of the whole file finds no cell that
could start a formula.
"""

from __future__ import annotations

import csv
import gc
import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from typing import Any

from abusedesk.formats import archive
from abusedesk.formats.base import ParsedReport, ParseError, Reporter
from abusedesk.formats.csvsafe import is_formula, may_contain_formulas, neutralize
from abusedesk.formats.mail import filename, header, part_bytes, reporter_from, walk
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, normalize_ip, normalize_url

FORMAT = "shadowserver"
C = Category

#: zip limits (REFERENCE: Shadowserver mails zipped CSVs); callers may pass their own
MAX_RATIO = archive.MAX_RATIO
MAX_TOTAL = archive.MAX_TOTAL

#: report name (the file-name token) → category. TAXONOMY.md "Shadowserver report" rows,
#: REFERENCE.md §1.7. Informational "accessible-X" and amplifier reports are
#: ``info.vulnerable``; names not listed fall to :data:`REPORT_RULES`.
REPORTS: dict[str, Category] = {
    "scan_dns": C.NETWORK_OPEN_RESOLVER,
    "scan6_dns": C.NETWORK_OPEN_RESOLVER,
    "dns_openresolver": C.NETWORK_OPEN_RESOLVER,
    "scan_http_proxy": C.NETWORK_OPEN_PROXY,
    "scan6_http_proxy": C.NETWORK_OPEN_PROXY,
    "scan_socks": C.NETWORK_OPEN_PROXY,
    "scan6_socks": C.NETWORK_OPEN_PROXY,
    "population_http_proxy": C.INFO_VULNERABLE,
    "population6_http_proxy": C.INFO_VULNERABLE,
    "event4_ddos_participant": C.NETWORK_DOS,
    "event6_ddos_participant": C.NETWORK_DOS,
    "ddos_amplification": C.NETWORK_DOS,
    "event4_honeypot_ddos_amp": C.NETWORK_DOS,
    "event4_honeypot_ddos": C.NETWORK_DOS,
    "event4_ip_spoofer": C.SECURITY_SPOOFING,
    "event6_ip_spoofer": C.SECURITY_SPOOFING,
    "event4_honeypot_brute_force": C.SECURITY_BRUTEFORCE,
    "event6_honeypot_brute_force": C.SECURITY_BRUTEFORCE,
    "drone_brute_force": C.SECURITY_BRUTEFORCE,
    "event4_honeypot_darknet": C.SECURITY_SCAN,
    "event6_honeypot_darknet": C.SECURITY_SCAN,
    "event4_honeypot_http_scan": C.SECURITY_SCAN,
    "event6_honeypot_http_scan": C.SECURITY_SCAN,
    "event4_honeypot_scan": C.SECURITY_SCAN,
    "event4_scanner": C.SECURITY_SCAN,
    "darknet": C.SECURITY_SCAN,
    "hp_http_scan": C.SECURITY_SCAN,
    "event4_sinkhole": C.CONTENT_MALWARE,
    "event6_sinkhole": C.CONTENT_MALWARE,
    "event4_sinkhole_http": C.CONTENT_MALWARE,
    "event6_sinkhole_http": C.CONTENT_MALWARE,
    "event4_sinkhole_dns": C.CONTENT_MALWARE,
    "event4_microsoft_sinkhole": C.CONTENT_MALWARE,
    "event4_microsoft_sinkhole_http": C.CONTENT_MALWARE,
    "botnet_drone": C.CONTENT_MALWARE,
    "sinkhole_http_drone": C.CONTENT_MALWARE,
    "microsoft_sinkhole": C.CONTENT_MALWARE,
    "cc_ip": C.CONTENT_MALWARE,
    "botnet_cc": C.CONTENT_MALWARE,
    "event4_compromised_website": C.SECURITY_INTRUSION,
    "compromised_website": C.SECURITY_INTRUSION,
    "event4_honeypot_exploit": C.SECURITY_INTRUSION,
    "event4_exploited_vulnerable": C.SECURITY_INTRUSION,
    "event4_phish_url": C.CONTENT_PHISHING,
    "phish_url": C.CONTENT_PHISHING,
    "malware_url": C.CONTENT_MALWARE,
    "sandbox_url": C.CONTENT_MALWARE,
    "sandbox_conn": C.CONTENT_MALWARE,
    "spam_url": C.EMAIL_SPAM,
    "event4_honeypot_ics_scan": C.SECURITY_SCAN,
    # the row's address was the *target* of a flood or merely linked a sinkholed name:
    # not a breach by the customer; a human decides whether to tell them
    "event4_honeypot_ddos_target": C.OTHER_UNCLASSIFIED,
    "event4_sinkhole_http_referer": C.OTHER_UNCLASSIFIED,
    "event6_sinkhole_http_referer": C.OTHER_UNCLASSIFIED,
    "blocklist": C.OTHER_UNCLASSIFIED,
    "device_id": C.OTHER_UNCLASSIFIED,
    "device_id6": C.OTHER_UNCLASSIFIED,
}

#: fallbacks by substring, first match wins; the order is the order of specificity
REPORT_RULES: list[tuple[str, Category]] = [
    ("spoof", C.SECURITY_SPOOFING),
    ("ddos", C.NETWORK_DOS),
    ("brute", C.SECURITY_BRUTEFORCE),
    ("phish", C.CONTENT_PHISHING),
    ("compromised", C.SECURITY_INTRUSION),
    ("sinkhole", C.CONTENT_MALWARE),
    ("drone", C.CONTENT_MALWARE),
    ("botnet", C.CONTENT_MALWARE),
    ("malware", C.CONTENT_MALWARE),
    ("darknet", C.SECURITY_SCAN),
    ("honeypot", C.SECURITY_SCAN),
    ("scan", C.INFO_VULNERABLE),
    ("population", C.INFO_VULNERABLE),
    ("accessible", C.INFO_VULNERABLE),
    ("open", C.INFO_VULNERABLE),
    ("vulnerable", C.INFO_VULNERABLE),
]

_FILE_NAME = re.compile(r"(?:^|[/\\])(\d{4}-\d{2}-\d{2})-([A-Za-z0-9_]+)(?:-[^/\\]*)?\.(?:csv(?:\.zip|\.gz)?|zip)$", re.IGNORECASE)
_UNDATED_NAME = re.compile(r"(?:^|[/\\])([A-Za-z0-9_]+)(?:-[^/\\]*)?\.csv$", re.IGNORECASE)
_HEADER = re.compile(rb'^(?:\xef\xbb\xbf)?"?timestamp"?(?:,[^\r\n]{0,400}?)?,"?(?:ip|src_ip)"?(?:,|\r?\n|$)', re.IGNORECASE)
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
_SUBJECT_IP_COLUMNS = ("ip", "src_ip")
_SENDERS = ("@shadowserver.org",)


def report_name(filename: str | None, *, undated: bool = False) -> str | None:
    """``2026-01-31-scan_dns-example-asn.csv`` → ``scan_dns``.

    ``undated`` also accepts ``scan_dns-example.csv`` (renamed downloads); it is only
    used once the content is known to be a Shadowserver CSV.
    """
    if not filename:
        return None
    match = _FILE_NAME.search(filename)
    if match:
        return match.group(2).lower()
    if undated:
        bare = _UNDATED_NAME.search(filename)
        if bare and bare.group(1).lower() in REPORTS:
            return bare.group(1).lower()
    return None


def category_for(report: str | None) -> Category:
    if not report:
        return C.OTHER_UNCLASSIFIED
    key = report.lower()
    if key in REPORTS:
        return REPORTS[key]
    for needle, category in REPORT_RULES:
        if needle in key:
            return category
    return C.OTHER_UNCLASSIFIED


def looks_like_csv(data: bytes) -> bool:
    return bool(_HEADER.match(data[:1024]))


def detect_bytes(data: bytes, filename: str | None) -> bool:
    if archive.is_zip(data):
        return report_name(filename) is not None or _zip_has_report(data)
    if archive.is_gzip(data):
        return report_name(filename) is not None
    return looks_like_csv(data)


def _zip_has_report(data: bytes) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as handle:
            return any(report_name(name) for name in handle.namelist()[:50])
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def parse_bytes(data: bytes, filename: str | None = None, *, max_ratio: float = MAX_RATIO, max_total: int = MAX_TOTAL) -> list[ParsedReport]:
    """A CSV, a zip of CSVs or a gzipped CSV; zip bombs are refused with a ParseError."""
    if archive.is_zip(data):
        reports: list[ParsedReport] = []
        members = archive.unzip(data, max_ratio=max_ratio, max_total=max_total, source_format=FORMAT)
        csvs = [(name, body) for name, body in members if name.lower().endswith(".csv") or looks_like_csv(body)]
        if not csvs:
            raise ParseError("zip holds no Shadowserver CSV", source_format=FORMAT)
        for name, body in csvs:
            reports.extend(parse_csv(body, report_name(name) or report_name(filename), filename=name))
        return reports
    if archive.is_gzip(data):
        body = archive.gunzip(data, max_ratio=max_ratio, max_total=max_total, source_format=FORMAT)
        return parse_csv(body, report_name(filename, undated=True), filename=filename)
    return parse_csv(data, report_name(filename, undated=True), filename=filename)


def parse_csv(data: bytes, report: str | None, *, filename: str | None = None, reporter: Reporter | None = None) -> list[ParsedReport]:
    """One :class:`ParsedReport` per row."""
    text = data.decode("utf-8-sig", errors="replace")
    if "\x00" in text[:4096]:
        raise ParseError("binary data, not a Shadowserver CSV", source_format=FORMAT)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = next(reader)
    except StopIteration:
        raise ParseError("empty CSV", source_format=FORMAT) from None
    except csv.Error as exc:
        raise ParseError(f"unreadable CSV header: {exc}", source_format=FORMAT) from None
    lower = [c.strip().lower() for c in columns]
    if not lower or lower[0] != "timestamp":
        raise ParseError(f"not a Shadowserver CSV: the first column is {columns[0][:40] if columns else ''!r}, not 'timestamp'", source_format=FORMAT)
    ip_index = next((lower.index(c) for c in _SUBJECT_IP_COLUMNS if c in lower), None)
    if ip_index is None:
        raise ParseError("not a Shadowserver CSV: no 'ip' or 'src_ip' column", source_format=FORMAT)
    port_index = next((lower.index(c) for c in ("port", "src_port") if c in lower), None)
    url_index = next((lower.index(c) for c in ("url", "http_url") if c in lower), None)
    host_index = lower.index("http_host") if "http_host" in lower else None
    scheme_index = lower.index("application") if "application" in lower else None

    category = category_for(report)
    label = report or "unknown report"
    check_formulas = may_contain_formulas(data)
    reporter = reporter or Reporter("autoreports@shadowserver.org", "Shadowserver")
    source = {"report": label}
    if filename:
        source["file"] = filename
    width = len(columns)
    times: dict[str, datetime | None] = {}
    ipv4 = _IPV4.fullmatch
    ip_kind = ResourceKind.IP
    out: list[ParsedReport] = []
    append = out.append
    # hundreds of thousands of small objects that all live on: the cyclic collector would
    # rescan them again and again (a third of the run time) and can free none of them
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for line_no, row in enumerate(reader, start=2):
            if len(row) != width:
                if not any(row):
                    continue
                row = (row + [""] * width)[:width]
            fields: dict[str, Any] = dict(zip(columns, row))  # noqa: B905 - row padded to width above
            stamp = row[0]
            if stamp in times:
                occurred = times[stamp]
            else:
                occurred = times[stamp] = _timestamp(stamp)
            ip = row[ip_index]
            resources: list[Resource]
            resources = [Resource(ip_kind, ip)] if ipv4(ip) else _slow_ip(ip, fields, line_no)
            if url_index is not None or host_index is not None:
                scheme = row[scheme_index].lower() if scheme_index is not None else ""
                resources.extend(_url(row, url_index, host_index, scheme if scheme in ("http", "https") else "http"))
            if occurred is None:
                fields["parse_problem"] = f"line {line_no}: invalid timestamp {stamp[:40]!r}"
            port = row[port_index] if port_index is not None else ""
            shown = resources[0].value if resources else neutralize(ip[:60])
            if check_formulas:
                flagged = [columns[i] for i, cell in enumerate(row) if cell and is_formula(cell)]
                if flagged:
                    fields["formula_cells"] = flagged
                summary = f"Shadowserver {label}: {shown} port {neutralize(port)}"
            else:
                summary = f"Shadowserver {label}: {shown} port {port}"
            fields["shadowserver"] = source
            # the same event re-sent (a second mail, an overlapping export) is one report
            source_id = f"{label}:{stamp}:{ip}:{port}"
            append(ParsedReport(FORMAT, category, resources, occurred, reporter, summary, "", fields, source_id, False, True))
    except csv.Error as exc:
        raise ParseError(f"CSV broken at line {reader.line_num}: {exc}", source_format=FORMAT) from None
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


def _timestamp(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _slow_ip(ip: str, fields: dict[str, Any], line_no: int) -> list[Resource]:
    try:
        return [Resource(ResourceKind.IP, normalize_ip(ip))]
    except ValueError:
        fields["parse_problem"] = f"line {line_no}: invalid IP {neutralize(ip[:60])!r}; kept for a human"
        return []


def _url(row: list[str], url_index: int | None, host_index: int | None, scheme: str) -> Iterable[Resource]:
    """Compromised-website and phishing rows name a URL: as a full URL, or host + path."""
    path = row[url_index].strip() if url_index is not None else ""
    host = row[host_index].strip() if host_index is not None else ""
    if not path and not host:
        return []
    if "://" not in path:
        path = re.sub(r"^[A-Z]+ ", "", path).split(" ", 1)[0]
        if not host:
            return []
        path = f"{scheme}://{host}{path if path.startswith('/') else '/' + path if path else ''}"
    try:
        return [Resource(ResourceKind.URL, normalize_url(path))]
    except ValueError:
        return []


# --- mail ---------------------------------------------------------------------------------


def _attachments(message: Message) -> list[tuple[str | None, bytes]]:
    out: list[tuple[str | None, bytes]] = []
    for part in walk(message, max_depth=4):
        if part.is_multipart():
            continue
        name = filename(part)
        content_type = part.get_content_type()
        if report_name(name) or content_type in ("text/csv", "application/zip", "application/x-zip-compressed") or (name or "").lower().endswith((".csv", ".zip")):
            out.append((name, part_bytes(part)))
    return out


def detect_mail(message: EmailMessage) -> bool:
    sender = header(message, "From").lower()
    for name, body in _attachments(message):
        if report_name(name) or looks_like_csv(body):
            return True
        if any(s in sender for s in _SENDERS) and archive.is_zip(body):
            return True
    return False


def parse_mail(message: EmailMessage, *, max_ratio: float = MAX_RATIO, max_total: int = MAX_TOTAL) -> list[ParsedReport]:
    reporter = reporter_from(message)
    reports: list[ParsedReport] = []
    found = False
    for name, body in _attachments(message):
        if not body:
            continue
        if archive.is_zip(body):
            found = True
            for member, data in archive.unzip(body, max_ratio=max_ratio, max_total=max_total, source_format=FORMAT):
                if member.lower().endswith(".csv") or looks_like_csv(data):
                    reports.extend(parse_csv(data, report_name(member) or report_name(name), filename=member, reporter=reporter))
        elif looks_like_csv(body):
            found = True
            reports.extend(parse_csv(body, report_name(name), filename=name, reporter=reporter))
    if not found:
        raise ParseError("mail holds no Shadowserver CSV attachment", source_format=FORMAT)
    return reports
