"""Copyright notices: ACNS 1.2 XML and free-text DMCA letters (REFERENCE.md §1.9, §3.3).

A notice that lacks one of the six § 512(c)(3)(A) elements does not give actual
knowledge (§ 512(c)(3)(B)); the analyst must see which are missing before acting, so the
check runs on every notice and lands in ``fields["dmca_missing"]``. The check is a
keyword test, deliberately generous: it flags what is plainly absent, a human judges the
rest. All XML goes through ``defusedxml`` (no entities, no external references).
"""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from abusedesk.formats.base import ParsedReport, ParseError, Reporter, excerpt, unique_resources
from abusedesk.formats.mail import header, may_hold_xml, part_bytes, part_text, reporter_from, walk
from abusedesk.formats.textextract import (
    earliest_plausible,
    extract,
    find_times,
    html_to_text,
    registered_domain,
    within,
)
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, normalize_ip, url_host
from abusedesk.timeutil import as_utc, parse_timestamp

FORMAT_ACNS = "acns"
FORMAT_DMCA = "dmca"
CATEGORY = Category.CONTENT_INFRINGING
ACNS_NS = "http://www.acns.net/ACNS"
MAX_XML_BYTES = 2 * 1024 * 1024

#: the six elements of 17 U.S.C. § 512(c)(3)(A), each with the words that show it
ELEMENTS: dict[str, re.Pattern[str]] = {
    "signature": re.compile(
        r"^\s*/s/\s*\S|\b(?:electronic(?:ally)?\s+)?sign(?:ed|ature)\s*(?:by\s*)?:|\belectronic signature\b|"
        r"\b(?:sincerely|regards|respectfully),?\s*\n+\s*[A-Z][^\n]{2,}",
        re.IGNORECASE | re.MULTILINE,
    ),
    "copyrighted_work": re.compile(
        r"copyrighted works?|original works?|works? (?:being |that (?:is|are) )?infringed|identification of (?:the )?"
        r"(?:copyrighted )?work|(?:owns?|owner of|hold(?:s|er of)?) (?:the |all )?(?:exclusive )?(?:copyright|rights)|"
        r"rights ?holder|\btitle\s*:",
        re.IGNORECASE,
    ),
    "infringing_material": re.compile(r"infring|unauthori[sz]ed (?:cop|distribut|shar)|pirat", re.IGNORECASE),
    "contact": re.compile(
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\b(?:phone|tel(?:ephone)?|fax)\b\s*[:.]?\s*\+?\d|"
        r"\+?\d{1,3}[\s.-]?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]?\d{3,4}|\baddress\s*:",
        re.IGNORECASE,
    ),
    "good_faith": re.compile(r"good[- ]faith belief|believe in good faith|in good faith believe", re.IGNORECASE),
    "perjury_statement": re.compile(r"penalty of perjury", re.IGNORECASE),
}
_ACCURATE = re.compile(r"\baccurate\b", re.IGNORECASE)
_DETECT = re.compile(
    r"\bDMCA\b|Digital Millennium Copyright Act|512\s*\(c\)|notice of (?:claimed )?(?:copyright )?infringement|"
    r"copyright infringement notice|takedown notice",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(r"original|copyrighted work|official|legitimate|authori[sz]ed (?:copy|source)|our (?:site|website)", re.IGNORECASE)
_INFRINGING = re.compile(r"infring|unauthori[sz]ed|location|pirat|illegal cop|remove|take ?down|disable access", re.IGNORECASE)
_INLINE_XML = re.compile(r"(?:<\?xml[^>]{0,200}\?>\s*)?<Infringement\b.{0,500000}?</Infringement>", re.DOTALL)


def missing_elements(text: str) -> list[str]:
    """The § 512(c)(3)(A) elements the text plainly lacks, in statutory order."""
    missing = [name for name, pattern in ELEMENTS.items() if not pattern.search(text)]
    if "perjury_statement" not in missing and not _ACCURATE.search(text):
        missing.append("perjury_statement")
    return [name for name in ELEMENTS if name in missing]


# --- ACNS ---------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element | None, name: str) -> Element | None:
    if element is None:
        return None
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: Element | None, name: str) -> str:
    found = _child(element, name)
    return (found.text or "").strip() if found is not None else ""


