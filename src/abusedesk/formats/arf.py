"""ARF feedback reports (RFC 5965) and authentication-failure reports (RFC 6591).

The big mailbox providers' feedback loops, SpamCop's ARF variant and pre-standard
reports all share this shape; their differences (``Received-Date`` for ``Arrival-Date``,
``Version: 0.1``, a missing ``Source-IP``) are tolerated here, not in callers.
"""

from __future__ import annotations

import re
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import compat32

from abusedesk.formats.base import ParsedReport, ParseError, Reporter, excerpt, unique_resources
from abusedesk.formats.mail import attached_message, header, part_bytes, part_text, reporter_from, walk
from abusedesk.formats.spamcop import email_from
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, make_resource
from abusedesk.timeutil import parse_timestamp

FORMAT = "arf"

FEEDBACK_TYPES: dict[str, Category | None] = {
    "abuse": Category.EMAIL_SPAM,
    "fraud": Category.CONTENT_PHISHING,
    "virus": Category.CONTENT_MALWARE,
    "auth-failure": Category.EMAIL_FORGERY,
    "dmarc": Category.EMAIL_FORGERY,
    "other": Category.OTHER_UNCLASSIFIED,
    "not-spam": None,
    "opt-out": None,
}
#: Feedback-Types that are not complaints: recorded, never open a case
NOT_COMPLAINTS = {"not-spam", "opt-out", "unsubscribe"}
_CREDENTIAL_WORDS = re.compile(r"passw|login|log in|credential|verify your|account|bank|sign in|kennwort|anmeld", re.IGNORECASE)


def detect_mail(message: EmailMessage) -> bool:
    if message.get_content_type() != "multipart/report":
        return False
    report_type = (message.get_param("report-type") or "")
    return str(report_type).lower() == "feedback-report" or _feedback_part(message) is not None


def _feedback_part(message: Message) -> Message | None:
    for part in walk(message, max_depth=2):
        if part.get_content_type() == "message/feedback-report":
            return part
    return None


def _feedback_fields(part: Message) -> list[tuple[str, str]]:
    """The ``Name: value`` fields, however the MIME parser chose to hold them."""
    data = part_bytes(part)
    if not data:
        payload = part.get_payload()
        if isinstance(payload, list):
            items: list[tuple[str, str]] = []
            for block in payload:
                if isinstance(block, Message):
                    items.extend((k, str(v)) for k, v in block.items())
            return items
        data = payload.encode("utf-8", "replace") if isinstance(payload, str) else b""
    parsed = HeaderParser(policy=compat32).parsestr(data.decode("utf-8", "replace").lstrip("\r\n"))
    return [(k, re.sub(r"\s*\r?\n\s*", " ", str(v)).strip()) for k, v in parsed.items()]


def parse_mail(message: EmailMessage) -> list[ParsedReport]:
    part = _feedback_part(message)
    if part is None:
        raise ParseError("multipart/report without a message/feedback-report part", source_format=FORMAT)
    fields = _feedback_fields(part)
    if not fields:
        raise ParseError("the message/feedback-report part is empty", source_format=FORMAT)
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name.lower(), []).append(value.strip())

    def first(name: str) -> str | None:
        found = values.get(name.lower())
        return found[0] if found else None

    raw_type = (first("Feedback-Type") or "").strip().lower()
    if not raw_type:
        raise ParseError("feedback report without Feedback-Type", source_format=FORMAT)
    description = _description(message)
    original = _original_message(message)
    flags: list[str] = []
    if first("Arrival-Date") and first("Received-Date"):
        flags.append("both Arrival-Date and Received-Date present (RFC 5965 §4: malformed)")

    no_complaint = raw_type in NOT_COMPLAINTS
    category = FEEDBACK_TYPES.get(raw_type, Category.OTHER_UNCLASSIFIED)
    if raw_type == "fraud" and not _CREDENTIAL_WORDS.search(description + _original_text(original)):
        category = Category.CONTENT_FRAUD

    resources: list[Resource] = []
    source_ip = (first("Source-IP") or "").split(" ")[0].strip("[]")
    # SpamCop's ARF variant sometimes lacks Source-IP and Arrival-Date: its text part has both
    spamcop_ip, spamcop_time = email_from(description)
    if not source_ip and spamcop_ip:
        source_ip = spamcop_ip
    if source_ip:
        try:
            resources.append(make_resource(ResourceKind.IP, source_ip))
        except ValueError:
            flags.append(f"Source-IP {source_ip[:60]!r} is not an address")
    for domain in values.get("reported-domain", []):
        try:
            resources.append(make_resource(ResourceKind.DOMAIN, domain))
        except ValueError:
            flags.append(f"Reported-Domain {domain[:60]!r} is not a domain")
    for uri in values.get("reported-uri", []):
        try:
            resources.append(make_resource(ResourceKind.URL, uri))
        except ValueError:
            flags.append(f"Reported-URI {uri[:60]!r} is not a URL")

    occurred_at = None
    date_text = first("Arrival-Date") or first("Received-Date")
    if date_text:
        try:
            occurred_at = parse_timestamp(re.sub(r"\s*\([^)]*\)\s*$", "", date_text))
        except ValueError:
            flags.append(f"unreadable date {date_text[:60]!r}")
    else:
        occurred_at = spamcop_time

    subject = header(original, "Subject") if original is not None else ""
    summary = f"ARF {raw_type} report" + (f": {subject[:200]}" if subject else "")
    evidence_parts = [description.strip()]
    if original is not None:
        evidence_parts.append("\n".join(f"{k}: {v}" for k, v in list(original.items())[:40]))
    report_fields: dict[str, object] = {k: v if len(v) > 1 else v[0] for k, v in values.items()}
    if flags:
        report_fields["_warnings"] = flags
    return [
        ParsedReport(
            source_format=FORMAT,
            category=None if no_complaint else category,
            resources=unique_resources(resources),
            occurred_at=occurred_at,
            reporter=reporter_from(message) or Reporter(),
            summary=summary,
            evidence=excerpt("\n\n".join(p for p in evidence_parts if p)),
            fields=report_fields,
            source_id=header(message, "Message-ID") or None,
            no_complaint=no_complaint,
            automated=True,
        )
    ]


def _description(message: Message) -> str:
    for part in walk(message, max_depth=2):
        if part.get_content_type() == "text/plain":
            return part_text(part)
    return ""


def _original_message(message: Message) -> Message | None:
    for part in walk(message, max_depth=2):
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            return attached_message(part)
    return None


def _original_text(original: Message | None) -> str:
    if original is None:
        return ""
    text = header(original, "Subject")
    for part in walk(original, max_depth=3):
        if part.get_content_maintype() == "text":
            text += "\n" + part_text(part)[:5000]
            break
    return text
