"""X-ARF 0.1 and 0.2: a YAML report inside a plain multipart mail (REFERENCE.md §1.3).

blocklist.de, Netcraft and many fail2ban setups still send these. The YAML is hostile
text: only ``yaml.safe_load`` reads it (no object construction), its size is bounded, and
only top-level scalars are used, so an alias bomb costs nothing. No "0.3" exists: every
``0.x`` is read alike.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, datetime
from email.message import EmailMessage, Message
from typing import Any

import yaml

from abusedesk.formats.base import ParsedReport, ParseError, Problem, Reporter, excerpt
from abusedesk.formats.mail import filename, header, part_text, reporter_from, walk
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, ResourceKind, guess_resource, make_resource
from abusedesk.timeutil import as_utc, parse_timestamp

FORMAT = "xarf-yaml"
C = Category
MAX_YAML_CHARS = 256 * 1024

#: X-ARF ``Report-Type`` → category (REFERENCE.md §1.3, TAXONOMY.md). The ``fraud``
#: schema's own types (infected, defacement, scam) are mapped too; anything else is
#: ``other.unclassified``.
REPORT_TYPES: dict[str, Category] = {
    "login-attack": C.SECURITY_BRUTEFORCE,
    "portscan": C.SECURITY_SCAN,
    "port-scan": C.SECURITY_SCAN,
    "malware-attack": C.CONTENT_MALWARE,
    "malware": C.CONTENT_MALWARE,
    "bot-infection": C.CONTENT_MALWARE,
    "infected": C.CONTENT_MALWARE,
    "phishing": C.CONTENT_PHISHING,
    "phishing-website": C.CONTENT_PHISHING,
    "spam": C.EMAIL_SPAM,
    "spamvertized": C.EMAIL_SPAM,
    "ddos": C.NETWORK_DOS,
    "defacement": C.SECURITY_INTRUSION,
    "scam": C.CONTENT_FRAUD,
}

#: ``Source-Type`` → resource kind
SOURCE_TYPES: dict[str, ResourceKind] = {
    "ipv4": ResourceKind.IP,
    "ipv6": ResourceKind.IP,
    "ip-address": ResourceKind.IP,
    "ip": ResourceKind.IP,
    "uri": ResourceKind.URL,
    "url": ResourceKind.URL,
    "domain": ResourceKind.DOMAIN,
    "email": ResourceKind.EMAIL,
}

_REQUIRED = ("Report-Type", "Source", "Date")
_YAML_START = re.compile(r"^\s*(?:---\s*$|[A-Za-z-]+:\s)", re.MULTILINE)
_REPORT_TYPE_LINE = re.compile(r"^Report-Type:\s", re.MULTILINE)
_SOURCE_LINE = re.compile(r"^Source:\s", re.MULTILINE)


def detect_mail(message: EmailMessage) -> bool:
    return header(message, "X-ARF").lower() == "yes" or header(message, "X-XARF").lower() == "plain"


def _yaml_part(message: Message) -> tuple[str, list[str]]:
    """The YAML report text and the other text parts (description first, evidence after)."""
    texts: list[tuple[Message, str]] = []
    for part in walk(message, max_depth=3):
        if part.get_content_maintype() == "text" and not part.is_multipart():
            texts.append((part, part_text(part)))
    for index, (part, text) in enumerate(texts):
        name = (filename(part) or "").lower()
        if name.endswith((".yaml", ".yml")) or name == "report.txt" or (text.lstrip().startswith("---") and "Report-Type" in text[:4000]):
            return text, [t for i, (_, t) in enumerate(texts) if i != index]
    for index, (_, text) in enumerate(texts):
        if _REPORT_TYPE_LINE.search(text[:8000]) and _SOURCE_LINE.search(text[:8000]):
            return text, [t for i, (_, t) in enumerate(texts) if i != index]
    raise ParseError("X-ARF mail without a YAML report part (expected part 2, 'report.txt', starting '---')", source_format=FORMAT)


def load_report(text: str) -> dict[str, Any]:
    if len(text) > MAX_YAML_CHARS:
        raise ParseError(f"X-ARF YAML part is {len(text)} characters, at most {MAX_YAML_CHARS}", source_format=FORMAT)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1} column {where.column + 1}" if where is not None else ""
        raise ParseError(f"X-ARF YAML is malformed{at}: {getattr(exc, 'problem', None) or exc}", source_format=FORMAT) from None
    except RecursionError:
        raise ParseError("X-ARF YAML nests too deeply", source_format=FORMAT) from None
    if not isinstance(document, dict):
        raise ParseError(f"X-ARF YAML must be a mapping of fields, not {type(document).__name__}", source_format=FORMAT)
    # keys are matched case-insensitively: senders write Report-Type and report-type
    return {str(k).strip().lower(): v for k, v in document.items()}


def parse_mail(message: EmailMessage) -> list[ParsedReport]:
    text, others = _yaml_part(message)
    document = load_report(text)
    problems = [
        Problem(f"/{name}", f"rule.{name.lower()}.missing", f"{name} is required by X-ARF")
        for name in _REQUIRED
        if _scalar(document.get(name.lower())) is None
    ]
    if problems:
        raise ParseError(f"X-ARF report lacks {', '.join(p.path[1:] for p in problems)}", problems, source_format=FORMAT)

    report_type = str(_scalar(document["report-type"])).strip().lower()
    category = REPORT_TYPES.get(report_type, C.OTHER_UNCLASSIFIED)
    resources = [_source(document)]
    for key, kind in (("uri", ResourceKind.URL), ("domain", ResourceKind.DOMAIN)):
        value = _scalar(document.get(key))
        if value is not None:
            with contextlib.suppress(ValueError):
                resources.append(make_resource(kind, str(value)))
    occurred_at = _date(document["date"])

    reporter = reporter_from(message)
    reported_from = _scalar(document.get("reported-from"))
    if isinstance(reported_from, str) and "@" in reported_from:
        reporter = Reporter(reported_from.strip().lower(), reporter.name)
    fields: dict[str, Any] = {
        k: (v if isinstance(v, str | int | float | bool) or v is None else str(v))
        for k, v in document.items()
        if not isinstance(v, dict | list)
    }
    fields["version"] = str(document.get("version") or ("0.2" if header(message, "X-XARF") else "0.1"))
    evidence = "\n\n".join(others[1:]) if len(others) > 1 else ""
    source_text = resources[0].value
    return [
        ParsedReport(
            source_format=FORMAT,
            category=category,
            resources=resources,
            occurred_at=occurred_at,
            reporter=reporter,
            summary=f"X-ARF {report_type} report about {source_text}",
            evidence=excerpt(evidence or (others[0] if others else "")),
            fields=fields,
            source_id=str(_scalar(document.get("report-id")) or header(message, "Message-ID") or "") or None,
            automated=True,
        )
    ]


def _scalar(value: Any) -> Any:
    if isinstance(value, dict | list) or value == "":
        return None
    return value


def _source(document: dict[str, Any]) -> Resource:
    raw = str(_scalar(document["source"])).strip()
    source_type = str(_scalar(document.get("source-type")) or "").strip().lower()
    kind = SOURCE_TYPES.get(source_type)
    try:
        if kind is None:
            return guess_resource(raw)
        return make_resource(kind, raw)
    except ValueError as exc:
        raise ParseError(f"X-ARF Source {raw[:80]!r} is not a valid {source_type or 'address'}: {exc}", [Problem("/Source", "rule.source.invalid", str(exc))], source_format=FORMAT) from None


def _date(value: Any) -> datetime:
    """YAML turns an unquoted RFC 3339 date into a datetime already; strings are parsed."""
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, date):
        return as_utc(datetime(value.year, value.month, value.day))
    try:
        return parse_timestamp(str(value))
    except ValueError as exc:
        raise ParseError(f"X-ARF Date: {exc}", [Problem("/Date", "rule.date.invalid", str(exc))], source_format=FORMAT) from None
