"""Header access that cannot raise, for parsers that must read any mail.

``email.policy.default`` parses address headers on access, and malformed ones (``To:
a@``, a group without its colon) raise ``IndexError``, ``AttributeError`` or
``HeaderParseError`` from inside the stdlib, even on ``get_all``. These wrappers try
:mod:`abusedesk.formats.mail` first and fall back to the raw header text, decoded
leniently, so a hostile header costs a field, never the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

from abusedesk.formats import mail
from abusedesk.formats.base import Reporter


def raw_header(message: Message, name: str) -> str:
    """The first ``name`` header, RFC 2047 decoded when possible, without policy parsing."""
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() != wanted:
            continue
        text = value if isinstance(value, str) else str(value)
        try:
            return str(make_header(decode_header(text))).strip()
        except Exception:  # noqa: BLE001 - undecodable words: keep the raw text
            return text.strip()
    return ""


def raw_headers(message: Message, name: str) -> list[str]:
    wanted = name.lower()
    return [v if isinstance(v, str) else str(v) for k, v in message.raw_items() if k.lower() == wanted]


def header(message: Message, name: str) -> str:
    try:
        return mail.header(message, name)
    except Exception:  # noqa: BLE001 - see the module docstring
        return raw_header(message, name)


def addresses(message: Message, *names: str) -> list[str]:
    values = [raw_header(message, name) for name in names]
    try:
        pairs = getaddresses([v for v in values if v])
    except Exception:  # noqa: BLE001
        return []
    return [address.lower() for _, address in pairs if "@" in address]


def reporter_from(message: Message) -> Reporter:
    try:
        return mail.reporter_from(message)
    except Exception:  # noqa: BLE001
        name, address = parseaddr(raw_header(message, "From"))
        if not address or "@" not in address:
            return Reporter(None, name or None)
        return Reporter(address.lower(), name or None)


def received(message: Message) -> list[str]:
    """``Received`` values as text, unparsed (they are not address headers, but be safe)."""
    try:
        return [str(v) for v in (message.get_all("Received") or [])]
    except Exception:  # noqa: BLE001
        return raw_headers(message, "Received")


def payload_of(part: Message) -> object:
    try:
        return part.get_payload()
    except Exception:  # noqa: BLE001 - e.g. ValueError for a NUL in the charset name
        return None


def walk(message: Message, *, max_depth: int = mail.MAX_DEPTH) -> Iterator[Message]:
    """:func:`mail.walk`, but a part whose payload cannot be read is skipped, not fatal."""
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack and count < mail.MAX_PARTS:
        part, depth = stack.pop()
        count += 1
        yield part
        if depth >= max_depth:
            continue
        payload = payload_of(part)
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
        elif isinstance(payload, Message) and _content_type(part) == "message/rfc822":
            stack.append((payload, depth + 1))


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def part_text(part: Message) -> str:
    try:
        return mail.part_text(part)
    except Exception:  # noqa: BLE001 - fall back to the decoded bytes, replacing what is broken
        return mail.part_bytes(part).decode("utf-8", errors="replace")


def filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:  # noqa: BLE001 - malformed parameters
        return None


#: content types worth decoding when looking for an XML document (ACNS, IODEF)
XML_TYPES = frozenset({"application/xml", "text/xml", "text/plain", "application/octet-stream", "application/gzip", "application/x-gzip"})


def may_hold_xml(part: Message) -> bool:
    """Whether decoding ``part`` could find an XML report: skips images, pcaps, archives."""
    name = (filename(part) or "").lower()
    return _content_type(part) in XML_TYPES or name.endswith((".xml", ".xml.gz", ".iodef"))
