"""Detection benchmark: precision/recall per rule, suite speed vs a bare DuckDB scan, memory.

Run `python bench/bench_detection.py`. It prints figures and asserts nothing (DESIGN.md:
performance is measured by benchmarks, not timed tests). The flow file is generated once
into bench/out/ (gitignored): ABUSEDESK_BENCH_FLOWS background flows (default 20 M) of
benign traffic from 200 k skewed sources over one hour, plus the labelled abuse of
tests/detection/synthetic.py. Each measurement runs in a child process so its peak RSS is
its own; both use 2 threads, the CI machine's cores.

Goals (issue 6): suite >= 1/4 of the bare scan's flows/s, and >= 5 M flows/s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import duckdb  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from tests.detection import synthetic  # noqa: E402

from abusedesk.detection.config import config_from_mapping  # noqa: E402
from abusedesk.detection.engine import duckdb_connection  # noqa: E402
from abusedesk.detection.run import detect_flows  # noqa: E402
from abusedesk.inventory.csvfiles import parse_resources  # noqa: E402
from abusedesk.inventory.index import AttributionIndex  # noqa: E402

OUT = ROOT / "bench" / "out"
FLOWS = int(os.environ.get("ABUSEDESK_BENCH_FLOWS", "20000000"))
THREADS = 2

# Background: deterministic (hash of the row number), benign by construction. Sources are
# 10.16.0.0/12 (skewed: u^2), the world is 198.18.0.0/15. Mix: web client requests and
# replies, DNS, QUIC, interactive SSH (> 5,500 B: not brute force), submission (587),
# 0.1 % failed connections.
BACKGROUND_SQL = """
WITH r AS (
  SELECT i,
         (hash(i, 1) % 1000000) / 1000000.0 AS u,
         hash(i, 2) % 100 AS kind,
         hash(i, 3) AS h3,
         hash(i, 4) AS h4
  FROM range({n}) t(i)
), a AS (
  SELECT i, kind, h3, h4,
         CAST(floor(u * u * 200000) AS BIGINT) AS s,
         {t0} + CAST(i * 3600 // {n} AS BIGINT) AS ts
  FROM r
), addr AS (
  SELECT *, '10.' || CAST(16 + s // 65536 % 16 AS VARCHAR) || '.' || CAST(s // 256 % 256 AS VARCHAR)
            || '.' || CAST(s % 256 AS VARCHAR) AS host,
         '198.' || CAST(18 + h3 % 2 AS VARCHAR) || '.' || CAST(h3 // 2 % 256 AS VARCHAR) || '.'
            || CAST(h3 // 512 % 256 AS VARCHAR) AS peer,
         CAST(32768 + h4 % 28000 AS INTEGER) AS eph
  FROM a
)
SELECT
  CAST(5 AS INTEGER) AS version,
  CASE WHEN kind BETWEEN 55 AND 84 OR kind IN (89, 90, 91, 92) THEN peer ELSE host END AS srcaddr,
  CASE WHEN kind BETWEEN 55 AND 84 OR kind IN (89, 90, 91, 92) THEN host ELSE peer END AS dstaddr,
  CAST(CASE WHEN kind BETWEEN 55 AND 84 THEN 443 WHEN kind IN (89, 90, 91, 92) THEN 53
            ELSE eph END AS INTEGER) AS srcport,
  CAST(CASE WHEN kind < 55 OR kind IN (97, 98, 99) THEN 443 WHEN kind BETWEEN 55 AND 84 THEN eph
            WHEN kind BETWEEN 85 AND 88 THEN 53 WHEN kind IN (89, 90, 91, 92) THEN eph
            WHEN kind IN (93, 94) THEN 22 ELSE 587 END AS INTEGER) AS dstport,
  CAST(CASE WHEN kind BETWEEN 85 AND 92 OR kind >= 97 THEN 17 ELSE 6 END AS INTEGER) AS protocol,
  CAST(CASE WHEN i % 1000 = 0 THEN 1 ELSE 4 + h4 % 60 END AS BIGINT) AS packets,
  CAST(CASE WHEN i % 1000 = 0 THEN 44
            WHEN kind IN (93, 94) THEN 6000 + (4 + h4 % 60) * (80 + h3 % 1300)
            ELSE (4 + h4 % 60) * (80 + h3 % 1300) END AS BIGINT) AS bytes,
  ts AS start, ts + CAST(h4 % 60 AS BIGINT) AS "end",
  'ACCEPT' AS action, 'OK' AS log_status,
  CAST(CASE WHEN kind BETWEEN 85 AND 92 OR kind >= 97 THEN 0
            WHEN i % 1000 = 0 THEN 2 WHEN kind BETWEEN 55 AND 84 THEN 19 ELSE 3 END AS INTEGER)
    AS tcp_flags,
  CASE WHEN kind BETWEEN 55 AND 84 OR kind IN (89, 90, 91, 92) THEN 'ingress' ELSE 'egress' END
    AS flow_direction,
  CASE WHEN kind BETWEEN 55 AND 84 OR kind IN (89, 90, 91, 92) THEN peer ELSE host END
    AS pkt_srcaddr,
  CASE WHEN kind BETWEEN 55 AND 84 OR kind IN (89, 90, 91, 92) THEN host ELSE peer END
    AS pkt_dstaddr,
  'i-0bench' AS instance_id
FROM addr
"""


def flow_file() -> tuple[Path, synthetic.Scenario]:
    """Generate once; later runs reuse the file (delete bench/out to regenerate)."""
    scenario = synthetic.generate(seed=7)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"flows-{FLOWS}.parquet"
    if path.exists():
        return path, scenario
    abuse = OUT / "abuse.parquet"
    pq.write_table(synthetic.parquet_table(scenario.records), abuse)
    print(f"generating {FLOWS:,} background flows into {path} ...", flush=True)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute("SET preserve_insertion_order = false")
    background = BACKGROUND_SQL.format(n=FLOWS, t0=synthetic.T0)
    con.execute(
        f"COPY (SELECT * FROM ({background}) UNION ALL BY NAME "
        f"SELECT * FROM read_parquet('{abuse}')) TO '{path}' "
        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
    )
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    return path, scenario


def child(kind: str, path: Path) -> None:
    """One measurement, in its own process so its peak memory is its own."""
    scenario = synthetic.generate(seed=7)
    config = config_from_mapping(tomllib.loads(synthetic.TEST_CONFIG_TOML))
    started = time.perf_counter()
    if kind == "bare":
        con = duckdb_connection(config)
        con.execute(f"SET threads = {THREADS}")
        rows = con.execute(
            f"SELECT srcaddr, count(*), sum(bytes) FROM read_parquet('{path}') GROUP BY srcaddr"
        ).fetchall()
        result: dict[str, object] = {"groups": len(rows)}
    else:
        index = AttributionIndex(
            parse_resources(scenario.inventory_csv + "acct-bg,cidr,10.16.0.0/12,2025-01-01T00:00:00Z,\n")
        )
        findings = detect_flows([path], index, config)
        result = {"found": sorted({(f.rule, f.address) for f in findings})}
    result["seconds"] = time.perf_counter() - started
    print(json.dumps(result))


def measure(kind: str, path: Path) -> tuple[dict[str, object], float]:
    process = subprocess.Popen([sys.executable, __file__, "--child", kind, str(path)], stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{kind} measurement failed ({process.returncode})")
    return json.loads(output), usage.ru_maxrss / 1024  # KiB → MiB


def main() -> None:
    path, scenario = flow_file()
    total = pq.ParquetFile(path).metadata.num_rows
    size = path.stat().st_size / 1e6
    print(f"flow file: {path.name}, {total:,} flows, {size:,.0f} MB zstd Parquet, {THREADS} threads")
    bare, bare_mem = measure("bare", path)
    suite, suite_mem = measure("suite", path)
    bare_rate = total / float(str(bare["seconds"]))
    suite_rate = total / float(str(suite["seconds"]))
    print(
        f"bare GROUP BY srcaddr count+sum: {bare['seconds']:.2f} s = {bare_rate / 1e6:.1f} M flows/s, "
        f"peak RSS {bare_mem:,.0f} MiB"
    )
    print(
        f"full detector suite:             {suite['seconds']:.2f} s = {suite_rate / 1e6:.1f} M flows/s, "
        f"peak RSS {suite_mem:,.0f} MiB"
    )
    print(f"suite / bare: {suite_rate / bare_rate:.2f} (goal >= 0.25); suite goal >= 5 M flows/s")
    found = {tuple(x) for x in suite["found"]}  # type: ignore[attr-defined]
    expected = scenario.expected
    print(f"{'rule':<20} {'expected':>8} {'found':>6} {'precision':>9} {'recall':>7}")
    for rule in sorted({r for r, _ in expected | found}):
        want = {k for k in expected if k[0] == rule}
        got = {k for k in found if k[0] == rule}
        hits = len(want & got)
        precision = hits / len(got) if got else 1.0
        recall = hits / len(want) if want else 1.0
        print(f"{rule:<20} {len(want):>8} {len(got):>6} {precision:>9.3f} {recall:>7.3f}")
    hits = len(expected & found)
    print(
        f"{'all':<20} {len(expected):>8} {len(found):>6} "
        f"{hits / max(len(found), 1):>9.3f} {hits / max(len(expected), 1):>7.3f}"
    )
    extra = sorted(found - expected)
    if extra:
        print("false positives:", extra[:10])


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
