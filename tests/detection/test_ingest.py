"""`detect --ingest`: findings become reports of our own JSON format in the pipeline."""

from __future__ import annotations

from pathlib import Path

from abusedesk.context import Context
from abusedesk.detection.commands import ingest_findings
from abusedesk.detection.config import DetectionConfig
from abusedesk.detection.run import detect_flows
from abusedesk.inventory.index import AttributionIndex


def test_findings_are_ingested_once(
    ctx: Context, parquet_files: list[Path], index: AttributionIndex, test_config: DetectionConfig
) -> None:
    findings = detect_flows(parquet_files, index, test_config)
    first = ingest_findings(ctx, findings)
    assert len(first) == 1 and not first[0].quarantined, first[0].error
    outcomes = first[0].reports
    assert len(outcomes) == len(findings)
    assert sorted(o.category for o in outcomes) == sorted(f.category.value for f in findings)
    again = ingest_findings(ctx, findings)
    assert again[0].duplicate and all(o.duplicate for o in again[0].reports)
