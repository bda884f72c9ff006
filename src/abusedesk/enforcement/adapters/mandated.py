"""Mandated reports (CSAM: 18 USC 2258A to NCMEC's CyberTipline) behind a small interface.

The default adapter only records: submitting to a real tipline needs a registration and
credentials that a deployment adds by wiring its own implementation. The record of what
would be or was reported, and its state, is kept either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Submission:
    state: str  # recorded | submitted
    external_id: str | None = None
    detail: str = ""


class MandatedReporter(Protocol):
    name: str

    def submit(self, payload: dict[str, Any]) -> Submission:
        """Submit (or keep) the report; raise to retry later."""


@dataclass
class RecordingMandatedReporter:
    """The default: nothing leaves the system; the report is recorded for the legal team."""

    name: str = "recording"
    kept: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, payload: dict[str, Any]) -> Submission:
        self.kept.append(payload)
        return Submission("recorded", None, "recorded only; the legal team submits it to the CyberTipline")
