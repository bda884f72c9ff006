"""Issue 3 figures: Shadowserver CSV parse-only rows/s, ours against IntelMQ 3.2.1's.

Generates a realistic ``scan_dns`` file (default 200,000 rows) into ``bench/out/``, times
:func:`abusedesk.formats.shadowserver.parse_bytes` on it (best of a few runs), then runs
IntelMQ's Shadowserver parser bot on the same file's first rows in a separate virtualenv
(``bench/out/intelmq-venv``, created once with IntelMQ from PyPI and reused) through its
own test harness with the in-memory pipeline (``bench/intelmq_runner.py``). IntelMQ
parses a few hundred rows a second here, so it gets a prefix of the file
(``BENCH_INTELMQ_ROWS``); rows/s is what is compared. Prints figures; asserts nothing.
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from abusedesk.formats import shadowserver

ROWS = int(os.environ.get("BENCH_SHADOWSERVER_ROWS", "200000"))
INTELMQ_ROWS = int(os.environ.get("BENCH_INTELMQ_ROWS", "10000"))
INTELMQ_VERSION = os.environ.get("BENCH_INTELMQ_VERSION", "3.2.1")
RUNS = 3
HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
VENV = OUT / "intelmq-venv"
FILE_NAME = "2026-01-15-scan_dns-example_org-asn.csv"
HEADER = (
    '"timestamp","ip","protocol","port","hostname","tag","asn","geo","region","city","naics","sic",'
    '"min_amplification","dns_version","sector"'
)
VERSIONS = ["dnsmasq-2.80", "unbound 1.9.0", "9.11.4-P2-RedHat-9.11.4-26.P2.el7", "", "PowerDNS Recursor 4.1.11"]
REGIONS = [("DE", "Hessen", "Frankfurt am Main"), ("NL", "Noord-Holland", "Amsterdam"), ("US", "Virginia", "Ashburn")]


def generate(path: Path, rows: int) -> None:
    """A scan_dns export as Shadowserver writes it: quoted header, mixed quoting, some IPv6."""
    rng = random.Random(20260115)
    lines = [HEADER]
    for i in range(rows):
        if i % 20 == 0:
            ip = f"2001:db8:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
        else:
            ip = f"{rng.choice((192, 198, 203))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        geo, region, city = rng.choice(REGIONS)
        stamp = f"2026-01-15 {i * 86400 // rows // 3600:02d}:{i * 86400 // rows // 60 % 60:02d}:{i * 86400 // rows % 60:02d}"
        host = f"host-{i}.customer{i % 97}.example.net" if i % 3 else ""
        lines.append(
            f'"{stamp}","{ip}","udp",53,"{host}","openresolver",{64496 + i % 16},"{geo}","{region}","{city}",'
            f'518210,0,"{rng.uniform(1, 60):.2f}","{rng.choice(VERSIONS)}","Communications, Service Provider, and Hosting Service"'
        )
    path.write_text("\n".join(lines) + "\n")


def ours(data: bytes) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(RUNS):
        gc.collect()
        started = time.perf_counter()
        reports = shadowserver.parse_bytes(data, FILE_NAME)
        best = min(best, time.perf_counter() - started)
        count = len(reports)
        del reports
    return best, count


def intelmq_python() -> tuple[Path | None, str]:
    """The throw-away virtualenv's Python with IntelMQ installed, or why there is none."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", f"import intelmq.version as v; assert v.__version__ == {INTELMQ_VERSION!r}"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, "reused"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, text=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"intelmq=={INTELMQ_VERSION}"],
            check=True, capture_output=True, text=True, timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return None, f"could not install IntelMQ {INTELMQ_VERSION}: {str(detail).strip()[-400:]}"
    return python, "installed"


def intelmq(python: Path, csv_path: Path) -> dict[str, object]:
    result = subprocess.run(
        [str(python), str(HERE / "intelmq_runner.py"), str(csv_path), FILE_NAME],
        capture_output=True, text=True, timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip()[-800:] or f"exit status {result.returncode}")
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    OUT.mkdir(exist_ok=True)
    csv_path = OUT / FILE_NAME
    if not csv_path.exists() or sum(1 for _ in csv_path.open()) != ROWS + 1:
        generate(csv_path, ROWS)
    data = csv_path.read_bytes()
    seconds, count = ours(data)
    our_rate = count / seconds
    print(f"file: {csv_path.name}, {count} rows, {len(data) / 1e6:.1f} MB")
    print(f"abusedesk shadowserver.parse_bytes: {seconds:.2f} s, {our_rate:,.0f} rows/s (best of {RUNS}; goal 50,000)")

    python, how = intelmq_python()
    if python is None:
        print(f"IntelMQ: not run: {how}")
        return
    prefix = OUT / f"intelmq-{INTELMQ_ROWS}-{FILE_NAME}"
    with csv_path.open() as source, prefix.open("w") as target:
        for index, line in enumerate(source):
            if index > INTELMQ_ROWS:
                break
            target.write(line)
    try:
        figures = intelmq(python, prefix)
    except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as exc:
        print(f"IntelMQ {INTELMQ_VERSION} ({how}): failed to run: {exc}")
        return
    events = int(figures["events"])  # type: ignore[call-overload]
    their_seconds = float(figures["seconds"])  # type: ignore[arg-type]
    their_rate = events / their_seconds if their_seconds else 0.0
    print(f"IntelMQ {INTELMQ_VERSION} ShadowserverParserBot ({how} venv, in-memory pipeline): {events} rows in {their_seconds:.2f} s, {their_rate:,.0f} rows/s")
    print(f"IntelMQ sample event: {figures.get('sample')}")
    if their_rate:
        print(f"ratio abusedesk / IntelMQ: {our_rate / their_rate:,.1f}x (goal 10x)")


if __name__ == "__main__":
    main()
