"""IODEF (RFC 7970, v2; RFC 5070, v1) incident documents: an import adapter.

CSIRTs exchange IODEF between tools, and some desks attach it (gzipped) to notices. Each
``Incident`` becomes one report per ``EventData`` that names a subject (or one for the
incident when no EventData does). The subject is the ``System`` whose category is
``source``: in a report about an attack the target is the victim, never the subject.
IODEF has no abuse category of its own; it is read from the impact types and, failing
those, from the descriptions with the same word table the text parser uses.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from abusedesk.formats import archive
from abusedesk.formats.base import ParsedReport, ParseError, Reporter, excerpt, unique_resources
from abusedesk.formats.mail import filename, header, may_hold_xml, part_bytes, walk
from abusedesk.formats.text import classify
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, make_resource
from abusedesk.timeutil import parse_timestamp

FORMAT = "iodef"
NAMESPACES = ("urn:ietf:params:xml:ns:iodef-2.0", "urn:ietf:params:xml:ns:iodef-1.0")
MAX_XML_BYTES = 16 * 1024 * 1024
MAX_INCIDENTS = 10_000
C = Category

#: impact ``type`` values (v2 ``SystemImpact``, v1 ``Impact``) → category
IMPACT_TYPES: dict[str, Category] = {
    "dos": C.NETWORK_DOS,
    "availability-service": C.NETWORK_DOS,
    "availability-system": C.NETWORK_DOS,
    "availability-account": C.NETWORK_DOS,
    "recon": C.SECURITY_SCAN,
    "admin": C.SECURITY_INTRUSION,
    "user": C.SECURITY_INTRUSION,
    "takeover-account": C.SECURITY_BRUTEFORCE,
    "takeover-service": C.SECURITY_INTRUSION,
    "takeover-system": C.SECURITY_INTRUSION,
    "integrity-data": C.SECURITY_INTRUSION,
    "integrity-configuration": C.SECURITY_INTRUSION,
    "integrity-hardware": C.SECURITY_INTRUSION,
    "damaged-system": C.SECURITY_INTRUSION,
    "damaged-data": C.SECURITY_INTRUSION,
    "breach-credential": C.CONTENT_PHISHING,
    "social-engineering": C.CONTENT_PHISHING,
    "monitoring-traffic": C.SECURITY_INTERCEPTION,
    "monitoring-host": C.SECURITY_INTERCEPTION,
    "traffic-redirection": C.SECURITY_INTERCEPTION,
}

#: ``Address/@category`` → resource kind; networks and MACs are not a report subject
ADDRESS_KINDS: dict[str, ResourceKind] = {
    "ipv4-addr": ResourceKind.IP,
    "ipv6-addr": ResourceKind.IP,
    "site-uri": ResourceKind.URL,
    "e-mail": ResourceKind.EMAIL,
}


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _children(element: Element | None, name: str) -> list[Element]:
    return [c for c in element if _local(c.tag) == name] if element is not None else []


def _first(element: Element | None, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _text(element: Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def is_iodef(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and b"IODEF-Document" in head and b"urn:ietf:params:xml:ns:iodef-" in head


def detect_bytes(data: bytes, filename: str | None) -> bool:
    return is_iodef(data)


def parse_bytes(data: bytes, filename: str | None = None) -> list[ParsedReport]:
    if archive.is_gzip(data):
        data = archive.gunzip(data, source_format=FORMAT)
    if len(data) > MAX_XML_BYTES:
        raise ParseError(f"IODEF document is {len(data)} bytes, at most {MAX_XML_BYTES}", source_format=FORMAT)
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ParseError(f"IODEF XML is not well-formed or uses forbidden constructs: {exc}", source_format=FORMAT) from None
    if _local(root.tag) != "IODEF-Document" or not any(str(root.tag).startswith("{" + ns) for ns in NAMESPACES):
        raise ParseError(f"not an IODEF document: root is {str(root.tag)[:80]!r}", source_format=FORMAT)
    incidents = _children(root, "Incident")
    if not incidents:
        raise ParseError("IODEF document without an Incident", source_format=FORMAT)
    if len(incidents) > MAX_INCIDENTS:
        raise ParseError(f"{len(incidents)} incidents, at most {MAX_INCIDENTS}", source_format=FORMAT)
    version = root.get("version") or ("1.00" if str(root.tag).startswith("{" + NAMESPACES[1]) else "2.00")
    reports: list[ParsedReport] = []
    for incident in incidents:
        reports.extend(_incident(incident, version))
    return reports


def _incident(incident: Element, version: str) -> list[ParsedReport]:
    incident_id = _first(incident, "IncidentID")
    id_text = _text(incident_id)
    id_name = incident_id.get("name", "") if incident_id is not None else ""
    descriptions = [_text(d) for d in _children(incident, "Description")]
    category = _category(incident, descriptions)
    reporter = _reporter(incident)
    base_time, time_source = _time(incident)
    fields: dict[str, Any] = {
        "incident_id": id_text,
        "incident_id_name": id_name,
        "purpose": incident.get("purpose", ""),
        "status": incident.get("status", ""),
        "restriction": incident.get("restriction", ""),
        "version": version,
    }
    groups: list[tuple[list[Resource], datetime | None, str, list[str]]] = []
    for event in _children(incident, "EventData"):
        resources, skipped = _subjects(event)
        event_time, event_source = _time(event)
        event_text = [_text(d) for d in _children(event, "Description")]
        if resources or skipped:
            groups.append((resources, event_time or base_time, event_source or time_source, event_text + skipped))
    if not groups:
        groups.append(([], base_time, time_source, []))

    reports = []
    for index, (resources, when, source, notes) in enumerate(groups):
        texts = descriptions + [n for n in notes if not n.startswith("skipped ")]
        report_fields = dict(fields)
        report_fields["occurred_at_source"] = source
        report_fields["descriptions"] = texts[:20]
        skipped = [n for n in notes if n.startswith("skipped ")]
        if skipped:
            report_fields["skipped"] = skipped
        summary_subject = resources[0].value if resources else "no subject"
        reports.append(
            ParsedReport(
                source_format=FORMAT,
                category=category,
                resources=resources,
                occurred_at=when,
                reporter=reporter,
                summary=f"IODEF incident {id_text or '?'} ({id_name}): {summary_subject}",
                evidence=excerpt("\n".join(texts)),
                fields=report_fields,
                source_id=f"iodef:{id_name}:{id_text}:{index}" if id_text else None,
                automated=True,
            )
        )
    return reports


def _category(incident: Element, descriptions: list[str]) -> Category:
    for assessment in _children(incident, "Assessment"):
        for impact in list(assessment):
            if _local(impact.tag) in ("SystemImpact", "Impact"):
                found = IMPACT_TYPES.get(impact.get("type", "").lower())
                if found:
                    return found
    words = list(descriptions)
    for node in incident.iter():
        if _local(node.tag) in ("Description", "ReferenceName", "Name") and len(words) < 50:
            words.append(_text(node))
    category, _, _ = classify("\n".join(words))
    return category


def _time(element: Element) -> tuple[datetime | None, str]:
    for name in ("DetectTime", "StartTime", "EndTime", "ReportTime", "GenerationTime"):
        found = _first(element, name)
        if found is not None and _text(found):
            try:
                return parse_timestamp(_text(found)), name
            except ValueError:
                continue
    return None, ""


def _subjects(event: Element) -> tuple[list[Resource], list[str]]:
    """Addresses of source systems (or of non-target systems when none says source)."""
    systems = [s for flow in _children(event, "Flow") for s in _children(flow, "System")]
    chosen = [s for s in systems if s.get("category") == "source"]
    if not chosen:
        chosen = [s for s in systems if s.get("category") != "target"] or systems
    resources: list[Resource] = []
    skipped: list[str] = []
    for system in chosen:
        for node in _children(system, "Node"):
            for address in _children(node, "Address"):
                kind = ADDRESS_KINDS.get(address.get("category", "ipv4-addr"))
                value = _text(address)
                if kind is None:
                    skipped.append(f"skipped {address.get('category')} address {value[:60]!r}")
                    continue
                try:
                    resources.append(make_resource(kind, value))
                except ValueError as exc:
                    skipped.append(f"skipped invalid address {value[:60]!r}: {exc}")
            names = [_text(n) for d in _children(node, "DomainData") for n in _children(d, "Name")]
            names += [_text(n) for n in _children(node, "NodeName")]
            for name in names:
                try:
                    resources.append(make_resource(ResourceKind.DOMAIN, name))
                except ValueError:
                    skipped.append(f"skipped invalid name {name[:60]!r}")
    return unique_resources(resources), skipped


def _reporter(incident: Element) -> Reporter:
    for contact in _children(incident, "Contact"):
        if contact.get("role") not in (None, "creator", "irt", "cc"):
            continue
        name = _text(_first(contact, "ContactName"))
        email_element = _first(contact, "Email")
        email = _text(_first(email_element, "EmailTo")) or _text(email_element)
        if email and "@" in email:
            return Reporter(email.lower().removeprefix("mailto:"), name or None)
        if name:
            return Reporter(None, name)
    return Reporter()


# --- mail ---------------------------------------------------------------------------------


def _attachment(message: EmailMessage) -> bytes | None:
    for part in walk(message, max_depth=4):
        if part.is_multipart() or not may_hold_xml(part):
            continue
        data = part_bytes(part)
        if archive.is_gzip(data):
            if "iodef" in (filename(part) or "").lower():
                return data
        elif is_iodef(data):
            return data
    return None


def detect_mail(message: EmailMessage) -> bool:
    return _attachment(message) is not None


def parse_mail(message: EmailMessage) -> list[ParsedReport]:
    data = _attachment(message)
    if data is None:
        raise ParseError("mail holds no IODEF document", source_format=FORMAT)
    reports = parse_bytes(data)
    message_id = header(message, "Message-ID")
    for report in reports:
        report.source_id = report.source_id or message_id or None
    return reports
