"""The activity sketch (`hot_sql`) only saves work: its bucket count never changes a finding."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from abusedesk.detection import rules
from abusedesk.detection.config import DetectionConfig
from abusedesk.detection.findings import Finding
from abusedesk.detection.readers import parquet_rows
from abusedesk.detection.rules import HotBuckets, initial_buckets
from abusedesk.detection.run import detect_flows
from abusedesk.inventory.index import AttributionIndex


@pytest.fixture(scope="module")
def baseline(parquet_files: list[Path], index: AttributionIndex, test_config: DetectionConfig) -> list[Finding]:
    return detect_flows(parquet_files, index, test_config)


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"BUCKETS": 1, "MAX_BUCKETS": 1}, id="one-bucket-keeps-everything"),
        pytest.param({"SHORT_LIST": 0, "BUCKETS": 64}, id="hot-buckets-as-bitmap"),
    ],
)
def test_other_sketch_shapes_find_the_same(
    monkeypatch: pytest.MonkeyPatch, baseline: list[Finding], parquet_files: list[Path],
    index: AttributionIndex, test_config: DetectionConfig, settings: dict[str, int],
) -> None:  # fmt: skip
    """A single bucket is always hot (``cand`` keeps every web and volume record); long hot
    sets are looked up in a bitmap instead of an IN list: the same findings either way."""
    for name, value in settings.items():
        monkeypatch.setattr(rules, name, value)
    found = detect_flows(parquet_files, index, test_config)
    assert [f.to_json() for f in found] == [f.to_json() for f in baseline]


def test_a_saturated_sketch_is_refined_and_finds_the_same(
    monkeypatch: pytest.MonkeyPatch, baseline: list[Finding], parquet_files: list[Path],
    index: AttributionIndex, test_config: DetectionConfig,
) -> None:  # fmt: skip
    asked: list[int] = []
    original = rules.hot_sql

    def spy(c: DetectionConfig, buckets: int = rules.BUCKETS, source: str = "flows") -> str:
        asked.append(buckets)
        return original(c, buckets, source)

    monkeypatch.setattr(rules, "initial_buckets", lambda rows: 2)
    monkeypatch.setattr(rules, "hot_sql", spy)
    found = detect_flows(parquet_files, index, test_config)
    assert asked[:2] == [2, 32]  # two hot buckets of two: saturated, so 16 times finer
    assert [f.to_json() for f in found] == [f.to_json() for f in baseline]


def test_bitmap_and_list_select_the_same_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    hot = HotBuckets(128, frozenset({0, 31, 32, 63, 64, 100, 127}))
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'h' || i AS srcaddr FROM range(5000) r(i)")

    def kept() -> set[str]:
        sql = f"SELECT srcaddr FROM t WHERE {rules._in_buckets('srcaddr', hot, hot.crawl)}"
        return {row[0] for row in con.execute(sql).fetchall()}

    as_list = kept()
    monkeypatch.setattr(rules, "SHORT_LIST", 0)
    assert as_list and kept() == as_list


def test_saturation_and_sizing() -> None:
    assert HotBuckets(8192, frozenset(range(1025))).saturated
    assert not HotBuckets(8192, frozenset(range(1024)), frozenset(range(1024))).saturated
    assert not HotBuckets(rules.MAX_BUCKETS, frozenset(range(rules.MAX_BUCKETS))).saturated
    assert initial_buckets(None) == rules.BUCKETS
    assert initial_buckets(20_000_000) == 8192
    assert initial_buckets(100_000_000) == 65536
    assert initial_buckets(10**12) == rules.MAX_BUCKETS


def test_parquet_rows_only_for_parquet(parquet_files: list[Path], text_files: list[Path]) -> None:
    con = duckdb.connect()
    total = sum(int(con.execute(f"SELECT count(*) FROM read_parquet('{p}')").fetchone()[0]) for p in parquet_files)
    assert parquet_rows(parquet_files, con) == total
    assert parquet_rows(text_files, con) is None
    assert parquet_rows([*parquet_files, text_files[0]], con) is None