def is_acns(data: bytes) -> bool:
    """An XML document (not a letter quoting one) whose root is an ACNS Infringement."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"<?xml", b"<Infringement")) and b"<Infringement" in head and b"acns.net/ACNS" in head


def detect_bytes(data: bytes, filename: str | None) -> bool:
    return is_acns(data)


def parse_bytes(data: bytes, filename: str | None = None) -> list[ParsedReport]:
    return [parse_acns(data)]


def parse_acns(data: bytes, *, letter: str = "", reporter: Reporter | None = None, source_id: str | None = None) -> ParsedReport:
    """One report from an ACNS ``<Infringement>`` document; ``letter`` is the mail text."""
    if len(data) > MAX_XML_BYTES:
        raise ParseError(f"ACNS XML is {len(data)} bytes, at most {MAX_XML_BYTES}", source_format=FORMAT_ACNS)
    try:
        root = SafeET.fromstring(data)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ParseError(f"ACNS XML is not well-formed or uses forbidden constructs: {exc}", source_format=FORMAT_ACNS) from None
    if _local(root.tag) != "Infringement":
        raise ParseError(f"ACNS root element is {_local(root.tag)!r}, not 'Infringement'", source_format=FORMAT_ACNS)
    case, source, complainant = _child(root, "Case"), _child(root, "Source"), _child(root, "Complainant")
    resources: list[Resource] = []
    ip_text = _text(source, "IP_Address")
    problems: list[str] = []
    if ip_text:
        try:
            resources.append(Resource(ResourceKind.IP, normalize_ip(ip_text)))
        except ValueError:
            problems.append(f"invalid IP_Address {ip_text[:60]!r}")
    for name in ("URL_Base", "URL"):
        url_text = _text(source, name)
        if url_text:
            resources.extend(extract(url_text, want_domains=False).resources())
    occurred_at: datetime | None = None
    stamp = _text(source, "TimeStamp")
    try:
        occurred_at = parse_timestamp(stamp) if stamp else None
    except ValueError:
        problems.append(f"invalid TimeStamp {stamp[:60]!r}")
    for required in ("TimeStamp", "IP_Address", "Port", "Type"):
        if not _text(source, required):
            problems.append(f"Source/{required} missing")
    if not resources:
        raise ParseError(f"ACNS notice names no subject: {'; '.join(problems) or 'no Source/IP_Address'}", source_format=FORMAT_ACNS)

    items: list[dict[str, str]] = []
    content = _child(root, "Content")
    for item in list(content) if content is not None else []:
        if _local(item.tag) != "Item":
            continue
        hash_element = _child(item, "Hash")
        items.append({
            "title": _text(item, "Title"),
            "file_name": _text(item, "FileName"),
            "file_size": _text(item, "FileSize"),
            "hash": (hash_element.text or "").strip() if hash_element is not None else "",
            "hash_type": hash_element.get("Type", "") if hash_element is not None else "",
            "timestamp": _text(item, "TimeStamp"),
        })
        if len(items) >= 100:
            break
    complainant_email = _text(complainant, "Email").lower()
    entity = _text(complainant, "Entity")
    if complainant_email and "@" in complainant_email:
        reporter = Reporter(complainant_email, entity or None)
    reporter = reporter or Reporter(None, entity or None)
    fields: dict[str, Any] = {
        "case_id": _text(case, "ID"),
        "case_status": _text(case, "Status"),
        "complainant": {k: _text(complainant, k) for k in ("Entity", "Contact", "Address", "Phone", "Email")},
        "port": _text(source, "Port"),
        "type": _text(source, "Type"),
        "user_name": _text(source, "UserName"),
        "items": items,
        "notes": _text(root, "Notes")[:2000],
    }
    if problems:
        fields["problems"] = problems
    if letter:
        fields["dmca_missing"] = missing_elements(letter)
    title = items[0]["title"] if items else "unknown work"
    return ParsedReport(
        source_format=FORMAT_ACNS,
        category=CATEGORY,
        resources=unique_resources(resources),
        occurred_at=occurred_at,
        reporter=reporter,
        summary=f"ACNS copyright notice {fields['case_id'] or ''}: {title!s:.120} via {resources[0].value}",
        evidence=excerpt(letter or data.decode("utf-8", "replace")),
        fields=fields,
        source_id=f"acns:{fields['case_id']}" if fields["case_id"] else source_id,
        automated=True,
    )


def _acns_in_mail(message: Message) -> tuple[bytes | None, str]:
    """The ACNS XML (attachment first, then inline) and the letter text."""
    xml: bytes | None = None
    letters: list[str] = []
    for part in walk(message, max_depth=4):
        if part.is_multipart() or not may_hold_xml(part):
            continue
        content_type = part.get_content_type()
        data = part_bytes(part)
        if xml is None and is_acns(data):
            xml = data.lstrip(b"\xef\xbb\xbf \t\r\n")
            continue
        if content_type == "text/plain":
            letters.append(part_text(part))
        elif content_type == "text/html":
            letters.append(html_to_text(part_text(part))[0])
    letter = "\n\n".join(letters)
    if xml is None:
        match = _INLINE_XML.search(letter)
        if match and "acns.net/ACNS" in match.group(0)[:2000]:
            xml = match.group(0).encode("utf-8")
    return xml, letter


def detect_acns_mail(message: EmailMessage) -> bool:
    for part in walk(message, max_depth=4):
        if part.is_multipart() or not may_hold_xml(part):
            continue
        data = part_bytes(part)
        if is_acns(data) or (b"acns.net/ACNS" in data and b"<Infringement" in data):
            return True
    return False


def parse_acns_mail(message: EmailMessage) -> list[ParsedReport]:
    xml, letter = _acns_in_mail(message)
    if xml is None:
        raise ParseError("mail mentions ACNS but holds no <Infringement> document", source_format=FORMAT_ACNS)
    return [parse_acns(xml, letter=letter, reporter=reporter_from(message), source_id=header(message, "Message-ID") or None)]


# --- free-text DMCA notices ---------------------------------------------------------------


def detect_mail(message: EmailMessage) -> bool:
    text = f"{header(message, 'Subject')}\n{_letter(message)[:20000]}"
    return bool(_DETECT.search(text)) and ("http" in text or "hxxp" in text)


def _letter(message: Message) -> str:
    texts: list[str] = []
    html: list[str] = []
    for part in walk(message, max_depth=4):
        content_type = part.get_content_type()
        if content_type == "text/plain":
            texts.append(part_text(part))
        elif content_type == "text/html":
            html.append(html_to_text(part_text(part))[0])
    return "\n\n".join(texts or html)


def parse_mail(message: EmailMessage) -> list[ParsedReport]:
    letter = _letter(message)
    subject = header(message, "Subject")
    reporter = reporter_from(message)
    own = {d for d in (registered_domain(reporter.email.rpartition("@")[2]) if reporter.email else None,) if d}
    infringing, originals = split_urls(letter, own)
    missing = missing_elements(letter)
    if not infringing:  # the words are there but no location to act on
        missing = [name for name in ELEMENTS if name in {*missing, "infringing_material"}]
    mail_date = _mail_date(message)
    found = earliest_plausible(find_times(letter, reference=mail_date), mail_date)
    occurred_at = found.value if found else (as_utc(mail_date) if mail_date else None)
    return [
        ParsedReport(
            source_format=FORMAT_DMCA,
            category=CATEGORY,
            resources=infringing,
            occurred_at=occurred_at,
            reporter=reporter,
            summary=f"Copyright notice from {reporter.name or reporter.email or 'unknown'}: {subject[:150]}",
            evidence=excerpt(letter),
            fields={"subject": subject, "dmca_missing": missing, "original_work_urls": originals},
            source_id=header(message, "Message-ID") or None,
        )
    ]


def split_urls(letter: str, own_domains: set[str]) -> tuple[list[Resource], list[str]]:
    """Infringing locations and the complainant's own (original work) URLs.

    A URL counts as the original when the nearest cue before it says so ("original",
    "copyrighted work") or it sits on the complainant's own domain; everything else a
    notice lists is taken as a location of the infringing material.
    """
    found = extract(letter, want_domains=False)
    lowered = letter.lower()
    infringing: list[Resource] = []
    originals: list[str] = []
    for resource in found.resources():
        if resource.kind is not ResourceKind.URL:
            continue
        host = url_host(resource.value) or ""
        if within(registered_domain(host) or host, own_domains):
            originals.append(resource.value)
            continue
        position = lowered.find(resource.value.split("://", 1)[-1][:40].lower())
        window = letter[max(0, position - 300) : position] if position >= 0 else ""
        last_original = max((m.end() for m in _ORIGINAL.finditer(window)), default=-1)
        last_infringing = max((m.end() for m in _INFRINGING.finditer(window)), default=-1)
        if last_original > last_infringing:
            originals.append(resource.value)
        else:
            infringing.append(resource)
    return infringing, originals


def _mail_date(message: Message) -> datetime | None:
    raw = header(message, "Date")
    try:
        return parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
