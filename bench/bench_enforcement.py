"""Issue 4 figures: actions applied per second through the worker, notices sent per second
through a local SMTP sink, and the delay from a deadline passing to its escalation.
Prints figures; asserts nothing.

Baselines in the same run: a no-op job kind through the same worker (the job machinery's
own cost) beside the apply job; the recording transport beside real SMTP; and the worker's
poll interval beside the measured escalation delay.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller
from common import postgres_context, sqlite_context
from sqlalchemy import select

from abusedesk.audit.models import AuditEvent
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.enforcement.flows import set_deadline
from abusedesk.enforcement.scheduler import DeadlineScheduler
from abusedesk.enforcement.service import Proposal, propose
from abusedesk.inventory.csvfiles import parse_resources
from abusedesk.inventory.models import Account
from abusedesk.inventory.service import import_holdings
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.service import enqueue
from abusedesk.jobs.worker import Worker
from abusedesk.notices.outbox import queue_mail
from abusedesk.notices.transport import RecordingTransport
from abusedesk.policy.models import ActionKind
from abusedesk.policy.taxonomy import Category
from abusedesk.timeutil import as_utc, utcnow

ACTIONS = int(os.environ.get("BENCH_ENF_ACTIONS", "300"))
NOTICES = int(os.environ.get("BENCH_ENF_NOTICES", "150"))
DEADLINES = int(os.environ.get("BENCH_ENF_DEADLINES", "30"))


def load(ctx: Context) -> None:
    rows = ["account,kind,value,valid_from,valid_to"]
    rows.append("acme,cidr,10.0.0.0/16,2020-01-01T00:00:00Z,")
    with ctx.transaction() as session:
        import_holdings(session, parse_resources("\n".join(rows) + "\n"), actor="bench")
    with ctx.transaction() as session:
        account = session.get(Account, "acme")
        assert account is not None
        account.email = "noc@acme.example"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({count} in {seconds:.2f} s)"


def bench_actions(ctx: Context, label: str) -> None:
    with ctx.transaction() as session:
        for i in range(ACTIONS):
            enqueue(session, "bench.noop", {"i": i})
    handlers = {**default_handlers(), "bench.noop": lambda _c, _s, _j: None}
    worker = Worker(ctx, handlers, name="bench", batch=50)
    start = time.perf_counter()
    worker.run_until_idle()
    baseline = time.perf_counter() - start

    with ctx.transaction() as session:
        for i in range(ACTIONS):
            address = str(ipaddress.IPv4Address(0x0A000000 + 1 + i))
            propose(ctx, session, Proposal(ActionKind.BLOCK_IP, "acme", "ip", address, "bench"), actor="bench-analyst", approve=True)
    start = time.perf_counter()
    worker.run_until_idle()
    applied = time.perf_counter() - start
    print(f"  [{label}] no-op jobs (baseline):       {rate(ACTIONS, baseline)}")
    print(f"  [{label}] actions applied via worker:   {rate(ACTIONS, applied)}  (builtin adapter, decision record written at approval)")


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook name
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_notices(ctx: Context, label: str) -> None:
    def queue(n: int) -> None:
        with ctx.transaction() as session:
            for i in range(n):
                queue_mail(session, kind="notice", recipient=f"c{i}@acme.example", sender="abuse@abusedesk.test", subject=f"[AD-2026-{i:06d}] notice", body_text="text " * 200, body_html="<p>html</p>" * 50)

    worker = Worker(ctx, default_handlers(), name="bench-mail", batch=50)
    ctx.mail_transport = RecordingTransport()
    queue(NOTICES)
    start = time.perf_counter()
    worker.run_until_idle()
    recorded = time.perf_counter() - start

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        ctx.mail_transport = None
        ctx.settings.outbound_smtp_host, ctx.settings.outbound_smtp_port = "127.0.0.1", port
        queue(NOTICES)
        start = time.perf_counter()
        worker.run_until_idle()
        smtp = time.perf_counter() - start
    finally:
        controller.stop()
    print(f"  [{label}] notices, recording transport (baseline): {rate(NOTICES, recorded)}")
    print(f"  [{label}] notices through aiosmtpd on 127.0.0.1:   {rate(sink.count, smtp)}  (one SMTP connection per mail)")


def bench_deadlines(ctx: Context, label: str) -> None:
    """Deadlines due 2 s from now; a worker and the scheduler run as in ``abusedesk serve``."""
    ctx.mail_transport = RecordingTransport()
    ctx.settings.worker_poll_seconds = 0.5
    now = utcnow()
    with ctx.transaction() as session:
        cases = []
        for i in range(DEADLINES):
            case = Case(account_id="acme", category="email.spam", resource_key=f"ip:10.0.1.{i + 1}", status="notified", severity="medium", report_count=1, reporter_count=0, first_seen=now, last_seen=now, opened_at=now, updated_at=now)
            session.add(case)
            cases.append(case)
        session.flush()
        ids = [c.id for c in cases]
    spam = ctx.policy.category("email.spam")
    quick = spam.model_copy(update={"playbook": spam.playbook.model_copy(update={"deadline": timedelta(seconds=2)})})
    ctx.policy = ctx.policy.model_copy(update={"categories": {**ctx.policy.categories, Category.EMAIL_SPAM: quick}})
    with ctx.transaction() as session:
        for case in session.execute(select(Case).where(Case.id.in_(ids))).scalars():
            set_deadline(ctx, session, case, actor="bench")
        due = {c.id: as_utc(c.deadline_at) for c in session.execute(select(Case).where(Case.id.in_(ids))).scalars() if c.deadline_at}
    worker = Worker(ctx, default_handlers(), name="bench-deadline")
    scheduler = DeadlineScheduler(ctx, interval=1.0)
    threads = [threading.Thread(target=worker.serve_forever, daemon=True), threading.Thread(target=scheduler.serve_forever, daemon=True)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    escalated: dict[int, Any] = {}
    while time.monotonic() < deadline and len(escalated) < len(ids):
        time.sleep(0.2)
        with ctx.transaction() as session:
            for event in session.execute(select(AuditEvent).where(AuditEvent.action == "case.transition", AuditEvent.object_id.in_([str(i) for i in ids]))).scalars():
                if event.data.get("to") == "escalated":
                    escalated[int(event.object_id)] = as_utc(event.at)
    worker.stop()
    scheduler.stop()
    for thread in threads:
        thread.join(timeout=5)
    delays = sorted((escalated[i] - due[i]).total_seconds() for i in escalated)
    if not delays:
        print(f"  [{label}] no escalation within 30 s")
        return
    median = delays[len(delays) // 2]
    print(f"  [{label}] deadline → escalation delay: median {median:.2f} s, max {delays[-1]:.2f} s over {len(delays)}/{len(ids)} deadlines (worker poll {ctx.settings.worker_poll_seconds} s = baseline)")


def main() -> None:
    print(f"abusedesk enforcement benchmark: {ACTIONS} actions, {NOTICES} notices, {DEADLINES} deadlines")
    with sqlite_context() as ctx:
        load(ctx)
        bench_actions(ctx, "sqlite")
        bench_notices(ctx, "sqlite")
        bench_deadlines(ctx, "sqlite")
    with postgres_context() as pg:
        if pg is not None:
            load(pg)
            bench_actions(pg, "postgresql")
            bench_notices(pg, "postgresql")
            bench_deadlines(pg, "postgresql")


if __name__ == "__main__":
    main()
