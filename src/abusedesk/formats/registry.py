"""Which parser reads an input: the sniffing order of REFERENCE.md §1.1, in one table.

Mail formats are tried on the parsed message in order; file formats on the bytes. The
first whose ``detect`` says yes parses; an explicit ``--format`` skips detection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from abusedesk.formats import arf, dmca, iodef, iplist, ownjson, shadowserver, spamcop, text, xarf, xarf_yaml
from abusedesk.formats.base import ParsedReport, ParseError
from abusedesk.formats.mail import looks_like_mail, parse_message


@dataclass(frozen=True)
class MailFormat:
    name: str
    detect: Callable[[EmailMessage], bool]
    parse: Callable[[EmailMessage], list[ParsedReport]]


@dataclass(frozen=True)
class FileFormat:
    name: str
    detect: Callable[[bytes, str | None], bool]
    parse: Callable[[bytes, str | None], list[ParsedReport]]


#: order matters: the most specific test first (REFERENCE.md §1.1)
MAIL_FORMATS: list[MailFormat] = [
    MailFormat("xarf-mail", xarf.detect_mail, xarf.parse_mail),
    MailFormat("arf", arf.detect_mail, arf.parse_mail),
    MailFormat("xarf-yaml", xarf_yaml.detect_mail, xarf_yaml.parse_mail),
    MailFormat("spamcop", spamcop.detect_mail, spamcop.parse_mail),
    MailFormat("acns", dmca.detect_acns_mail, dmca.parse_acns_mail),
    MailFormat("iodef-mail", iodef.detect_mail, iodef.parse_mail),
    MailFormat("shadowserver-mail", shadowserver.detect_mail, shadowserver.parse_mail),
    # free-text DMCA letters: after every machine format, before the general fallback
    MailFormat("dmca", dmca.detect_mail, dmca.parse_mail),
    # the fallback: any readable mail is a complaint a human wrote (never an error)
    MailFormat("text", text.detect_mail, text.parse_mail),
]

FILE_FORMATS: list[FileFormat] = [
    FileFormat("xarf", xarf.detect_bytes, xarf.parse_bytes),
    FileFormat("json", ownjson.detect_bytes, ownjson.parse_bytes),
    FileFormat("acns-xml", dmca.detect_bytes, dmca.parse_bytes),
    FileFormat("iodef", iodef.detect_bytes, iodef.parse_bytes),
    FileFormat("shadowserver", shadowserver.detect_bytes, shadowserver.parse_bytes),
    # only a file of bare addresses; with no category given they go to a human
    # (the CLI passes ``--category`` to :func:`iplist.parse_list`)
    FileFormat("iplist", iplist.detect_bytes, iplist.parse_bytes),
]


def format_names() -> list[str]:
    return [f.name for f in MAIL_FORMATS] + [f.name for f in FILE_FORMATS]


def parse_input(data: bytes, *, filename: str | None = None, format: str | None = None) -> list[ParsedReport]:
    """Parse one raw input into reports, or raise :class:`ParseError` saying why not."""
    if not data.strip():
        raise ParseError("empty input")
    if format is not None:
        return _parse_as(format, data, filename)
    for file_format in FILE_FORMATS:
        if file_format.detect(data, filename):
            return file_format.parse(data, filename)
    if looks_like_mail(data):
        message = parse_message(data)
        for mail_format in MAIL_FORMATS:
            if mail_format.detect(message):
                return mail_format.parse(message)
        raise ParseError("e-mail in no known report format", source_format="mail")
    raise ParseError("not a known report format (not JSON, CSV, XML or an e-mail)")


def parse_json_document(document: dict[str, Any]) -> list[ParsedReport]:
    """A decoded API body: XARF (any version) or our own JSON, without decoding it twice."""
    if "xarf_version" in document or "Version" in document:
        return [xarf.parse_document(document)]
    return ownjson.parse_document(document)


def _parse_as(name: str, data: bytes, filename: str | None) -> list[ParsedReport]:
    """A named parser; ``iplist:<category>`` gives a plain list its category."""
    if ":" in name:
        base, _, parameter = name.partition(":")
        if base != iplist.FORMAT:
            raise ParseError(f"format {base!r} takes no parameter ({name!r})")
        return iplist.parse_list(data, parameter, filename=filename)
    for file_format in FILE_FORMATS:
        if file_format.name == name:
            return file_format.parse(data, filename)
    for mail_format in MAIL_FORMATS:
        if mail_format.name == name:
            return mail_format.parse(parse_message(data))
    raise ParseError(f"unknown format {name!r}; known: {', '.join(format_names())}")
