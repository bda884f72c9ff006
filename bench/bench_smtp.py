"""Issue 3 figures: mail through SMTP end to end, and Shadowserver rows through the feed path.

Prints figures; asserts nothing. Baseline in the same run: the same messages handed to
``ingest_bytes`` directly (no SMTP, no job table), so the cost of the channel (the SMTP
dialogue, the durable acceptance commit, the job round trip, the mail sorting and the
acknowledgements) is the difference between the two lines. Enforcement jobs that the new
cases trigger (playbooks, notices, deadlines) run in neither path: see ``IntakeOnly``.
Environment: BENCH_SMTP_MESSAGES, BENCH_SMTP_CONNECTIONS, BENCH_SHADOWSERVER_ROWS.
"""

from __future__ import annotations

import os
import random
import smtplib
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import postgres_context, sqlite_context, timed
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.intake.feeds import import_feed
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.intake.smtp import free_port, start_smtp
from abusedesk.inventory.csvfiles import parse_resources
from abusedesk.inventory.service import import_holdings
from abusedesk.jobs.handlers import PROCESS_RAW, default_handlers
from abusedesk.jobs.models import Job, JobStatus
from abusedesk.jobs.worker import Handler, Worker
from abusedesk.notices.models import OutboundMessage
from abusedesk.notices.outbox import SEND_JOB
from abusedesk.notices.transport import RecordingTransport
from abusedesk.reports.flows import ingest_bytes
from abusedesk.reports.models import Report
from abusedesk.timeutil import utcnow

MESSAGES = int(os.environ.get("BENCH_SMTP_MESSAGES", "200"))
CONNECTIONS = int(os.environ.get("BENCH_SMTP_CONNECTIONS", "4"))
SHADOWSERVER_ROWS = int(os.environ.get("BENCH_SHADOWSERVER_ROWS", "10000"))
#: documentation ranges: the free-text parser ignores private (RFC 1918) addresses as not
#: reportable, so the benchmark's complaints name TEST-NET addresses it will extract
NETS = ["192.0.2", "198.51.100"]
INVENTORY = "account,kind,value,valid_from,valid_to\n" + "".join(
    f"acct{i * 4 + n},cidr,{net}.{n * 64}/26,2020-01-01T00:00:00Z,\n" for i, net in enumerate(NETS) for n in range(4)
)


def prepare(ctx: Context) -> None:
    ctx.mail_transport = RecordingTransport()  # acknowledgements are queued and "sent" here
    with ctx.transaction() as session:
        import_holdings(session, parse_resources(INVENTORY), actor="bench")


def message(rng: random.Random, i: int) -> bytes:
    ip = f"{rng.choice(NETS)}.{rng.randrange(1, 255)}"
    reporter = f"r{i % 50}@reporter.example"
    return (
        f"From: Reporter {i % 50} <{reporter}>\r\nTo: abuse@abusedesk.test\r\nSubject: spam from {ip} ({i})\r\n"
        f"Message-ID: <bench-{i}-{rng.getrandbits(64):x}@reporter.example>\r\nDate: Sun, 01 Nov 2026 10:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello,\r\n\r\nyour host {ip} sent us spam on 2026-11-01 10:{i % 60:02d} UTC.\r\n"
        f"Received: from [{ip}] by mx.reporter.example\r\n\r\nPlease stop it.\r\n"
    ).encode()


def due_work(ctx: Context) -> int:
    """Inputs not yet processed plus jobs due now (deadlines days ahead do not count)."""
    with ctx.transaction() as session:
        raws = session.execute(select(func.count(RawInput.id)).where(RawInput.status == RawStatus.RECEIVED)).scalar_one()
        jobs = session.execute(
            select(func.count(Job.id)).where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]), Job.run_after <= utcnow())
        ).scalar_one()
    return int(raws) + int(jobs)


class IntakeOnly(dict[str, Handler]):
    """The intake's handlers (parse, send acknowledgements); every other kind (enforcement
    playbooks, deadlines ...) is marked done without running: those cost the same after
    either channel, and neither side of the comparison runs them."""

    def get(self, kind: str, default: Handler | None = None) -> Handler | None:  # type: ignore[override]
        return super().get(kind, _skip)


def _skip(_ctx: Context, _session: Session, _job: Job) -> None:
    return None


def intake_worker(ctx: Context) -> Worker:
    handlers = default_handlers()
    return Worker(ctx, IntakeOnly({k: v for k, v in handlers.items() if k in (PROCESS_RAW, SEND_JOB)}), name="bench")


