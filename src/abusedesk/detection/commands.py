"""`abusedesk detect`: flow files in, one JSON finding per line out (DESIGN.md contract)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from abusedesk.detection.config import ConfigError, load_config
from abusedesk.detection.findings import Finding, json_lines
from abusedesk.detection.readers import FlowFileError
from abusedesk.detection.run import Engine, detect_flows
from abusedesk.inventory.csvfiles import InventoryFileError, load_index_file
from abusedesk.inventory.index import AttributionIndex

if TYPE_CHECKING:
    from abusedesk.context import Context
    from abusedesk.reports.flows import IngestResult

#: Our own JSON intake accepts at most this many reports per document (formats/ownjson.py).
INGEST_BATCH = 10_000


def reports_document(findings: list[Finding]) -> bytes:
    """Findings as one document of our own JSON report format."""
    return json.dumps({"reports": [f.to_report() for f in findings]}, sort_keys=True).encode()


def ingest_findings(ctx: Context, findings: list[Finding]) -> list[IngestResult]:
    """Through the normal pipeline, so detector findings open cases like any report.

    Each report carries a stable id (hash of rule, address, window), so running the
    detectors twice over the same logs ingests nothing new.
    """
    from abusedesk.reports.flows import ingest_bytes

    results = []
    for start in range(0, len(findings), INGEST_BATCH):
        batch = findings[start : start + INGEST_BATCH]
        results.append(
            ingest_bytes(
                ctx, reports_document(batch), channel="detector", filename="detect.json",
                format="json", actor="detector",
            )
        )  # fmt: skip
    return results


def _ingest(findings: list[Finding], err: Console) -> None:
    from abusedesk.terminal import open_context

    ctx = open_context()
    try:
        for result in ingest_findings(ctx, findings):
            if result.quarantined:
                err.print(f"[red]findings quarantined[/red] (raw {result.raw_id}): {result.error}")
                raise typer.Exit(1)
            for outcome in result.reports:
                where = outcome.case_ref if outcome.outcome == "case" else outcome.outcome
                err.print(escape(f"report {outcome.report_id} [{outcome.category}] → {where}"))
    finally:
        ctx.close()


def detect(
    paths: Annotated[list[Path], typer.Argument(exists=True, help="flow files or directories")],
    inventory: Annotated[
        Path,
        typer.Option(
            "--inventory",
            exists=True,
            dir_okay=False,
            help="account,kind,value,valid_from,valid_to CSV",
        ),
    ],
    config: Annotated[
        Path | None, typer.Option("--config", exists=True, dir_okay=False, help="TOML thresholds")
    ] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="duckdb (default) or spark")] = Engine.DUCKDB,
    ingest: Annotated[
        bool, typer.Option("--ingest", help="also ingest findings as reports through the pipeline")
    ] = False,
) -> None:
    """Run the network detectors over VPC Flow Logs (text, gzip, Parquet) or nfdump CSV.

    Prints one JSON object per finding. nfdump prints local time without an offset:
    export with TZ=UTC, abusedesk reads those times as UTC.
    """
    err = Console(stderr=True)
    try:
        settings = load_config(config)
        index = AttributionIndex(load_index_file(inventory))
    except (ConfigError, InventoryFileError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip
    task = progress.add_task("detecting", total=None)

    def report(step: str, done: int, total: int) -> None:
        progress.update(task, description=step, completed=done, total=total)

    try:
        with progress:
            findings = detect_flows(paths, index, settings, engine=engine, progress=report)
    except FlowFileError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for line in json_lines(findings):
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    if ingest and findings:
        _ingest(findings, err)
