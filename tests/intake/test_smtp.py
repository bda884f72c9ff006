"""SMTP intake end to end: a real client, durable 250, 550/552, processing through jobs."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.intake.service import raw_bytes
from abusedesk.intake.smtp import SmtpListener, free_port, start_smtp
from abusedesk.jobs.handlers import PROCESS_RAW, default_handlers
from abusedesk.jobs.models import Job, JobStatus
from abusedesk.jobs.worker import Worker
from abusedesk.migrate import upgrade
from abusedesk.reports.models import Report
from abusedesk.timeutil import utcnow
from tests.helpers import load_inventory
from tests.intake.mails import complaint

CRASH_WORKER = Path(__file__).with_name("crash_worker.py")
SERVE_PROCESS = Path(__file__).with_name("serve_process.py")


def send(listener: SmtpListener, data: bytes, *, to: str = "abuse@abusedesk.test", sender: str = "victim@reporter.example") -> None:
    with smtplib.SMTP(listener.host, listener.port, timeout=30) as client:
        client.sendmail(sender, [to], data)


def count(ctx: Context, model: type[object], *where: object) -> int:
    with ctx.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())  # type: ignore[arg-type]


def test_250_means_stored_and_queued_then_the_worker_parses(ctx: Context, listener: SmtpListener, run_worker: Callable[[], int]) -> None:
    load_inventory(ctx)
    for n in range(3):
        send(listener, complaint(subject=f"spam {n}"))
    # accepted: raw rows and jobs committed, nothing parsed yet
    assert count(ctx, RawInput, RawInput.status == RawStatus.RECEIVED, RawInput.channel == "smtp") == 3
    assert count(ctx, Job, Job.kind == PROCESS_RAW, Job.status == JobStatus.QUEUED) == 3
    assert count(ctx, Report) == 0
    with ctx.transaction() as session:
        raw = session.execute(select(RawInput).limit(1)).scalar_one()
        assert raw.meta["smtp"]["mail_from"] == "victim@reporter.example"
        assert raw.meta["smtp"]["rcpt_tos"] == ["abuse@abusedesk.test"]
        assert raw_bytes(ctx.blobs, raw).startswith(b"From: Victim")
    run_worker()
    assert count(ctx, RawInput, RawInput.status == RawStatus.PARSED) == 3
    with ctx.transaction() as session:
        reports = list(session.execute(select(Report)).scalars())
    assert len(reports) == 3
    assert {r.outcome for r in reports} == {"case"}
    assert len({r.case_id for r in reports}) == 1


def test_a_null_reverse_path_is_kept_as_such(ctx: Context, listener: SmtpListener) -> None:
    send(listener, complaint(), sender="")
    with ctx.transaction() as session:
        raw = session.execute(select(RawInput)).scalar_one()
    assert raw.meta["smtp"]["mail_from"] == ""


def test_the_same_message_twice_is_stored_once(ctx: Context, listener: SmtpListener, run_worker: Callable[[], int]) -> None:
    data = complaint()
    send(listener, data)
    send(listener, data)
    run_worker()
    send(listener, data)
    run_worker()
    assert count(ctx, RawInput) == 1
    assert count(ctx, Report) == 1


def _metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_recipients_other_than_the_abuse_addresses_get_550(local_ctx: Context) -> None:
    rejected, accepted = _metric("abusedesk_smtp_recipients_rejected_total"), _metric("abusedesk_smtp_messages_total", result="accepted")
    listener = start_smtp(local_ctx, port=free_port())
    try:
        with smtplib.SMTP(listener.host, listener.port, timeout=30) as client:
            client.ehlo("client.example")
            client.mail("victim@reporter.example")
            assert client.rcpt("postmaster@abusedesk.test")[0] == 550
            assert client.rcpt("abuse@elsewhere.example")[0] == 550
            assert client.rcpt("abusex@abusedesk.test")[0] == 550
            assert client.rcpt("ABUSE@AbuseDesk.Test")[0] == 250
            assert client.rcpt("abuse+AD-2026-000001@abusedesk.test")[0] == 250
            code, _ = client.data(complaint())
            assert code == 250
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(listener, complaint(), to="sales@abusedesk.test")
        assert refused.value.recipients["sales@abusedesk.test"][0] == 550
    finally:
        listener.stop()
    assert _metric("abusedesk_smtp_recipients_rejected_total") == rejected + 4
    assert _metric("abusedesk_smtp_messages_total", result="accepted") == accepted + 1
    with local_ctx.transaction() as session:
        raw = session.execute(select(RawInput)).scalar_one()
        assert raw.meta["smtp"]["rcpt_tos"] == ["ABUSE@AbuseDesk.Test", "abuse+AD-2026-000001@abusedesk.test"]


def test_the_notice_sender_address_takes_replies_too(tmp_path: Path) -> None:
    ctx = Context.create(Settings(data_dir=tmp_path / "var", run_worker=False, abuse_addresses=["abuse@cloud.example"], notice_from="notices@cloud.example"))
    upgrade(ctx.engine)
    listener = start_smtp(ctx, port=free_port())
    try:
        with smtplib.SMTP(listener.host, listener.port, timeout=30) as client:
            client.ehlo("mx.customer.example")
            client.mail("noc@customer.example")
            assert client.rcpt("notices+AD-2026-000001@cloud.example")[0] == 250
            assert client.rcpt("abuse@cloud.example")[0] == 250
            assert client.rcpt("abuse@abusedesk.test")[0] == 550
    finally:
        listener.stop()
        ctx.close()


def test_a_26_mib_message_gets_552_and_is_not_stored(local_ctx: Context) -> None:
    listener = start_smtp(local_ctx, port=free_port())
    big = complaint(body="x" * 76 + "\n") + (b"y" * 76 + b"\r\n") * (26 * 1024 * 1024 // 78)
    assert len(big) > 26 * 1024 * 1024 - 100
    try:
        # a client that announces SIZE is refused at MAIL FROM
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(listener, big)
        assert refused.value.smtp_code == 552
        # one that does not is refused after DATA
        with smtplib.SMTP(listener.host, listener.port, timeout=60) as client:
            client.ehlo("client.example")
            client.mail("victim@reporter.example")
            client.rcpt("abuse@abusedesk.test")
            code, _ = client.data(big)
            assert code == 552
            # the session goes on: a normal message after it is accepted
            client.rset()
            client.mail("victim@reporter.example")
            client.rcpt("abuse@abusedesk.test")
            assert client.data(complaint())[0] == 250
    finally:
        listener.stop()
    with local_ctx.transaction() as session:
        assert [r.size < 1024 * 1024 for r in session.execute(select(RawInput)).scalars()] == [True]


def test_a_storage_failure_answers_451_so_the_sender_keeps_the_message(local_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    import abusedesk.intake.smtp as smtp_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(smtp_module, "accept_many", broken)
    listener = start_smtp(local_ctx, port=free_port())
    try:
        with pytest.raises(smtplib.SMTPDataError) as error:
            send(listener, complaint())
        assert error.value.smtp_code == 451
    finally:
        listener.stop()


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited early ({proc.returncode}): {proc.stderr.read().decode() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("worker never reached the crash point")
        time.sleep(0.05)


def test_worker_killed_mid_way_loses_and_doubles_nothing(ctx: Context, listener: SmtpListener, tmp_path: Path) -> None:
    """SIGKILL a worker process inside a job (work flushed, not committed), restart, count."""
    load_inventory(ctx)
    messages = [complaint(ip=f"192.0.2.{10 + n}", subject=f"spam {n}") for n in range(6)]
    for data in messages:
        send(listener, data)
    marker = tmp_path / "crashed"
    env = {
        **os.environ,
        "ABUSEDESK_DATA_DIR": str(ctx.settings.data_dir),
        "ABUSEDESK_DATABASE_URL": ctx.settings.effective_database_url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
    }
    proc = subprocess.Popen([sys.executable, str(CRASH_WORKER), str(marker), "3"], env=env, stderr=subprocess.PIPE)
    try:
        _wait_for(marker, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    # two jobs committed; the third died with its transaction; three never started
    assert count(ctx, Report) == 2
    assert count(ctx, Job, Job.kind == PROCESS_RAW, Job.status == JobStatus.DONE) == 2
    assert count(ctx, Job, Job.kind == PROCESS_RAW, Job.status == JobStatus.RUNNING) == 1
    # the dead worker's lease runs out (time passes), then a new worker starts
    with ctx.transaction() as session:
        session.execute(update(Job).where(Job.status == JobStatus.RUNNING).values(locked_at=utcnow() - timedelta(minutes=10)))
    Worker(ctx, default_handlers(), name="restarted").run_until_idle()
    assert count(ctx, RawInput) == 6
    assert count(ctx, RawInput, RawInput.status == RawStatus.PARSED) == 6
    assert count(ctx, Job, Job.kind == PROCESS_RAW, Job.status == JobStatus.DONE) == 6
    with ctx.transaction() as session:
        per_raw = session.execute(select(Report.raw_id, func.count()).group_by(Report.raw_id)).all()
        ips = sorted(r.resources[0]["value"] for r in session.execute(select(Report)).scalars())
    assert sorted(n for _, n in per_raw) == [1] * 6
    assert ips == sorted(f"192.0.2.{10 + n}" for n in range(6))


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (apt-get install swaks)")
def test_swaks_delivers_and_is_refused_like_any_mta(local_ctx: Context) -> None:
    listener = start_smtp(local_ctx, port=free_port())
    base = ["swaks", "--server", listener.host, "--port", str(listener.port), "--from", "victim@reporter.example", "--timeout", "30"]
    try:
        ok = subprocess.run(
            [*base, "--to", "abuse+spam@abusedesk.test", "--header", "Subject: spam from 192.0.2.10",
             "--body", "Your host 192.0.2.10 spammed us on 2026-11-01 10:00 UTC."],
            capture_output=True, text=True, timeout=60, check=False,
        )
        refused = subprocess.run([*base, "--to", "nobody@abusedesk.test"], capture_output=True, text=True, timeout=60, check=False)
    finally:
        listener.stop()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "250 2.0.0 OK: queued as R-" in ok.stdout
    assert refused.returncode != 0
    assert "550 5.1.1" in refused.stdout
    with local_ctx.transaction() as session:
        raw = session.execute(select(RawInput)).scalar_one()
        assert raw.meta["smtp"]["rcpt_tos"] == ["abuse+spam@abusedesk.test"]
        assert b"192.0.2.10" in raw_bytes(local_ctx.blobs, raw)


def test_the_same_bytes_on_parallel_connections_are_stored_once(ctx: Context, listener: SmtpListener) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = complaint()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: send(listener, data), range(12)))
    assert count(ctx, RawInput) == 1
    assert count(ctx, Job, Job.kind == PROCESS_RAW) == 1


def _spawn_serve(ctx: Context, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ABUSEDESK_DATA_DIR": str(ctx.settings.data_dir),
        "ABUSEDESK_DATABASE_URL": ctx.settings.effective_database_url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
    }
    proc = subprocess.Popen([sys.executable, str(SERVE_PROCESS), str(port)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                client.noop()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"serve process exited ({proc.returncode})") from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("serve process never listened")


def test_sigkill_during_a_burst_then_the_senders_retry_every_message_lands_once(ctx: Context) -> None:
    """The whole service dies mid-burst; what got 250 is kept, what did not is resent (as an
    MTA does), including messages committed whose 250 never arrived: each ends up once."""
    import threading

    load_inventory(ctx)
    messages = [complaint(ip=f"192.0.2.{20 + n}", subject=f"burst {n}") for n in range(30)]
    port = free_port()
    proc = _spawn_serve(ctx, port)
    accepted: set[int] = set()
    killer = threading.Timer(0, lambda: None)
    try:
        for n, data in enumerate(messages):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                    client.sendmail("victim@reporter.example", ["abuse@abusedesk.test"], data)
                accepted.add(n)
            except (OSError, smtplib.SMTPException):
                continue
            if n == 8:  # die at an arbitrary moment of the next messages ...
                killer = threading.Timer(0.03, os.kill, (proc.pid, signal.SIGKILL))
                killer.start()
            if n == 15 and proc.poll() is None:  # ... and at the latest here
                killer.cancel()
                os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        killer.cancel()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert 9 <= len(accepted) < len(messages)
    # every 250 is durable: stored, whatever the worker had done
    with ctx.transaction() as session:
        stored = {raw_bytes(ctx.blobs, r) for r in session.execute(select(RawInput)).scalars()}
    assert {messages[n] for n in accepted} <= stored
    # restart; the senders retry what they could not deliver
    proc = _spawn_serve(ctx, port)
    try:
        for n, data in enumerate(messages):
            if n not in accepted:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail("victim@reporter.example", ["abuse@abusedesk.test"], data)
        # the lease of a job the killed worker held runs out (time passes)
        with ctx.transaction() as session:
            session.execute(update(Job).where(Job.status == JobStatus.RUNNING).values(locked_at=utcnow() - timedelta(minutes=10)))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and count(ctx, RawInput, RawInput.status == RawStatus.RECEIVED):
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert count(ctx, RawInput) == len(messages)
    assert count(ctx, RawInput, RawInput.status == RawStatus.PARSED) == len(messages)
    with ctx.transaction() as session:
        per_raw = session.execute(select(Report.raw_id, func.count()).group_by(Report.raw_id)).all()
    assert sorted(n for _, n in per_raw) == [1] * len(messages)


def test_acceptance_commits_are_synced_to_disk_on_sqlite(local_ctx: Context) -> None:
    """250 must survive a power cut, not only a crash: acceptance runs with synchronous=FULL."""
    from sqlalchemy import text

    from abusedesk.intake.flows import durable_sessions

    sessions, engine = durable_sessions(local_ctx)
    assert engine is not None
    try:
        with sessions() as session, session.begin():
            assert session.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        with local_ctx.transaction() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar_one() == 1  # the rest: NORMAL
    finally:
        engine.dispose()


def test_group_commit_answers_every_message_of_a_group(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    import abusedesk.intake.smtp as smtp_module
    from abusedesk.intake.flows import durable_sessions
    from abusedesk.intake.mailrules import Envelope
    from abusedesk.intake.smtp import GroupCommitter

    sizes: list[int] = []
    real = smtp_module.accept_many

    def spy(context: Context, items: list[tuple[bytes, Envelope]], **kwargs: object) -> object:
        sizes.append(len(items))
        return real(context, items, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(smtp_module, "accept_many", spy)
    sessions, engine = durable_sessions(ctx)
    committer = GroupCommitter(ctx, sessions)
    envelope = Envelope(mail_from="victim@reporter.example", rcpt_tos=("abuse@abusedesk.test",))
    messages = [complaint(subject=f"group {n}") for n in range(40)]
    messages.append(messages[0])  # the same bytes twice, possibly in one group
    futures = [committer.submit(data, envelope) for data in messages]
    results = [f.result(timeout=60) for f in futures]
    committer.stop()
    if engine is not None:
        engine.dispose()
    assert sum(sizes) == len(messages)
    assert len({r.raw_id for r in results}) == 40
    assert count(ctx, RawInput) == 40
    assert count(ctx, Job, Job.kind == PROCESS_RAW) == 40

    def broken(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(smtp_module, "accept_many", broken)
    committer = GroupCommitter(ctx, ctx.sessions)
    failing = [committer.submit(data, envelope) for data in messages[:5]]
    for future in failing:
        with pytest.raises(OSError, match="disk full"):
            future.result(timeout=60)
    committer.stop()
