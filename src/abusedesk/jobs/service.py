"""The job table: enqueue inside the caller's transaction, claim, finish, retry.

A job is written in the same transaction as the change that needs it (the outbox
pattern), so work is never promised without the change, nor the change made without the
work. Claiming uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serializes writers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from abusedesk.jobs.models import Job, JobStatus
from abusedesk.timeutil import utcnow

#: a running job whose worker has not finished within this lease is considered crashed
LEASE = timedelta(minutes=5)


def enqueue(
    session: Session, kind: str, payload: dict[str, Any] | None = None, *, run_after: datetime | None = None,
    dedupe_key: str | None = None, max_attempts: int = 8,
) -> Job | None:
    """Add a job; with ``dedupe_key``, a job already queued for the same key wins (returns None)."""
    if dedupe_key is not None:
        existing = session.execute(select(Job.id).where(Job.dedupe_key == dedupe_key)).scalar_one_or_none()
        if existing is not None:
            return None
    job = Job(kind=kind, payload=payload or {}, run_after=run_after or utcnow(), dedupe_key=dedupe_key, max_attempts=max_attempts, status=JobStatus.QUEUED)
    session.add(job)
    session.flush()
    return job


def claim(session: Session, *, worker: str, limit: int = 10, now: datetime | None = None) -> list[Job]:
    """Take up to ``limit`` due jobs (and jobs of crashed workers) for ``worker``."""
    now = now or utcnow()
    query = (
        select(Job)
        .where(
            or_(
                (Job.status == JobStatus.QUEUED) & (Job.run_after <= now),
                (Job.status == JobStatus.RUNNING) & (Job.locked_at < now - LEASE),
            )
        )
        .order_by(Job.run_after, Job.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    jobs = list(session.execute(query).scalars())
    for job in jobs:
        job.status = JobStatus.RUNNING
        job.locked_by = worker
        job.locked_at = now
        job.attempts += 1
    return jobs


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at one hour."""
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


def mark_done(session: Session, job_id: int, worker: str) -> bool:
    """Finish a job in the handler's own transaction; False if another worker took it over."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.RUNNING)
        .values(status=JobStatus.DONE, finished_at=utcnow(), locked_by=None, dedupe_key=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_failed(session: Session, job_id: int, error: str) -> None:
    job = session.get(Job, job_id)
    if job is None:
        return
    job.last_error = error[:4000]
    job.locked_by = None
    if job.attempts >= job.max_attempts:
        job.status = JobStatus.FAILED
        job.finished_at = utcnow()
    else:
        job.status = JobStatus.QUEUED
        job.run_after = utcnow() + backoff(job.attempts)