def run_direct(ctx: Context, messages: list[bytes]) -> float:
    """Baseline: ``ingest_bytes`` per message (stored, parsed, attributed, joined to a case),
    then the same bookkeeping of the enforcement jobs the new cases enqueue as the SMTP side
    pays (claimed and marked done, not run), so only the channel differs."""
    start = time.perf_counter()
    for data in messages:
        ingest_bytes(ctx, data, channel="file", actor="bench")
    intake_worker(ctx).run_until_idle()
    return time.perf_counter() - start


def run_smtp(ctx: Context, messages: list[bytes]) -> tuple[float, float]:
    """Seconds until every message got its 250 (worker off), and until the worker drained them."""
    listener = start_smtp(ctx, port=free_port())

    def send(chunk: list[tuple[str, bytes]]) -> None:
        with smtplib.SMTP(listener.host, listener.port, timeout=60) as client:
            for sender, data in chunk:
                client.sendmail(sender, ["abuse@abusedesk.test"], data)

    senders = [(f"r{i % 50}@reporter.example", data) for i, data in enumerate(messages)]
    chunks = [senders[i::CONNECTIONS] for i in range(CONNECTIONS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(send, chunks))
    accepted = time.perf_counter() - start
    listener.stop()
    worker = intake_worker(ctx)
    while due_work(ctx):
        worker.run_until_idle()
    return accepted, time.perf_counter() - start


def _figures(ctx: Context) -> tuple[int, int]:
    with ctx.transaction() as session:
        cases = int(session.execute(select(func.count(Report.id)).where(Report.outcome == "case")).scalar_one())
        acks = int(session.execute(select(func.count(OutboundMessage.id)).where(OutboundMessage.kind == "acknowledgement")).scalar_one())
    return cases, acks


def run_backend(label: str, make: Callable[[], AbstractContextManager[Context | None]]) -> None:
    rng = random.Random(3)
    messages = [message(rng, i) for i in range(MESSAGES)]
    with make() as ctx:
        if ctx is None:
            return
        prepare(ctx)
        base_s = run_direct(ctx, messages)
        base_cases, _ = _figures(ctx)
    with make() as ctx:
        assert ctx is not None
        prepare(ctx)
        accepted, done = run_smtp(ctx, messages)
        cases, acks = _figures(ctx)
    print(f"  {label}: ingest_bytes directly     {MESSAGES / base_s:7,.0f} messages/s stored → parsed → case (baseline; {base_cases} reports in cases)")
    print(f"  {label}: SMTP accepted (250)       {MESSAGES / accepted:7,.0f} messages/s ({CONNECTIONS} connections; stored + job, worker idle)")
    print(
        f"  {label}: SMTP end to end           {MESSAGES / done:7,.0f} messages/s (accepted → job → parsed → case → acknowledged; {cases} reports in cases, "
        f"{acks} acknowledgements; {done / base_s:.2f}x the baseline's time)"
    )


def shadowserver_csv(rows: int) -> bytes:
    rng = random.Random(5)
    lines = ['"timestamp","ip","protocol","port","hostname","tag","asn","geo","region","city","naics","sic","min_amplification","dns_version","sector"']
    for i in range(rows):
        ip = f"{rng.choice(NETS)}.{rng.randrange(1, 255)}" if i % 10 else f"203.0.113.{i % 250 + 1}"
        lines.append(f'"2026-01-15 04:{i // 60 % 60:02d}:{i % 60:02d}","{ip}","udp",53,"","openresolver",64496,"DE","Hessen","Frankfurt",518210,0,"28.5","dnsmasq-2.80",""')
    return ("\n".join(lines) + "\n").encode()


def bench_shadowserver() -> None:
    data = shadowserver_csv(SHADOWSERVER_ROWS)
    with sqlite_context() as ctx:
        prepare(ctx)
        result, seconds = timed(lambda: import_feed(ctx, data, filename="2026-01-15-scan_dns-example_org-asn.csv"))
    cases = sum(1 for r in result.reports if r.outcome == "case")
    print(
        f"  SQLite    : Shadowserver rows ingested {SHADOWSERVER_ROWS / seconds:7,.0f} rows/s ({SHADOWSERVER_ROWS} rows, "
        f"{len(result.reports)} reports, {cases} joined cases, {len(result.reports) - cases} not ours; one file, one transaction)"
    )


def main() -> None:
    print(f"mail intake: {MESSAGES} free-text complaints from 50 reporters")
    run_backend("SQLite    ", sqlite_context)
    run_backend("PostgreSQL", postgres_context)
    print("feed files (abusedesk feed import / watched folder path)")
    bench_shadowserver()


if __name__ == "__main__":
    main()
