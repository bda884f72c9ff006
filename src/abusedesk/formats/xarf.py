"""XARF JSON: v4 (xarf/xarf-spec) and the legacy v1–v3 (abusix/xarf), as files, API bodies
or mail (ARF envelope with ``Feedback-Type: xarf`` and an ``xarf.json`` part).

Validation is ours, rule by rule, so that every problem comes back as a JSON Pointer with a
stable code (the model of large providers' intake APIs) rather than a schema dump.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from email.message import EmailMessage
from typing import Any

from abusedesk.formats.base import (
    ParsedReport,
    ParseError,
    Problem,
    Reporter,
    excerpt,
    unique_resources,
)
from abusedesk.formats.jsonutil import load_object, looks_like_json_object, pointer
from abusedesk.formats.mail import filename as part_filename
from abusedesk.formats.mail import header, part_bytes, walk
from abusedesk.policy.taxonomy import Category, open_service_category
from abusedesk.resources import Resource, ResourceKind, guess_resource, is_ip, make_resource
from abusedesk.timeutil import parse_timestamp

C = Category

# --------------------------------------------------------------------------- XARF v4

#: (category, type) -> (abusedesk category or None when decided by a field, extra required fields)
V4_TYPES: dict[tuple[str, str], tuple[Category | None, tuple[str, ...]]] = {
    ("messaging", "spam"): (C.EMAIL_SPAM, ("protocol",)),
    ("messaging", "bulk_messaging"): (C.EMAIL_SPAM, ("recipient_count",)),
    ("connection", "login_attack"): (C.SECURITY_BRUTEFORCE, ("first_seen", "protocol", "source_port")),
    ("connection", "port_scan"): (C.SECURITY_SCAN, ("first_seen", "protocol", "source_port")),
    ("connection", "vulnerability_scan"): (C.SECURITY_SCAN, ("first_seen", "protocol", "scan_type")),
    ("connection", "reconnaissance"): (C.SECURITY_SCAN, ("first_seen", "protocol", "probed_resources")),
    ("connection", "ddos"): (C.NETWORK_DOS, ("first_seen", "protocol", "source_port")),
    ("connection", "scraping"): (C.NETWORK_CRAWLING, ("first_seen", "protocol", "total_requests")),
    ("connection", "sql_injection"): (C.SECURITY_INTRUSION, ("first_seen", "protocol")),
    ("connection", "infected_host"): (C.CONTENT_MALWARE, ("first_seen", "protocol", "bot_type")),
    ("content", "phishing"): (C.CONTENT_PHISHING, ("url",)),
    ("content", "malware"): (C.CONTENT_MALWARE, ("url",)),
    ("content", "fraud"): (C.CONTENT_FRAUD, ("url", "fraud_type")),
    ("content", "csam"): (C.CONTENT_CSAM, ("url", "classification", "detection_method")),
    ("content", "csem"): (C.CONTENT_CSAM, ("url", "detection_method", "exploitation_type")),
    ("content", "brand_infringement"): (C.CONTENT_INFRINGING, ("url", "infringement_type", "legitimate_site")),
    ("content", "exposed_data"): (C.CONTENT_OFFENSIVE, ("url", "data_types", "exposure_method")),
    ("content", "remote_compromise"): (C.SECURITY_INTRUSION, ("url", "compromise_type")),
    ("content", "suspicious_registration"): (C.CONTENT_FRAUD, ("url",)),
    ("copyright", "copyright"): (C.CONTENT_INFRINGING, ("infringing_url",)),
    ("copyright", "cyberlocker"): (C.CONTENT_INFRINGING, ("infringing_url",)),
    ("copyright", "link_site"): (C.CONTENT_INFRINGING, ("infringing_url",)),
    ("copyright", "ugc_platform"): (C.CONTENT_INFRINGING, ("infringing_url",)),
    ("copyright", "p2p"): (C.CONTENT_INFRINGING, ("p2p_protocol",)),
    ("copyright", "usenet"): (C.CONTENT_INFRINGING, ("newsgroup",)),
    ("vulnerability", "open_service"): (None, ("service",)),
    ("vulnerability", "cve"): (C.INFO_VULNERABLE, ("cve_id", "service", "service_port")),
    ("vulnerability", "misconfiguration"): (C.INFO_VULNERABLE, ("service",)),
    ("infrastructure", "botnet"): (C.CONTENT_MALWARE, ("compromise_evidence",)),
    ("infrastructure", "compromised_server"): (C.SECURITY_INTRUSION, ("compromise_method",)),
    ("reputation", "blocklist"): (None, ("threat_type",)),
    ("reputation", "threat_intelligence"): (None, ("threat_type",)),
}

REPUTATION_THREATS: dict[str, Category] = {
    "command_and_control": C.CONTENT_MALWARE,
    "c2": C.CONTENT_MALWARE,
    "malware": C.CONTENT_MALWARE,
    "botnet": C.CONTENT_MALWARE,
    "phishing": C.CONTENT_PHISHING,
    "spam": C.EMAIL_SPAM,
    "scanner": C.SECURITY_SCAN,
    "scanning": C.SECURITY_SCAN,
    "bruteforce": C.SECURITY_BRUTEFORCE,
    "brute_force": C.SECURITY_BRUTEFORCE,
}

_VERSION_V4 = re.compile(r"^4\.\d+\.\d+$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG = re.compile(r"^[a-z0-9_-]+:[a-zA-Z0-9_.:-]+$")
_HASH = re.compile(r"^(md5|sha1|sha256|sha512):[0-9a-fA-F]+$")
_FORBIDDEN = re.compile(r"[{}*`\s]")
CONNECTION_PROTOCOLS = {"tcp", "udp", "icmp", "sctp"}
MESSAGING_PROTOCOLS = {"smtp", "sms", "whatsapp", "telegram", "signal", "chat", "social_media", "push_notification", "other"}
MAX_EVIDENCE = 50
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024


def _check_party(document: dict[str, Any], name: str, problems: list[Problem]) -> None:
    value = document.get(name)
    if not isinstance(value, dict):
        problems.append(Problem(f"/{name}", f"rule.{name}.missing", f"{name} must be an object {{org, contact, domain}}"))
        return
    for key in value:
        if key not in ("org", "contact", "domain"):
            problems.append(Problem(pointer(name, key), f"rule.{name}.unknown_field", f"unexpected field {key!r}"))
    org = value.get("org")
    if not isinstance(org, str) or not org or len(org) > 200:
        problems.append(Problem(pointer(name, "org"), f"rule.{name}.org.invalid", "org is required, at most 200 characters"))
    contact = value.get("contact")
    if not isinstance(contact, str) or not _EMAIL.match(contact):
        problems.append(Problem(pointer(name, "contact"), f"rule.{name}.contact.invalid", "contact must be an e-mail address"))
    domain = value.get("domain")
    if not isinstance(domain, str) or not _HOSTNAME.match(domain):
        problems.append(Problem(pointer(name, "domain"), f"rule.{name}.domain.invalid", "domain must be a hostname"))


def _source_resource(value: Any, problems: list[Problem]) -> Resource | None:
    if not isinstance(value, str) or not value:
        problems.append(Problem("/source_identifier", "rule.source_identifier.missing", "source_identifier is required"))
        return None
    if len(value) > 253 and "://" not in value:
        problems.append(Problem("/source_identifier", "rule.source_identifier.too_long", "at most 253 characters"))
        return None
    if _FORBIDDEN.search(value):
        problems.append(Problem("/source_identifier", "rule.source_identifier.forbidden_characters", "braces, '*', backticks and spaces are not allowed"))
        return None
    try:
        return guess_resource(value)
    except ValueError as exc:
        problems.append(Problem("/source_identifier", "rule.source_identifier.malformed", str(exc)))
        return None


def validate_v4(document: dict[str, Any]) -> ParsedReport:
    problems: list[Problem] = []
    version = document.get("xarf_version")
    if not isinstance(version, str) or not _VERSION_V4.match(version):
        problems.append(Problem("/xarf_version", "rule.xarf_version.invalid", "must look like 4.x.y"))
    report_id = document.get("report_id")
    try:
        if not isinstance(report_id, str):
            raise ValueError
        uuid.UUID(report_id)
    except ValueError:
        problems.append(Problem("/report_id", "rule.report_id.invalid", "report_id must be a UUID"))
    occurred_at = None
    timestamp = document.get("timestamp")
    if not isinstance(timestamp, str):
        problems.append(Problem("/timestamp", "rule.timestamp.missing", "timestamp (RFC 3339) is required"))
    else:
        try:
            occurred_at = parse_timestamp(timestamp)
            if not re.search(r"(Z|z|[+-]\d\d:?\d\d)$", timestamp.strip()):
                raise ValueError
        except ValueError:
            problems.append(Problem("/timestamp", "rule.timestamp.malformed", "timestamp must be RFC 3339 with a time zone"))
    _check_party(document, "reporter", problems)
    _check_party(document, "sender", problems)
    source = _source_resource(document.get("source_identifier"), problems)

    xcat, xtype = document.get("category"), document.get("type")
    spec = V4_TYPES.get((xcat, xtype)) if isinstance(xcat, str) and isinstance(xtype, str) else None
    category: Category | None = None
    if spec is None:
        problems.append(Problem("/type", "rule.type.unknown", f"unknown category/type {xcat!r}/{xtype!r}"))
    else:
        category = spec[0]
        for field in spec[1]:
            if document.get(field) in (None, "", []):
                problems.append(Problem(pointer(field), f"rule.{field}.missing", f"{field} is required for {xcat}/{xtype}"))
    _check_optional_v4(document, problems)

    resources: list[Resource] = [source] if source else []
    if xcat == "content" and isinstance(document.get("url"), str):
        try:
            resources.append(make_resource(ResourceKind.URL, document["url"]))
        except ValueError as exc:
            problems.append(Problem("/url", "rule.url.malformed", str(exc)))
    if problems:
        raise ParseError(f"XARF v4: {len(problems)} problem(s): {problems[0].path} {problems[0].message}", problems, source_format="xarf-v4")

    if category is None and xcat == "vulnerability":
        category = open_service_category(document.get("service"))
    elif category is None:
        category = REPUTATION_THREATS.get(str(document.get("threat_type", "")).lower(), C.OTHER_UNCLASSIFIED)
    reporter = document["reporter"]
    summary = document.get("description") or f"XARF {xcat}/{xtype} about {source.value if source else '?'}"
    return ParsedReport(
        source_format="xarf-v4",
        category=category,
        resources=unique_resources(resources),
        occurred_at=occurred_at,
        reporter=Reporter(reporter.get("contact"), reporter.get("org")),
        summary=str(summary)[:500],
        evidence=_evidence_text(document.get("evidence")),
        fields={k: v for k, v in document.items() if k not in ("evidence", "_internal")},
        source_id=str(report_id),
        automated=document.get("evidence_source") in {"automated_scan", "honeypot", "spamtrap", "automated_crawl", "vulnerability_scan", "threat_intelligence", "flow_analysis", "ids_ips"},
        confidence=_confidence(document.get("confidence")),
    )


def _check_optional_v4(document: dict[str, Any], problems: list[Problem]) -> None:
    port = document.get("source_port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
        problems.append(Problem("/source_port", "rule.source_port.out_of_range", "must be an integer 0-65535"))
    confidence = document.get("confidence")
    if confidence is not None and (not isinstance(confidence, int | float) or not 0 <= confidence <= 1):
        problems.append(Problem("/confidence", "rule.confidence.out_of_range", "must be a number from 0 to 1"))
    protocol = document.get("protocol")
    allowed = CONNECTION_PROTOCOLS if document.get("category") == "connection" else MESSAGING_PROTOCOLS if document.get("category") == "messaging" else None
    if allowed and protocol is not None and protocol not in allowed:
        problems.append(Problem("/protocol", "rule.protocol.invalid", f"must be one of {', '.join(sorted(allowed))}"))
    if document.get("category") == "messaging" and protocol == "smtp":
        for field in ("smtp_from", "source_port"):
            if document.get(field) in (None, ""):
                problems.append(Problem(pointer(field), f"rule.{field}.missing", f"{field} is required for smtp spam"))
    tags = document.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or len(tags) > 20:
            problems.append(Problem("/tags", "rule.tags.invalid", "at most 20 tags"))
        else:
            for index, tag in enumerate(tags):
                if not isinstance(tag, str) or not _TAG.match(tag):
                    problems.append(Problem(pointer("tags", index), "rule.tags.malformed", "tags are namespace:predicate"))
    description = document.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        problems.append(Problem("/description", "rule.description.too_long", "at most 1000 characters"))
    evidence = document.get("evidence")
    if evidence is None:
        return
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE:
        problems.append(Problem("/evidence", "rule.evidence.invalid", f"a list of at most {MAX_EVIDENCE} items"))
        return
    for index, item in enumerate(evidence):
        base = ("evidence", index)
        if not isinstance(item, dict):
            problems.append(Problem(pointer(*base), "rule.evidence.invalid", "each evidence item is an object"))
            continue
        if not isinstance(item.get("content_type"), str):
            problems.append(Problem(pointer(*base, "content_type"), "rule.evidence.content_type.missing", "content_type is required"))
        payload = item.get("payload")
        if not isinstance(payload, str):
            problems.append(Problem(pointer(*base, "payload"), "rule.evidence.payload.missing", "payload (base64) is required"))
        else:
            try:
                decoded = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                problems.append(Problem(pointer(*base, "payload"), "rule.evidence.payload.not_base64", "payload must be base64 without line breaks"))
            else:
                if len(decoded) > MAX_EVIDENCE_BYTES:
                    problems.append(Problem(pointer(*base, "payload"), "rule.evidence.payload.too_large", "at most 5 MiB per item"))
        digest = item.get("hash")
        if digest is not None and (not isinstance(digest, str) or not _HASH.match(digest)):
            problems.append(Problem(pointer(*base, "hash"), "rule.evidence.hash.malformed", "hash is <md5|sha1|sha256|sha512>:<hex>"))


def _evidence_text(evidence: Any) -> str:
    if not isinstance(evidence, list):
        return ""
    lines: list[str] = []
    for item in evidence[:MAX_EVIDENCE]:
        if not isinstance(item, dict):
            continue
        description = str(item.get("description") or "")
        content_type = str(item.get("content_type") or "")
        if content_type.startswith("text/plain") and isinstance(item.get("payload"), str):
            try:
                text = base64.b64decode(item["payload"]).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                text = ""
            lines.append(f"{description}: {text}" if description else text)
        else:
            lines.append(f"[{content_type}] {description}".strip())
    return excerpt("\n".join(lines))


def _confidence(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# ----------------------------------------------------------------------- XARF v1-v3

V3_TYPES: dict[str, Category | None] = {
    "spam": C.EMAIL_SPAM,
    "loginattack": C.SECURITY_BRUTEFORCE,
    "portscan": C.SECURITY_SCAN,
    "dos": C.NETWORK_DOS,
    "ddos": C.NETWORK_DOS,
    "exploit": C.SECURITY_INTRUSION,
    "harassment": C.CONTENT_OFFENSIVE,
    "webcrawler": C.NETWORK_CRAWLING,
    "potentiallycompromisedaccount": C.INFO_VULNERABLE,
    "malware": C.CONTENT_MALWARE,
    "botnet": C.CONTENT_MALWARE,
    "childabuse": C.CONTENT_CSAM,
    "copyright": C.CONTENT_INFRINGING,
    "trademark": C.CONTENT_INFRINGING,
    "phishing": C.CONTENT_PHISHING,
    "openservice": None,  # by ServiceName
}
V3_CLASSES = {"content", "activity", "vulnerability"}


def _v3_key(report_type: str) -> str:
    """``LoginAttack``, ``Login-Attack`` and ``login_attack`` are one type (xarf-perl spells it so)."""
    return re.sub(r"[-_\s]", "", report_type).lower()


def validate_v3(document: dict[str, Any]) -> ParsedReport:
    problems: list[Problem] = []
    version = str(document.get("Version", ""))
    if version not in ("1", "2", "3"):
        problems.append(Problem("/Version", "rule.Version.invalid", "legacy XARF Version must be 1, 2 or 3"))
    info = document.get("ReporterInfo")
    if not isinstance(info, dict):
        problems.append(Problem("/ReporterInfo", "rule.ReporterInfo.missing", "ReporterInfo is required"))
        info = {}
    elif info.get("ReporterType", "Org") != "Person":
        for field in ("ReporterOrg", "ReporterOrgDomain", "ReporterOrgEmail"):
            if not isinstance(info.get(field), str) or not info[field]:
                problems.append(Problem(pointer("ReporterInfo", field), f"rule.ReporterInfo.{field}.missing", f"{field} is required"))
    report = document.get("Report")
    if not isinstance(report, dict):
        problems.append(Problem("/Report", "rule.Report.missing", "Report is required"))
        raise ParseError("legacy XARF: Report is missing", problems, source_format=f"xarf-v{version or '3'}")
    report_class, report_type = report.get("ReportClass"), report.get("ReportType")
    if not isinstance(report_class, str) or report_class.lower() not in V3_CLASSES:
        problems.append(Problem("/Report/ReportClass", "rule.ReportClass.invalid", "ReportClass must be Content, Activity or Vulnerability"))
    category: Category | None = None
    key = ""
    if not isinstance(report_type, str):
        problems.append(Problem("/Report/ReportType", "rule.ReportType.invalid", "ReportType must be a string"))
    else:
        key = _v3_key(report_type)
        if key not in V3_TYPES:
            problems.append(Problem("/Report/ReportType", "rule.ReportType.unknown", f"unknown ReportType {report_type!r}"))
        else:
            category = V3_TYPES[key] or open_service_category(report.get("ServiceName"))
    occurred_at = None
    date = report.get("Date")
    if not isinstance(date, str):
        problems.append(Problem("/Report/Date", "rule.Date.missing", "Report.Date is required"))
    else:
        try:
            occurred_at = parse_timestamp(date)
        except ValueError:
            problems.append(Problem("/Report/Date", "rule.Date.malformed", f"not a date: {date[:40]!r}"))
    resources: list[Resource] = []
    source_ip = report.get("SourceIp")
    if source_ip is not None:
        if not isinstance(source_ip, str) or not is_ip(source_ip):
            problems.append(Problem("/Report/SourceIp", "rule.SourceIp.malformed", "SourceIp must be an IPv4 or IPv6 address"))
        else:
            resources.append(make_resource(ResourceKind.IP, source_ip))
    port = report.get("SourcePort")
    if port is not None and (not isinstance(port, int) or not 0 <= port <= 65535):
        problems.append(Problem("/Report/SourcePort", "rule.SourcePort.out_of_range", "SourcePort must be 0-65535"))
    asn = report.get("ASN")
    if asn is not None and (not isinstance(asn, int) or not 0 <= asn <= 4294967295):
        problems.append(Problem("/Report/ASN", "rule.ASN.out_of_range", "ASN must be an integer 0-4294967295"))
    source_url = report.get("SourceUrl")
    if isinstance(source_url, str) and source_url:
        try:
            resources.append(make_resource(ResourceKind.URL, source_url))
        except ValueError as exc:
            problems.append(Problem("/Report/SourceUrl", "rule.SourceUrl.malformed", str(exc)))
    if key == "phishing" and not source_url:
        problems.append(Problem("/Report/SourceUrl", "rule.SourceUrl.missing", "Phishing reports need SourceUrl"))
    if problems or category is None:
        raise ParseError(f"legacy XARF: {len(problems)} problem(s): {problems[0].path} {problems[0].message}", problems, source_format=f"xarf-v{version or '3'}")
    samples = report.get("Samples")
    evidence = ""
    if isinstance(samples, list):
        evidence = excerpt("\n".join(
            f"{s.get('Description', '')}: {s.get('Payload', '')}" if not s.get("Base64Encoded") else f"[{s.get('ContentType', '')}] {s.get('Description', '')}"
            for s in samples if isinstance(s, dict)
        ))
    return ParsedReport(
        source_format=f"xarf-v{version}",
        category=category,
        resources=unique_resources(resources),
        occurred_at=occurred_at,
        reporter=Reporter(info.get("ReporterOrgEmail") or info.get("ReporterContactEmail"), info.get("ReporterOrg") or info.get("ReporterContactName")),
        summary=str(report.get("ReporterNotes") or f"XARF {report_type} report")[:500],
        evidence=evidence,
        fields={"Report": {k: v for k, v in report.items() if k != "Samples"}, "Disclosure": document.get("Disclosure")},
        source_id=report.get("ReporterCaseID") if isinstance(report.get("ReporterCaseID"), str) else None,
    )


# ------------------------------------------------------------------------ entry points


def parse_document(document: dict[str, Any]) -> ParsedReport:
    if "xarf_version" in document:
        return validate_v4(document)
    if "Version" in document:
        return validate_v3(document)
    raise ParseError("not XARF: neither xarf_version nor Version", [Problem("/xarf_version", "rule.xarf_version.missing", "xarf_version is required")], source_format="xarf")


def detect_bytes(data: bytes, filename: str | None) -> bool:
    if not looks_like_json_object(data):
        return False
    head = data[:4096]
    return b'"xarf_version"' in head or (b'"Version"' in head and (b'"Report"' in head or b'"ReporterInfo"' in head or len(data) < 200))


def parse_bytes(data: bytes, filename: str | None = None) -> list[ParsedReport]:
    return [parse_document(load_object(data, source_format="xarf"))]


def detect_mail(message: EmailMessage) -> bool:
    if message.get_content_type() != "multipart/report":
        return False
    for part in walk(message, max_depth=2):
        if part.get_content_type() == "message/feedback-report":
            text = part_bytes(part) or str(part.get_payload(0) if part.is_multipart() else part.get_payload()).encode()
            return b"xarf" in text.lower().split(b"feedback-type:", 1)[-1][:40]
    return False


def parse_mail(message: EmailMessage) -> list[ParsedReport]:
    for part in walk(message, max_depth=3):
        content_type = part.get_content_type()
        name = (part_filename(part) or "").lower()
        if content_type == "application/json" or name.endswith(".json"):
            data = part_bytes(part)
            reports = parse_bytes(data)
            message_id = header(message, "Message-ID")
            for report in reports:
                report.source_id = report.source_id or message_id or None
            return reports
    raise ParseError("XARF mail without an xarf.json part", source_format="xarf-mail")
