"""Plain lists of IPs, URLs or domains, imported with a category the operator names.

Blocklists, a partner's CSV of scanners, a spreadsheet from a law-enforcement request: the
list carries no category of its own, so the importer says what it is
(``feed import --format iplist --category security.scan``). One report per entry. A bad
entry fails the import with its line number: the operator is there to fix the file, and
a silently skipped line would be a lost report.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from abusedesk.formats.base import ParsedReport, ParseError, Problem, Reporter
from abusedesk.formats.csvsafe import neutralize
from abusedesk.policy.taxonomy import Category, parse_category
from abusedesk.resources import guess_resource, normalize_ip
from abusedesk.timeutil import parse_timestamp

FORMAT = "iplist"
MAX_ENTRIES = 1_000_000
MAX_PROBLEMS = 20
_SUBJECT_COLUMNS = ("ip", "src_ip", "source_ip", "ip_address", "address", "url", "domain", "host", "hostname", "source", "resource")
_TIME_COLUMNS = ("timestamp", "time", "date", "datetime", "occurred_at", "first_seen", "last_seen", "seen")
_COMMENT = re.compile(r"\s*[#;].*$")
_SPLIT = re.compile(r"[\s,;|]+")


def parse_list(
    data: bytes,
    category: Category | str,
    *,
    filename: str | None = None,
    reporter: Reporter | None = None,
    occurred_at: datetime | None = None,
    source_format: str = FORMAT,
) -> list[ParsedReport]:
    """One report per entry, every one in ``category``; ``occurred_at`` where a row has none."""
    try:
        chosen = category if isinstance(category, Category) else parse_category(category)
    except ValueError as exc:
        raise ParseError(str(exc), [Problem("/category", "rule.category.unknown", str(exc))], source_format=source_format) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 at byte {exc.start}: save the list as UTF-8 text", source_format=source_format) from None
    if "\x00" in text:
        raise ParseError("binary data, not a text list", source_format=source_format)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith(("#", ";"))), "")
    header = _header(first)
    entries = _csv_entries(text, header) if header else _line_entries(lines)
    if len(entries) > MAX_ENTRIES:
        raise ParseError(f"{len(entries)} entries, at most {MAX_ENTRIES} per import", source_format=source_format)

    reporter = reporter or Reporter()
    reports: list[ParsedReport] = []
    problems: list[Problem] = []
    for line_no, value, when, note, display in entries:
        try:
            resource = guess_resource(value)
        except ValueError as exc:
            problems.append(Problem(f"/line/{line_no}", "rule.entry.invalid", f"{neutralize(value[:80])!r}: {exc}"))
            continue
        moment = occurred_at
        if when:
            try:
                moment = parse_timestamp(when)
            except ValueError as exc:
                problems.append(Problem(f"/line/{line_no}", "rule.entry.timestamp", str(exc)))
                continue
        fields: dict[str, object] = {"line": line_no}
        if note:
            fields["note"] = note
        if filename:
            fields["file"] = filename
        reports.append(
            ParsedReport(
                source_format=source_format,
                category=chosen,
                resources=[resource],
                occurred_at=moment,
                reporter=reporter,
                summary=f"{chosen.value} list entry: {resource.value}",
                evidence=f"{neutralize(value)} {display}".strip()[:500],
                fields=fields,
                automated=True,
            )
        )
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = f" (first {MAX_PROBLEMS} shown)" if len(problems) > MAX_PROBLEMS else ""
        lines_text = ", ".join(p.path.rsplit("/", 1)[1] for p in shown)
        raise ParseError(f"{len(problems)} invalid entries{more}, lines {lines_text}", shown, source_format=source_format)
    if not reports:
        raise ParseError("the list has no entries", source_format=source_format)
    return reports


def _header(first: str) -> list[str] | None:
    """Column names, when the first line is a CSV header naming a subject column."""
    try:
        cells = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return None
    names = [c.strip().lower() for c in cells]
    return names if any(n in _SUBJECT_COLUMNS for n in names) else None


def _csv_entries(text: str, header: list[str]) -> list[tuple[int, str, str, str, str]]:
    subject = next(header.index(c) for c in _SUBJECT_COLUMNS if c in header)
    when = next((header.index(c) for c in _TIME_COLUMNS if c in header), None)
    out: list[tuple[int, str, str, str, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    seen_header = False
    try:
        for row in reader:
            if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if not seen_header:
                seen_header = True
                continue
            value = row[subject].strip() if subject < len(row) else ""
            stamp = row[when].strip() if when is not None and when < len(row) else ""
            rest = [(header[i], c) for i, c in enumerate(row) if i not in (subject, when) and i < len(header) and c]
            note = "; ".join(f"{name}={cell}" for name, cell in rest)
            shown = "; ".join(f"{name}={neutralize(cell)}" for name, cell in rest)
            out.append((reader.line_num, value, stamp, note, shown))
    except csv.Error as exc:
        raise ParseError(f"CSV broken at line {reader.line_num}: {exc}", source_format=FORMAT) from None
    return out


def _line_entries(lines: list[str]) -> list[tuple[int, str, str, str, str]]:
    """``value [timestamp] [# comment]`` per line; a CIDR or range is not one subject."""
    out: list[tuple[int, str, str, str, str]] = []
    for line_no, raw in enumerate(lines, start=1):
        comment_match = _COMMENT.search(raw)
        line = raw[: comment_match.start()] if comment_match else raw
        note = comment_match.group(0).strip().lstrip("#;").strip() if comment_match else ""
        tokens = [t for t in _SPLIT.split(line.strip()) if t]
        if not tokens:
            continue
        value, rest = tokens[0], " ".join(tokens[1:])
        stamp = ""
        if rest:
            try:
                parse_timestamp(rest)
                stamp = rest
            except ValueError:
                note = f"{rest} {note}".strip()
        out.append((line_no, value, stamp, note, neutralize(note)))
    return out


def detect_bytes(data: bytes, filename: str | None) -> bool:
    """A file that is nothing but addresses, one per line: worth reading, category unknown."""
    head = data[:8192]
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    lines = [line.strip() for line in text.splitlines()[:50] if line.strip() and not line.lstrip().startswith("#")]
    if len(data) > len(head) and lines:
        lines = lines[:-1]  # the last line may be cut
    if not lines:
        return False
    for line in lines:
        token = _SPLIT.split(line, maxsplit=1)[0]
        try:
            normalize_ip(token)
        except ValueError:
            if not token.lower().startswith(("http://", "https://")):
                return False
    return True


def parse_bytes(data: bytes, filename: str | None = None) -> list[ParsedReport]:
    """Without a category every entry goes to a human as ``other.unclassified``."""
    return parse_list(data, Category.OTHER_UNCLASSIFIED, filename=filename)
