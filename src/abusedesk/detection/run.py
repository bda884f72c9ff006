"""Detection end to end: flow files + inventory → findings, on the chosen engine."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from abusedesk.detection.config import DetectionConfig
from abusedesk.detection.engine import ProgressHook, no_progress, run_duckdb, run_spark
from abusedesk.detection.findings import Finding, build_findings
from abusedesk.inventory.index import AttributionIndex


class Engine(StrEnum):
    DUCKDB = "duckdb"
    SPARK = "spark"


def detect_flows(
    paths: Sequence[Path],
    index: AttributionIndex,
    config: DetectionConfig | None = None,
    *,
    engine: Engine = Engine.DUCKDB,
    progress: ProgressHook = no_progress,
) -> list[Finding]:
    """Run every detector over `paths` and keep the findings about addresses we hold."""
    chosen = config or DetectionConfig()
    runner = run_spark if engine is Engine.SPARK else run_duckdb
    hits = runner(list(paths), chosen, progress)
    return build_findings(hits, chosen, index)
