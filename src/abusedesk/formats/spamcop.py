"""SpamCop reports: plain spam reports, spamvertised-site reports, summaries and alerts.

REFERENCE.md §1.8. SpamCop has already traced the spam, so its ``Email from <ip> /
<date>`` line is the subject and the time; we do not re-derive them from the offending
message. The ARF variant is read by ``arf``; :func:`email_from` serves it when the
``Source-IP`` field is missing. Everything SpamCop sends is ``email.spam``.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime

from abusedesk.formats.base import ParsedReport, ParseError, excerpt, unique_resources
from abusedesk.formats.mail import header, part_text, reporter_from, walk
from abusedesk.formats.textextract import IPV4_RE, extract, is_internal_ip
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, normalize_ip, normalize_url
from abusedesk.timeutil import as_utc, parse_timestamp

FORMAT = "spamcop"
CATEGORY = Category.EMAIL_SPAM
#: SpamCop's report senders; people with a spamcop.net mailbox write plain complaints
_SENDER = re.compile(r"@(?:reports|admin)\.spamcop\.net\b", re.IGNORECASE)
_EMAIL_FROM = re.compile(r"^\s*Email from ([0-9A-Fa-f.:]{3,45}) / ([^\r\n]+)$", re.MULTILINE)
_SPAMVERTISED = re.compile(r"^\s*Spamvertised web site:\s*(\S+)", re.MULTILINE | re.IGNORECASE)
_SUBJECT = re.compile(r"^\[SpamCop \(([^)]{1,2000})\) id:(\d+)\]", re.IGNORECASE)
_OFFENDING = re.compile(r"^\[ Offending message \]\s*$", re.MULTILINE)
_SUMMARY_ROW = re.compile(
    r"^\s*((?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})\s*/\s*(\S+)(.*)$",
    re.MULTILINE,
)
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}


def email_from(text: str) -> tuple[str | None, datetime | None]:
    """The traced source of a SpamCop report: ``Email from <ip> / <date>``.

    For ``arf``: when a SpamCop ARF report lacks ``Source-IP``, call this on its text
    part. Returns the normalized IP (``None`` if absent or invalid) and the UTC time.
    """
    match = _EMAIL_FROM.search(text[:200_000])
    if not match:
        return None, None
    try:
        ip: str | None = normalize_ip(match.group(1))
    except ValueError:
        ip = None
    try:
        when: datetime | None = parse_timestamp(match.group(2))
    except ValueError:
        when = None
    return ip, when


def detect_mail(message: EmailMessage) -> bool:
    if message.get_content_type() == "multipart/report":
        return False  # the ARF variant belongs to arf
    sender = header(message, "From")
    subject = header(message, "Subject")
    if _SENDER.search(sender):
        return True
    return subject.lower().startswith("[spamcop") and _body(message).lstrip().startswith("[ SpamCop V")


def _body(message: Message) -> str:
    for part in walk(message, max_depth=3):
        if part.get_content_type() == "text/plain":
            return part_text(part)
    return ""


def parse_mail(message: EmailMessage) -> list[ParsedReport]:
    subject = header(message, "Subject")
    body = _body(message)
    lowered = subject.lower()
    if "summary report" in lowered or "summaries@" in header(message, "From").lower():
        return _summary(message, body)
    if lowered.startswith("[spamcop] alert") or ("alert" in lowered and "[spamcop]" in lowered):
        return _alert(message, body)
    return _spam_report(message, subject, body)


def _spam_report(message: Message, subject: str, body: str) -> list[ParsedReport]:
    ip, when = email_from(body)
    subject_match = _SUBJECT.match(subject)
    resources: list[Resource] = []
    if ip:
        resources.append(Resource(ResourceKind.IP, ip))
    for site in _SPAMVERTISED.findall(body[:200_000]):
        try:
            resources.append(Resource(ResourceKind.URL, normalize_url(site)))
        except ValueError:
            continue
    if subject_match and not resources:
        token = subject_match.group(1)
        try:
            resources.append(Resource(ResourceKind.IP, normalize_ip(token)))
        except ValueError:
            with contextlib.suppress(ValueError):
                resources.append(Resource(ResourceKind.URL, normalize_url(token)))
    if not resources:
        raise ParseError("SpamCop report without 'Email from <ip> / <date>' line or spamvertised site", source_format=FORMAT)
    if when is None:
        when = _mail_date(message)
    offending = ""
    marker = _OFFENDING.search(body)
    if marker:
        offending = body[marker.end():]
    comments = body[: marker.start()] if marker else body
    report_id = subject_match.group(2) if subject_match else None
    return [
        ParsedReport(
            source_format=FORMAT,
            category=CATEGORY,
            resources=unique_resources(resources),
            occurred_at=when,
            reporter=reporter_from(message),
            summary=f"SpamCop report about {resources[0].value}",
            evidence=excerpt(offending or comments),
            fields={"spamcop_id": report_id, "subject": subject, "report_text": comments[:2000]},
            source_id=f"spamcop:{report_id}" if report_id else header(message, "Message-ID") or None,
            automated=True,
        )
    ]


def _summary(message: Message, body: str) -> list[ParsedReport]:
    """One report per table row: ``<ip> <Mon> <day> <HH:MM> / <length> <counts>``."""
    reference = _mail_date(message) or datetime.now(UTC)
    reporter = reporter_from(message)
    reports: list[ParsedReport] = []
    for match in _SUMMARY_ROW.finditer(body[:2_000_000]):
        try:
            ip = normalize_ip(match.group(1))
        except ValueError:
            continue
        month = _MONTHS.get(match.group(2))
        when: datetime | None = None
        if month:
            try:
                when = datetime(reference.year, month, int(match.group(3)), int(match.group(4)), int(match.group(5)), tzinfo=UTC)
                if when - reference > timedelta(days=2):
                    when = when.replace(year=reference.year - 1)
            except ValueError:
                when = None
        counts = match.group(7).split()
        fields: dict[str, object] = {"length": match.group(6), "counts": counts, "row": match.group(0).strip()}
        reports.append(
            ParsedReport(
                source_format=FORMAT,
                category=CATEGORY,
                resources=[Resource(ResourceKind.IP, ip)],
                occurred_at=when,
                reporter=reporter,
                summary=f"SpamCop summary: {ip} reported since {match.group(2)} {match.group(3)} {match.group(4)}:{match.group(5)}",
                evidence=match.group(0).strip(),
                fields=fields,
                automated=True,
            )
        )
    if not reports:
        raise ParseError("SpamCop summary without any '<ip> <date> / <length>' row", source_format=FORMAT)
    return reports


def _alert(message: Message, body: str) -> list[ParsedReport]:
    """An alert names one or more IPs in prose; one report each."""
    when = _mail_date(message)
    subject = header(message, "Subject")
    found = extract(body, want_domains=False)
    ips = [ip for ip in found.ips if not is_internal_ip(ip)]
    if not ips:
        ips = [m.group(0) for m in IPV4_RE.finditer(subject)]
    if not ips:
        raise ParseError("SpamCop alert without an IP address", source_format=FORMAT)
    reporter = reporter_from(message)
    evidence = excerpt(body)
    return [
        ParsedReport(
            source_format=FORMAT,
            category=CATEGORY,
            resources=[Resource(ResourceKind.IP, ip)],
            occurred_at=when,
            reporter=reporter,
            summary=f"SpamCop alert: {ip}",
            evidence=evidence,
            fields={"subject": subject},
            automated=True,
        )
        for ip in ips
    ]


def _mail_date(message: Message) -> datetime | None:
    raw = header(message, "Date")
    try:
        return as_utc(parsedate_to_datetime(raw)) if raw else None
    except (TypeError, ValueError, IndexError):
        return None
