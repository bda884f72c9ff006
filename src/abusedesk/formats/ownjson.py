"""abusedesk's own simple JSON report, for scripts and our own detectors.

One report ``{"category", "resources" | "source", "occurred_at", ...}`` or a batch
``{"reports": [...]}``. Strict: unknown categories and malformed resources are 422s with
a JSON Pointer, because a machine sender can fix them.
"""

from __future__ import annotations

from typing import Any

from abusedesk.formats.base import ParsedReport, ParseError, Problem, Reporter, excerpt
from abusedesk.formats.jsonutil import load_object, looks_like_json_object, pointer
from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource, guess_resource, make_resource
from abusedesk.timeutil import parse_timestamp

FORMAT = "json"
MAX_BATCH = 10_000
_KNOWN = {
    "category", "resources", "source", "occurred_at", "reporter", "summary", "evidence",
    "report_id", "automated", "confidence", "fields",
}


def detect_bytes(data: bytes, filename: str | None) -> bool:
    if not looks_like_json_object(data):
        return False
    head = data[:2048]
    return (b'"category"' in head or b'"reports"' in head) and b"xarf_version" not in head


def parse_bytes(data: bytes, filename: str | None = None) -> list[ParsedReport]:
    return parse_document(load_object(data, source_format=FORMAT))


def parse_document(document: dict[str, Any]) -> list[ParsedReport]:
    """One report or a ``{"reports": [...]}`` batch, already decoded."""
    if "reports" in document:
        items = document["reports"]
        if not isinstance(items, list) or not items:
            raise ParseError("'reports' must be a non-empty list", [Problem("/reports", "rule.reports.invalid", "must be a non-empty list")])
        if len(items) > MAX_BATCH:
            raise ParseError(f"at most {MAX_BATCH} reports per batch", [Problem("/reports", "rule.reports.too_many", f"at most {MAX_BATCH}")])
        problems: list[Problem] = []
        reports: list[ParsedReport] = []
        for index, item in enumerate(items):
            try:
                reports.append(parse_object(item, base=pointer("reports", index)))
            except ParseError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ParseError(f"{len(problems)} problem(s) in the batch", problems, source_format=FORMAT)
        return reports
    return [parse_object(document, base="")]


def parse_object(item: Any, *, base: str) -> ParsedReport:
    problems: list[Problem] = []

    def fail(field: str, code: str, message: str) -> None:
        problems.append(Problem(f"{base}/{field}" if field else base, code, message))

    if not isinstance(item, dict):
        raise ParseError("a report must be an object", [Problem(base, "rule.report.not_object", "must be an object")], source_format=FORMAT)
    for key in item:
        if key not in _KNOWN:
            fail(key, "rule.field.unknown", f"unknown field {key!r}")

    category: Category | None = None
    raw_category = item.get("category")
    if not isinstance(raw_category, str):
        fail("category", "rule.category.missing", "category is required (a TAXONOMY.md id)")
    else:
        try:
            category = Category(raw_category)
        except ValueError:
            fail("category", "rule.category.unknown", f"{raw_category!r} is not a category id")

    resources: list[Resource] = []
    if "resources" in item:
        raw_resources = item["resources"]
        if not isinstance(raw_resources, list):
            fail("resources", "rule.resources.invalid", "must be a list of {kind, value}")
        else:
            for index, entry in enumerate(raw_resources):
                if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
                    fail(f"resources/{index}", "rule.resources.invalid", "must be {kind, value}")
                    continue
                try:
                    kind = entry.get("kind")
                    resources.append(make_resource(kind, entry["value"]) if kind else guess_resource(entry["value"]))
                except ValueError as exc:
                    fail(f"resources/{index}/value", "rule.resources.malformed", str(exc))
    elif isinstance(item.get("source"), str):
        try:
            resources.append(guess_resource(item["source"]))
        except ValueError as exc:
            fail("source", "rule.source.malformed", str(exc))
    else:
        fail("resources", "rule.resources.missing", "give 'resources' or 'source'")

    occurred_at = None
    if item.get("occurred_at") is not None:
        if not isinstance(item["occurred_at"], str):
            fail("occurred_at", "rule.occurred_at.malformed", "must be an ISO 8601 string")
        else:
            try:
                occurred_at = parse_timestamp(item["occurred_at"])
            except ValueError as exc:
                fail("occurred_at", "rule.occurred_at.malformed", str(exc))

    reporter = Reporter()
    if isinstance(item.get("reporter"), dict):
        raw = item["reporter"]
        reporter = Reporter(_opt_str(raw.get("email")), _opt_str(raw.get("name")))
    confidence = item.get("confidence")
    if confidence is not None and (not isinstance(confidence, int | float) or not 0 <= confidence <= 1):
        fail("confidence", "rule.confidence.out_of_range", "must be a number from 0 to 1")
        confidence = None
    fields = item.get("fields") if isinstance(item.get("fields"), dict) else {}
    if problems or category is None:
        raise ParseError(f"{len(problems)} problem(s) in the report", problems, source_format=FORMAT)
    return ParsedReport(
        source_format=FORMAT,
        category=category,
        resources=resources,
        occurred_at=occurred_at,
        reporter=reporter,
        summary=str(item.get("summary") or "")[:500],
        evidence=excerpt(str(item.get("evidence") or "")),
        fields=dict(fields or {}),
        source_id=_opt_str(item.get("report_id")),
        automated=bool(item.get("automated", False)),
        confidence=float(confidence) if confidence is not None else None,
    )


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
