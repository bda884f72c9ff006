"""The same detector text on Spark gives the same findings as on DuckDB."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot

from abusedesk.detection import rules
from abusedesk.detection.config import DetectionConfig
from abusedesk.detection.engine import to_spark_sql
from abusedesk.detection.findings import Finding
from abusedesk.detection.rules import DETECTORS, HotBuckets, hot_sql, prefilter_sql
from abusedesk.detection.run import Engine, detect_flows
from abusedesk.inventory.index import AttributionIndex


def test_every_detector_translates_to_spark(test_config: DetectionConfig) -> None:
    hot = HotBuckets(crawl=frozenset({7}), volume=frozenset({1, 4095}))
    many = HotBuckets(crawl=frozenset(range(0, 8192, 7)), volume=frozenset(range(100)))  # bitmaps
    reads = [hot_sql(test_config), *(prefilter_sql(test_config, h) for h in (hot, many, HotBuckets()))]
    for sql in [*reads, *(d.sql(test_config) for d in DETECTORS)]:
        spark = to_spark_sql(sql)
        sqlglot.parse_one(spark, read="spark")  # valid Spark SQL, one statement
        assert "approx_count_distinct" not in spark or "APPROX_COUNT_DISTINCT" in spark.upper()


def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'abusedesk[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on PATH (Spark needs Java 17+; apt-get install default-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark_session() -> Iterator[None]:
    reason = _spark_missing()
    if reason:
        pytest.skip(reason)
    yield
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


@pytest.mark.slow
def test_spark_matches_duckdb(
    spark_session: None, parquet_files: list[Path], index: AttributionIndex,
    test_config: DetectionConfig,
) -> None:  # fmt: skip
    on_duckdb: list[Finding] = detect_flows(parquet_files, index, test_config)
    on_spark = detect_flows(parquet_files, index, test_config, engine=Engine.SPARK)
    assert on_duckdb, "the synthetic set must produce findings"
    assert [f.to_json() for f in on_spark] == [f.to_json() for f in on_duckdb]


@pytest.mark.slow
def test_spark_matches_duckdb_with_bucket_bitmaps(
    spark_session: None, parquet_files: list[Path], index: AttributionIndex,
    test_config: DetectionConfig, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Hot sets tested as bitmaps (as on a busy network) give the same findings on both engines."""
    monkeypatch.setattr(rules, "SHORT_LIST", 0)
    monkeypatch.setattr(rules, "BUCKETS", 64)  # many buckets hot: a real bitmap, several words
    on_duckdb = detect_flows(parquet_files, index, test_config)
    on_spark = detect_flows(parquet_files, index, test_config, engine=Engine.SPARK)
    assert on_duckdb and [f.to_json() for f in on_spark] == [f.to_json() for f in on_duckdb]
