"""Issue 2 figures: ingest throughput (XARF v4 batches, SQLite and PostgreSQL) and
attribution lookups/s with 1,000,000 resources. Prints figures; asserts nothing.

Baseline in the same run: the one-input-per-transaction path (``ingest_bytes``) beside the
batched path (``ingest_batch``), so the machine's noise cancels out of the comparison.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import postgres_context, sqlite_context, timed

from abusedesk.context import Context
from abusedesk.inventory.csvfiles import parse_resources
from abusedesk.inventory.index import AttributionIndex, Holding, InventoryKind
from abusedesk.inventory.service import import_holdings
from abusedesk.reports.flows import ingest_batch, ingest_bytes

REPORTS = int(os.environ.get("BENCH_INGEST_REPORTS", "20000"))
BASELINE = int(os.environ.get("BENCH_INGEST_BASELINE", "1000"))
BATCH = int(os.environ.get("BENCH_INGEST_BATCH", "1000"))
ROUNDS = int(os.environ.get("BENCH_INGEST_ROUNDS", "3"))
LOOKUP_RESOURCES = int(os.environ.get("BENCH_LOOKUP_RESOURCES", "1000000"))
LOOKUPS = int(os.environ.get("BENCH_LOOKUPS", "500000"))
TYPES = [("connection", "login_attack"), ("connection", "port_scan"), ("connection", "ddos")]


def xarf(rng: random.Random, i: int) -> bytes:
    category, kind = TYPES[i % len(TYPES)]
    at = (datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=i * 7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = rng.randrange(1, 4000)
    body = {
        "xarf_version": "4.2.0",
        "report_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": at,
        "reporter": {"org": "Bench", "contact": f"r{i % 50}@reporter.example", "domain": "reporter.example"},
        "sender": {"org": "Bench", "contact": "s@reporter.example", "domain": "reporter.example"},
        "source_identifier": str(ipaddress.IPv4Address(0x0A000000 + host)),
        "source_port": 40000 + i % 1000,
        "category": category,
        "type": kind,
        "first_seen": at,
        "protocol": "tcp",
        "description": "benchmark report",
    }
    return json.dumps(body).encode()


INVENTORY = "account,kind,value,valid_from,valid_to\n" + "".join(
    f"acct{n},cidr,10.0.{n}.0/24,2020-01-01T00:00:00Z,\n" for n in range(16)
)


def prepare(ctx: Context) -> None:
    with ctx.transaction() as session:
        import_holdings(session, parse_resources(INVENTORY), actor="bench")


def run_backend(label: str, ctx: Context) -> None:
    """The baseline once, then ROUNDS rounds of fresh batched reports into the same, growing
    database; the median round is the figure (this shared machine is noisy)."""
    prepare(ctx)
    rng = random.Random(7)
    baseline = [xarf(rng, i) for i in range(BASELINE)]
    _, base_s = timed(lambda: [ingest_bytes(ctx, data, channel="api", actor="bench") for data in baseline])
    print(f"  {label}: one-per-transaction {BASELINE / base_s:,.0f} reports/s (baseline, {BASELINE} reports)")
    rates: list[float] = []
    for round_no in range(ROUNDS):
        first = BASELINE + round_no * REPORTS
        batched = [xarf(rng, first + i) for i in range(REPORTS)]

        def run_batches(batched: list[bytes] = batched) -> int:
            cases = 0
            for start in range(0, len(batched), BATCH):
                results = ingest_batch(ctx, batched[start : start + BATCH], channel="api", actor="bench")
                cases += sum(1 for r in results for o in r.reports if o.outcome == "case")
            return cases

        cases, batch_s = timed(run_batches)
        rates.append(REPORTS / batch_s)
        print(f"  {label}: batches of {BATCH}, round {round_no + 1}: {REPORTS / batch_s:,.0f} reports/s ({REPORTS} reports, {cases} joined cases)")
    median = statistics.median(rates)
    print(f"  {label}: batches of {BATCH}, median of {ROUNDS} rounds: {median:,.0f} reports/s ({median * base_s / BASELINE:.1f}x the baseline)")


def bench_lookups() -> None:
    rng = random.Random(11)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    holdings: list[Holding] = []
    # a realistic mix: mostly single addresses, some /24 and /20 blocks, moved addresses
    for n in range(LOOKUP_RESOURCES):
        if n % 10 == 0:
            value, kind = f"{ipaddress.IPv4Address(0x64000000 + n * 256)}/24", InventoryKind.CIDR
        else:
            value, kind = str(ipaddress.IPv4Address(0x0B000000 + n)), InventoryKind.IP
        holdings.append(Holding(f"a{n % 50000}", kind, value, start, None, n))
    for n in range(LOOKUP_RESOURCES // 20):
        holdings.append(
            Holding(
                f"b{n}",
                InventoryKind.IP,
                str(ipaddress.IPv4Address(0x0B000000 + n * 20)),
                start - timedelta(days=400),
                start,
                None,
            )
        )
    (index, build_s) = timed(lambda: AttributionIndex(holdings))
    queries = [str(ipaddress.IPv4Address(0x0B000000 + rng.randrange(LOOKUP_RESOURCES * 2))) for _ in range(LOOKUPS)]
    when = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    lookup = index.lookup_ip
    t0 = time.perf_counter()
    hits = sum(1 for q in queries if lookup(q, when) is not None)
    elapsed = time.perf_counter() - t0
    print(f"  index of {index.size:,} holdings built in {build_s:.1f} s")
    print(f"  {LOOKUPS / elapsed:,.0f} IP lookups/s ({hits:,} of {LOOKUPS:,} held; one core)")


def main() -> None:
    print("ingest throughput (XARF v4 JSON, end to end: raw stored, parsed, attributed, aggregated, audited)")
    with sqlite_context() as ctx:
        run_backend("SQLite    ", ctx)
    with postgres_context() as pg:
        if pg is not None:
            run_backend("PostgreSQL", pg)
    print(f"attribution lookups with {LOOKUP_RESOURCES:,} resources")
    bench_lookups()


if __name__ == "__main__":
    main()
