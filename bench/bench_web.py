"""The console's case queue with 1,000,000 cases: p50/p95 server time per page, SQLite and PostgreSQL.

The generated databases are kept under ``bench/out/`` (SQLite file; PostgreSQL database
``abusedesk_bench_web``) and reused by the next run; delete them to regenerate. Cases are
bulk-inserted with Core ``executemany`` (SQLite) and ``COPY`` (PostgreSQL). Each timed
request is a full GET of ``/console`` through the ASGI app (session, auth, query,
template), signed in as an analyst. Goal: p95 < 150 ms on both. Prints figures only.
"""

from __future__ import annotations

import io
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import OUT, PG_ADMIN_URL

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.db import make_engine
from abusedesk.migrate import upgrade

N = int(os.environ.get("BENCH_WEB_CASES", "1000000"))
REQUESTS = int(os.environ.get("BENCH_WEB_REQUESTS", "120"))
PG_NAME = "abusedesk_bench_web"
CATEGORIES = ["email.spam", "security.scan", "security.bruteforce", "content.phishing", "network.dos", "content.malware", "info.vulnerable", "content.infringing"]
STATUSES = ["new", "triaged", "notified", "awaiting_customer", "escalated", "actioned", "resolved", "closed", "closed", "closed"]
SEVERITIES = ["info", "low", "medium", "high", "critical"]
COLUMNS = ["account_id", "category", "resource_key", "status", "severity", "report_count", "reporter_count", "first_seen", "last_seen", "opened_at", "updated_at", "closed_at", "assignee"]


def rows(start: int, count: int) -> list[dict[str, object]]:
    rnd = random.Random(start)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(start, start + count):
        opened = base - timedelta(minutes=(N - i) * 0.5)  # ids grow with time, as in production
        status = rnd.choice(STATUSES)
        last = opened + timedelta(hours=rnd.randint(0, 300))
        out.append({
            "account_id": f"acct{rnd.randint(1, 20000):05d}", "category": rnd.choice(CATEGORIES),
            "resource_key": f"ip:10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}",
            "status": status, "severity": rnd.choice(SEVERITIES), "report_count": rnd.randint(1, 500), "reporter_count": rnd.randint(1, 20),
            "first_seen": opened, "last_seen": last, "opened_at": opened, "updated_at": last,
            "closed_at": last if status == "closed" else None, "assignee": None if rnd.random() < 0.6 else f"analyst{rnd.randint(1, 12)}",
        })
    return out


def fill_sqlite(ctx: Context) -> None:
    from abusedesk.cases.models import Case

    batch = 50_000
    with ctx.engine.begin() as conn:
        for start in range(0, N, batch):
            conn.execute(sa.insert(Case.__table__), rows(start, min(batch, N - start)))
            print(f"\r  sqlite: {start + batch:,} cases", end="", flush=True)
    print()
    with ctx.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def fill_postgres(ctx: Context) -> None:
    raw = ctx.engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch = 100_000
        for start in range(0, N, batch):
            buffer = io.StringIO()
            for row in rows(start, min(batch, N - start)):
                buffer.write("\t".join("\\N" if row[c] is None else (row[c].isoformat() if isinstance(row[c], datetime) else str(row[c])) for c in COLUMNS) + "\n")  # type: ignore[union-attr]
            with cursor.copy(f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                copy.write(buffer.getvalue())
            print(f"\r  postgresql: {start + batch:,} cases", end="", flush=True)
        raw.commit()
        print()
        cursor.execute("ANALYZE cases")
        raw.commit()
    finally:
        raw.close()


def prepare(ctx: Context, fill: object) -> None:
    from abusedesk.users.service import create_user, get_user

    upgrade(ctx.engine)
    with ctx.engine.connect() as conn:
        have = conn.execute(sa.text("SELECT count(*) FROM cases")).scalar_one()
    if have < N:
        if have:
            with ctx.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM cases"))
        started = time.perf_counter()
        fill(ctx)  # type: ignore[operator]
        print(f"  generated {N:,} cases in {time.perf_counter() - started:.0f} s")
    with ctx.transaction() as session:
        if get_user(session, "bench") is None:
            create_user(session, username="bench", role="analyst", password="bench-password-1", actor="bench")


QUERIES = [
    "/console", "/console?status=", "/console?status=new", "/console?status=closed&sort=last_seen",
    "/console?category=security.scan", "/console?category=content.phishing&status=open&sort=severity",
    "/console?status=&sort=report_count", "/console?status=&sort=last_seen&dir=asc", "/console?status=&sort=account",
    "/console?assignee=-", "/console?assignee=analyst3&status=", "/console?severity=critical&sort=opened_at",
    "/console?account=acct00042&status=", "/console?status=&sort=assignee", "/console?min_age=30&status=open",
    "/console?status=&sort=category&dir=asc", "/console?status=&sort=resource",
]


def measure(ctx: Context, label: str) -> None:
    from fastapi.testclient import TestClient

    from abusedesk.web.app import create_app

    with TestClient(create_app(ctx, background=False)) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "bench", "password": "bench-password-1", "csrf": token})
        times: list[float] = []
        per_query: dict[str, list[float]] = {}
        next_links: list[str] = []
        for i in range(REQUESTS):
            path = QUERIES[i % len(QUERIES)] if not (i % 3 == 2 and next_links) else next_links.pop()
            started = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, (path, response.status_code)
            times.append(elapsed)
            per_query.setdefault(path.split("&cursor=")[0] if "cursor=" in path else path, []).append(elapsed)
            link = re.search(r'class="next" href="([^"]+)"', response.text)
            if link:
                next_links.append(link.group(1).replace("&amp;", "&"))
    times.sort()
    p50 = statistics.median(times)
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"  {label}: queue page over {len(times)} requests: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {times[-1]:.1f} ms (goal p95 < 150 ms)")
    slowest = sorted(((max(v), k) for k, v in per_query.items()), reverse=True)[:3]
    print("    slowest: " + "; ".join(f"{k} {t:.0f} ms" for t, k in slowest))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    print(f"== console queue with {N:,} cases")
    sqlite_dir = OUT / "web-sqlite"
    ctx = Context.create(Settings(data_dir=sqlite_dir, run_worker=False))
    try:
        prepare(ctx, fill_sqlite)
        measure(ctx, "SQLite")
    finally:
        ctx.close()
    admin = make_engine(PG_ADMIN_URL)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_NAME}).first() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{PG_NAME}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"  (PostgreSQL not available: {exc.__class__.__name__})")
        return
    url = admin.url.set(database=PG_NAME).render_as_string(hide_password=False)
    admin.dispose()
    ctx = Context.create(Settings(data_dir=OUT / "web-pg", database_url=url, run_worker=False))
    try:
        prepare(ctx, fill_postgres)
        measure(ctx, "PostgreSQL")
    finally:
        ctx.close()


if __name__ == "__main__":
    main()
