"""From detector rows to findings: attribution, the "is it ours" filter, confidence, JSON.

SQL finds behaviour; whether the behaviour is *ours to act on* is a question for the
inventory, answered here at the finding's window start (DESIGN.md: attribute to whoever
held the address when it happened). Findings for addresses the provider does not hold
are dropped: the inbound side of someone else's scan is not our customer's abuse.
Spoofing is the exception by nature: the forged source is not ours, so the finding names
the interface's real address, and forged addresses the same account holds (secondary
addresses) are not forgeries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from abusedesk.detection.config import DetectionConfig
from abusedesk.detection.engine import RawHit
from abusedesk.inventory.index import AttributionIndex
from abusedesk.policy.taxonomy import Category
from abusedesk.timeutil import isoformat_z

_FIXED = {"window_start", "address", "kind", "score", "threshold", "forged", "forged_packets"}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    category: Category
    address: str
    account: str
    window_start: datetime
    window_end: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.5

    def sort_key(self) -> tuple[str, str, datetime]:
        return (self.rule, self.address, self.window_start)

    def report_id(self) -> str:
        """Stable across runs and engines: re-ingesting the same finding is a no-op."""
        start, end = int(self.window_start.timestamp()), int(self.window_end.timestamp())
        key = f"{self.rule}|{self.address}|{start}|{end}"
        return "abusedesk-detect-" + hashlib.sha256(key.encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        """The `abusedesk detect` line (DESIGN.md contract, plus `confidence`)."""
        return {
            "rule": self.rule,
            "category": self.category.value,
            "resource": {"kind": "ip", "value": self.address},
            "account": self.account,
            "window_start": isoformat_z(self.window_start),
            "window_end": isoformat_z(self.window_end),
            "metrics": self.metrics,
            "confidence": self.confidence,
        }

    def to_report(self) -> dict[str, Any]:
        """One report of our own JSON intake format."""
        metrics = ", ".join(f"{k}={v}" for k, v in sorted(self.metrics.items()))
        return {
            "category": self.category.value,
            "resources": [{"kind": "ip", "value": self.address}],
            "occurred_at": isoformat_z(self.window_start),
            "reporter": {"email": None, "name": "abusedesk detector"},
            "summary": f"{self.rule} from {self.address} between {isoformat_z(self.window_start)} "
            f"and {isoformat_z(self.window_end)}",
            "evidence": f"flow-log detector {self.rule}: {metrics}",
            "report_id": self.report_id(),
            "automated": True,
            "confidence": self.confidence,
            "fields": {"rule": self.rule, "account": self.account, **self.metrics},
        }


def confidence(score: float, threshold: float) -> float:
    """0.5 at the threshold, rising towards 0.99 as the excess grows (10x → 0.95).

    Near the threshold a finding is as likely noise as abuse; far above it the behaviour
    is unmistakable. The curve is ours, not published.
    """
    if threshold <= 0 or score <= 0:
        return 0.5
    ratio = max(score / threshold, 1.0)
    return round(min(0.99, 1.0 - 0.5 / ratio), 2)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, int):
        return int(value)
    if hasattr(value, "__int__") and not isinstance(value, str):
        return int(value)
    return value


def _metrics(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in sorted(values.items()) if k not in _FIXED and v is not None}


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def build_findings(hits: Iterable[RawHit], config: DetectionConfig, index: AttributionIndex) -> list[Finding]:
    """Attribute, filter to our addresses, merge spoofing rows, sort deterministically."""
    spoof_groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    findings: list[Finding] = []
    for hit in hits:
        values = hit.values
        start = int(values["window_start"])
        address = str(values["address"])
        if hit.detector.name == "spoofing":
            spoof_groups.setdefault((start, address), []).append(values)
            continue
        holding = index.lookup_ip(address, float(start))
        if holding is None:
            continue
        rule, category = hit.detector.rules(str(values["kind"]), config)
        window = hit.detector.window(config)
        score = float(values["score"])
        findings.append(
            Finding(
                rule=rule,
                category=category,
                address=address,
                account=holding.account,
                window_start=_at(start),
                window_end=_at(start + window),
                metrics={
                    **_metrics(values),
                    "score": _plain(values["score"]),
                    "threshold": _plain(values["threshold"]),
                },
                confidence=confidence(score, float(values["threshold"])),
            )
        )
    findings.extend(_spoofing(spoof_groups, config, index))
    return sorted(findings, key=Finding.sort_key)


def _spoofing(
    groups: dict[tuple[int, str], list[dict[str, Any]]],
    config: DetectionConfig,
    index: AttributionIndex,
) -> list[Finding]:
    found: list[Finding] = []
    window = config.spoofing.window_seconds
    for (start, address), rows in sorted(groups.items()):
        holding = index.lookup_ip(address, float(start))
        if holding is None:
            continue
        first = rows[0]
        listed = [r for r in rows if r.get("forged") is not None]
        if listed:
            forged = [
                r for r in listed
                if (owner := index.lookup_ip(str(r["forged"]), float(start))) is None
                or owner.account != holding.account
            ]  # fmt: skip
            packets = sum(int(r["forged_packets"]) for r in forged)
            if not forged or packets < config.spoofing.min_packets:
                continue
            metrics = {
                "forged_sources": len(forged),
                "packets": packets,
                "examples": sorted(str(r["forged"]) for r in forged)[:5],
            }
        else:
            packets = int(first["packets"])
            metrics = {
                "forged_sources": int(first["forged_sources"]),
                "packets": packets,
                "examples": [],
            }
        metrics["threshold"] = config.spoofing.min_packets
        found.append(
            Finding(
                rule="spoofing.source",
                category=Category.SECURITY_SPOOFING,
                address=address,
                account=holding.account,
                window_start=_at(start),
                window_end=_at(start + window),
                metrics=metrics,
                confidence=0.9 if metrics["forged_sources"] == 1 else 0.97,
            )
        )
    return found


def json_lines(findings: Iterable[Finding]) -> Iterable[str]:
    for finding in findings:
        yield json.dumps(finding.to_json(), sort_keys=False, separators=(",", ":"))
