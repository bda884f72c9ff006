"""Reading hostile e-mail safely with the stdlib ``email`` package (``policy.default``).

Reports arrive from attackers as well as from victims: truncated MIME, lying charsets,
8-bit headers, malformed address headers and deep nesting must give text or nothing,
never a crash. ``policy.default`` parses address headers on access and raises from
inside the stdlib on bad ones (``To: a@``), so every accessor here falls back to the raw
header text. Limits on depth and part count keep a crafted message from costing more
than its size.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from abusedesk.formats.base import Reporter

MAX_DEPTH = 12
MAX_PARTS = 500

_MAIL_HEADER = re.compile(rb"^(From |Return-Path:|Received:|From:|Message-ID:|MIME-Version:|Date:|Subject:|To:|Delivered-To:|X-[A-Za-z-]+:|Content-Type:)", re.IGNORECASE)

#: content types worth decoding when looking for an XML document (ACNS, IODEF)
XML_TYPES = frozenset({"application/xml", "text/xml", "text/plain", "application/octet-stream", "application/gzip", "application/x-gzip"})


def looks_like_mail(data: bytes) -> bool:
    head = data[:4096].lstrip()
    return bool(_MAIL_HEADER.match(head)) and (b"\n\n" in data or b"\r\n\r\n" in data or len(data) < 4096)


def parse_message(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


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
    """A header as text; a value the policy cannot parse comes back raw."""
    try:
        value = message.get(name)
        return "" if value is None else str(value).strip()
    except Exception:  # noqa: BLE001 - malformed headers raise many kinds of errors
        return raw_header(message, name)


def received(message: Message) -> list[str]:
    """``Received`` values as text, unparsed."""
    try:
        return [str(v) for v in (message.get_all("Received") or [])]
    except Exception:  # noqa: BLE001
        return raw_headers(message, "Received")


def payload_of(part: Message) -> object:
    try:
        return part.get_payload()
    except Exception:  # noqa: BLE001 - e.g. ValueError for a NUL in the charset name
        return None


def content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def filename(part: Message) -> str | None:
    try:
        return part.get_filename()
    except Exception:  # noqa: BLE001 - malformed parameters
        return None


def walk(message: Message, *, max_depth: int = MAX_DEPTH) -> Iterator[Message]:
    """Every part, depth-first, stopping at ``max_depth`` nesting and ``MAX_PARTS`` parts;
    a part whose payload cannot be read is yielded but not descended into."""
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack and count < MAX_PARTS:
        part, depth = stack.pop()
        count += 1
        yield part
        if depth >= max_depth:
            continue
        payload = payload_of(part)
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
        elif isinstance(payload, Message) and content_type(part) == "message/rfc822":
            stack.append((payload, depth + 1))


def part_bytes(part: Message) -> bytes:
    """Decoded body bytes (base64 / quoted-printable undone); b'' when undecodable."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        return b""
    return payload if isinstance(payload, bytes) else b""


def part_text(part: Message) -> str:
    """The part as text, trusting the declared charset only when it works."""
    data = part_bytes(part)
    if not data:
        raw = payload_of(part)
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:  # noqa: BLE001 - a charset parameter that is not even text
        charset = "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("utf-8", errors="replace")


def attached_message(part: Message) -> Message | None:
    """The message inside a ``message/rfc822`` part, or headers of ``text/rfc822-headers``."""
    payload = payload_of(part)
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, Message):
        return payload
    data = part_bytes(part) or (payload.encode("utf-8", "replace") if isinstance(payload, str) else b"")
    if not data:
        return None
    return email.message_from_bytes(data, policy=email.policy.default)


def body_text(message: Message) -> str:
    """The first text/plain part that is not an attachment; HTML is handled by callers."""
    for part in walk(message, max_depth=3):
        if content_type(part) == "text/plain" and not filename(part):
            return part_text(part)
    return ""


def reporter_from(message: Message) -> Reporter:
    name, address = parseaddr(header(message, "From"))
    if not address or "@" not in address:
        return Reporter(None, name or None)
    return Reporter(address.lower(), name or None)


def addresses(message: Message, *names: str) -> list[str]:
    values = [raw_header(message, name) for name in names]
    try:
        pairs = getaddresses([v for v in values if v])
    except Exception:  # noqa: BLE001
        return []
    return [address.lower() for _, address in pairs if "@" in address]


def may_hold_xml(part: Message) -> bool:
    """Whether decoding ``part`` could find an XML report: skips images, pcaps, archives."""
    name = (filename(part) or "").lower()
    return content_type(part) in XML_TYPES or name.endswith((".xml", ".xml.gz", ".iodef"))
