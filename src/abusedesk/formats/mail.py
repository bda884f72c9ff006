"""Reading hostile e-mail safely with the stdlib ``email`` package (``policy.default``).

Reports arrive from attackers as well as from victims: truncated MIME, lying charsets,
8-bit headers and deep nesting must give text or a clear error, never a crash. Limits on
depth and part count keep a crafted message from costing more than its size.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from abusedesk.formats.base import Reporter

MAX_DEPTH = 12
MAX_PARTS = 500

_MAIL_HEADER = re.compile(rb"^(From |Return-Path:|Received:|From:|Message-ID:|MIME-Version:|Date:|Subject:|To:|Delivered-To:|X-[A-Za-z-]+:|Content-Type:)", re.IGNORECASE)


def looks_like_mail(data: bytes) -> bool:
    head = data[:4096].lstrip()
    return bool(_MAIL_HEADER.match(head)) and (b"\n\n" in data or b"\r\n\r\n" in data or len(data) < 4096)


def parse_message(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def header(message: Message, name: str) -> str:
    """A header as text, tolerant of undecodable or malformed values."""
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - malformed headers raise many kinds of errors
        raw = message.get_all(name, failobj=[])
        value = raw[0] if raw else None
    if value is None:
        return ""
    try:
        return str(value).strip()
    except Exception:  # noqa: BLE001
        return repr(value)


def walk(message: Message, *, max_depth: int = MAX_DEPTH) -> Iterator[Message]:
    """Every part, depth-first, stopping at ``max_depth`` nesting and ``MAX_PARTS`` parts."""
    count = 0
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack and count < MAX_PARTS:
        part, depth = stack.pop()
        count += 1
        yield part
        if depth >= max_depth:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
        elif part.get_content_type() == "message/rfc822" and isinstance(payload, Message):
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
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def attached_message(part: Message) -> Message | None:
    """The message inside a ``message/rfc822`` part, or headers of ``text/rfc822-headers``."""
    payload = part.get_payload()
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
        if part.get_content_type() == "text/plain" and not part.get_filename():
            return part_text(part)
    return ""


def reporter_from(message: Message) -> Reporter:
    name, address = parseaddr(header(message, "From"))
    if not address or "@" not in address:
        return Reporter(None, name or None)
    return Reporter(address.lower(), name or None)


def addresses(message: Message, *names: str) -> list[str]:
    values = [header(message, name) for name in names]
    return [addr.lower() for _, addr in getaddresses([v for v in values if v]) if "@" in addr]


def format_address(display: str, address: str) -> str:
    local, _, domain = address.partition("@")
    return str(Address(display_name=display, username=local, domain=domain))
