from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.jobs import service
from abusedesk.jobs.models import Job
from abusedesk.jobs.worker import Worker
from abusedesk.timeutil import utcnow

calls: list[int] = []


def flaky(ctx: Context, session: Session, job: Job) -> None:
    calls.append(job.id)
    if job.attempts < 2:
        raise RuntimeError("transient")


def test_failed_job_retries_with_backoff(ctx: Context) -> None:
    calls.clear()
    with ctx.transaction() as session:
        job = service.enqueue(session, "flaky", {})
        assert job is not None
        job_id = job.id
    worker = Worker(ctx, {"flaky": flaky}, name="w1")
    assert worker.run_once() == 1
    with ctx.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "queued" and "transient" in (job.last_error or "")
        assert job.run_after > utcnow()  # backed off
        job.run_after = utcnow() - timedelta(seconds=1)
    assert worker.run_once() == 1
    with ctx.transaction() as session:
        assert session.get(Job, job_id).status == "done"  # type: ignore[union-attr]
    assert calls == [job_id, job_id]


def test_dedupe_key_enqueues_once(ctx: Context) -> None:
    with ctx.transaction() as session:
        assert service.enqueue(session, "x", dedupe_key="k") is not None
        assert service.enqueue(session, "x", dedupe_key="k") is None


def test_crashed_worker_job_is_reclaimed_after_lease(ctx: Context) -> None:
    with ctx.transaction() as session:
        job = service.enqueue(session, "ok", {})
        assert job is not None
        job_id = job.id
    with ctx.transaction() as session:
        assert len(service.claim(session, worker="dead")) == 1  # then the worker "dies"
    with ctx.transaction() as session:
        assert service.claim(session, worker="alive") == []
        later = utcnow() + service.LEASE + timedelta(seconds=1)
        [again] = service.claim(session, worker="alive", now=later)
        assert again.id == job_id and again.attempts == 2
