"""Turning a stored raw input into something safe to look at.

Reported mail is attacker-controlled. Headers and text parts are shown as escaped text;
HTML parts are cleaned with nh3 (no scripts, styles, forms, images or event handlers) and
then shown in a sandboxed frame as well, so a sanitizer bug alone is not enough. Other
parts are only ever offered as downloads, never rendered.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import nh3

from abusedesk.formats.mail import header, looks_like_mail, parse_message, part_bytes, part_text, walk

MAX_TEXT = 200_000
#: tags kept in sanitized HTML: structure and emphasis only; no img (tracking pixels), no forms
SAFE_TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i", "li", "ol", "p",
    "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}


@dataclass(slots=True)
class Part:
    index: int
    content_type: str
    filename: str | None
    size: int
    text: str | None = None  # text/plain, shown escaped
    html: str | None = None  # sanitized HTML, shown in a sandboxed iframe


@dataclass(slots=True)
class RawView:
    is_mail: bool
    headers: list[tuple[str, str]] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    text: str = ""  # non-mail inputs: the bytes as text
    truncated: bool = False


def sanitize_html(html: str) -> str:
    return nh3.clean(html[:MAX_TEXT], tags=SAFE_TAGS, attributes={"a": {"href", "title"}, "td": {"colspan"}, "th": {"colspan"}}, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def view_raw(data: bytes) -> RawView:
    if not looks_like_mail(data):
        text = data[:MAX_TEXT].decode("utf-8", errors="replace")
        return RawView(False, text=text, truncated=len(data) > MAX_TEXT)
    message = parse_message(data)
    view = RawView(True)
    for name in message.keys()[:200]:
        view.headers.append((name, header(message, name)[:2000]))
    for index, part in enumerate(walk(message)):
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        filename = part.get_filename()
        payload = part_bytes(part)
        item = Part(index, content_type, filename[:300] if filename else None, len(payload))
        if filename is None and content_type == "text/plain":
            item.text = part_text(part)[:MAX_TEXT]
        elif filename is None and content_type == "text/html":
            item.html = sanitize_html(part_text(part))
        view.parts.append(item)
    return view


def part_payload(data: bytes, index: int) -> tuple[bytes, str] | None:
    """The decoded bytes and a safe file name of part ``index`` (as numbered by :func:`view_raw`)."""
    if not looks_like_mail(data):
        return None
    for number, part in enumerate(walk(parse_message(data))):
        if number == index and not part.is_multipart():
            name = part.get_filename()
            return part_bytes(part), safe_filename(name) if name else f"part-{index}.bin"
    return None


_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_filename(name: str) -> str:
    """A name safe for a Content-Disposition header and a file system: ASCII letters,
    digits, dot, dash, underscore and space; never a path, never empty, never a dot file."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return (cleaned or "attachment")[:120] + ".bin"
