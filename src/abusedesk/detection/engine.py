"""Run the detector SQL on DuckDB (default) or Spark, returning plain rows.

Both engines execute the text in `rules.py`; Spark receives it through `sqlglot`
(duckdb → spark), so a detector is never written twice. The raw flows are read twice (more
only when a saturated sketch is refined):
`hot_sql` finds the busy source buckets, `prefilter_sql` (given them) keeps the few
records any detector can use in the small `cand` table; every detector reads `cand`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlglot

from abusedesk.detection.config import DetectionConfig
from abusedesk.detection.readers import flows_sql, parquet_rows
from abusedesk.detection.rules import DETECTORS, Detector, find_hot, prefilter_sql

#: Called with (step name, steps done, steps total) so the CLI can draw a progress bar.
ProgressHook = Callable[[str, int, int], None]

#: The reads of the raw flows, in order, as the progress bar names them.
READS = ("reading flows (activity)", "reading flows (candidates)")


@dataclass(frozen=True, slots=True)
class RawHit:
    """One result row of one detector, before attribution."""

    detector: Detector
    values: dict[str, Any]


def to_spark_sql(sql: str) -> str:
    """The DuckDB-dialect detector text as Spark SQL."""
    statements = sqlglot.transpile(sql, read="duckdb", write="spark")
    if len(statements) != 1:
        raise ValueError("a detector must be exactly one statement")
    return str(statements[0])


def no_progress(step: str, done: int, total: int) -> None:
    """The default progress hook: reports nothing."""


def duckdb_connection(config: DetectionConfig, temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A connection capped in memory and threads; spills go to `temp_dir` instead of OOM."""
    con = duckdb.connect()
    con.execute(f"SET threads = {int(config.engine.threads)}")
    con.execute("SET memory_limit = ?", [config.engine.memory_limit])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # the CLI draws its own, on stderr
    if temp_dir is not None:
        con.execute("SET temp_directory = ?", [str(temp_dir)])
    return con


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def run_duckdb(
    paths: Sequence[Path],
    config: DetectionConfig,
    progress: ProgressHook = no_progress,
    detectors: Iterable[Detector] = DETECTORS,
) -> list[RawHit]:
    chosen = list(detectors)
    total = len(chosen) + len(READS)
    with tempfile.TemporaryDirectory(prefix="abusedesk-duckdb-") as tmp:
        con = duckdb_connection(config, Path(tmp))
        try:
            con.execute(f"CREATE VIEW flows AS {flows_sql(paths, con)}")
            progress(READS[0], 0, total)
            rows = parquet_rows(paths, con)
            hot = find_hot(lambda sql: con.execute(sql).fetchall(), config, rows)
            progress(READS[1], 1, total)
            con.execute(f"CREATE TEMP TABLE cand AS {prefilter_sql(config, hot)}")
            hits: list[RawHit] = []
            for number, detector in enumerate(chosen, start=len(READS)):
                progress(detector.name, number, total)
                cursor = con.execute(detector.sql(config))
                hits.extend(RawHit(detector, row) for row in _rows(cursor))
            progress("done", total, total)
            return hits
        finally:
            con.close()


def normalize_to_parquet(paths: Sequence[Path], target: Path, config: DetectionConfig) -> Path:
    """Stream any input into one normalized Parquet file, for engines without our readers."""
    with tempfile.TemporaryDirectory(prefix="abusedesk-duckdb-") as tmp:
        con = duckdb_connection(config, Path(tmp))
        try:
            sql = flows_sql(paths, con)
            con.execute(
                f"COPY ({sql}) TO '{str(target).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)"
            )
        finally:
            con.close()
    return target


def _rows_in(parquet: Path, config: DetectionConfig) -> int | None:
    con = duckdb_connection(config)
    try:
        return parquet_rows([parquet], con)
    finally:
        con.close()


def run_spark(
    paths: Sequence[Path],
    config: DetectionConfig,
    progress: ProgressHook = no_progress,
    detectors: Iterable[Detector] = DETECTORS,
    master: str = "local[2]",
) -> list[RawHit]:
    """The same detectors on Apache Spark (the `spark` extra; needs Java 17+)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError("Spark engine needs the `spark` extra: pip install 'abusedesk[spark]'") from exc

    chosen = list(detectors)
    total = len(chosen) + len(READS)
    with tempfile.TemporaryDirectory(prefix="abusedesk-spark-") as tmp:
        normalized = normalize_to_parquet(paths, Path(tmp) / "flows.parquet", config)
        spark = (
            SparkSession.builder.master(master)
            .appName("abusedesk-detect")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")  # findings go to stdout, our progress to stderr
        try:
            spark.read.parquet(str(normalized)).createOrReplaceTempView("flows")
            progress(READS[0], 0, total)
            hot = find_hot(
                lambda sql: [tuple(r) for r in spark.sql(to_spark_sql(sql)).collect()],
                config,
                _rows_in(normalized, config),
            )
            progress(READS[1], 1, total)
            cand = spark.sql(to_spark_sql(prefilter_sql(config, hot))).cache()
            cand.createOrReplaceTempView("cand")
            hits: list[RawHit] = []
            for number, detector in enumerate(chosen, start=len(READS)):
                progress(detector.name, number, total)
                for row in spark.sql(to_spark_sql(detector.sql(config))).collect():
                    hits.append(RawHit(detector, row.asDict()))
            cand.unpersist()
            progress("done", total, total)
            return hits
        finally:
            spark.catalog.clearCache()
