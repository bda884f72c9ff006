"""What every parser produces and how it fails.

A parser turns one raw input into zero or more :class:`ParsedReport` (a Shadowserver CSV
gives one per row) or raises :class:`ParseError`. Parsers never touch the database, never
fetch anything and never execute content: they are pure functions over bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from abusedesk.policy.taxonomy import Category
from abusedesk.resources import Resource
from abusedesk.timeutil import isoformat_z

#: evidence excerpts are cut here; the raw input stays whole in the inbox
EVIDENCE_LIMIT = 4000


@dataclass(frozen=True, slots=True)
class Problem:
    """One rule a submission breaks: a JSON Pointer, a stable code, a sentence."""

    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class ParseError(ValueError):
    """The input is not a report we can read. ``problems`` say where and why."""

    def __init__(self, message: str, problems: Iterable[Problem] = (), *, source_format: str | None = None):
        self.problems = list(problems)
        self.source_format = source_format
        self.headline = message
        if self.problems:
            details = "; ".join(f"{p.path or '/'}: {p.message}" for p in self.problems[:10])
            more = f" (+{len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
            message = f"{message} [{details}{more}]"
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Reporter:
    email: str | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"email": self.email, "name": self.name}


@dataclass(slots=True)
class ParsedReport:
    source_format: str
    #: ``None`` only together with ``no_complaint`` (e.g. an ARF ``not-spam``)
    category: Category | None
    resources: list[Resource]
    occurred_at: datetime | None
    reporter: Reporter = field(default_factory=Reporter)
    summary: str = ""
    evidence: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    #: the sender's own id for this report (XARF report_id, Message-ID...), for idempotency
    source_id: str | None = None
    no_complaint: bool = False
    #: found by automated means (our own detectors, a machine feed)
    automated: bool = False
    confidence: float | None = None

    def contract(self, path: str) -> dict[str, Any]:
        """The ``abusedesk parse`` output line (DESIGN.md contract)."""
        return {
            "path": path,
            "source_format": self.source_format,
            "category": self.category.value if self.category else None,
            "resources": [r.as_dict() for r in self.resources],
            "occurred_at": isoformat_z(self.occurred_at),
            "reporter": self.reporter.as_dict(),
            "summary": self.summary,
        }


def excerpt(text: str, limit: int = EVIDENCE_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "\n[… cut]"


def unique_resources(resources: Iterable[Resource]) -> list[Resource]:
    seen: set[Resource] = set()
    out: list[Resource] = []
    for resource in resources:
        if resource not in seen:
            seen.add(resource)
            out.append(resource)
    return out
