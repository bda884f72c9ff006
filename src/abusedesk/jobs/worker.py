"""The worker: claims jobs and runs their handlers, each in its own transaction.

A handler's database effects and the job's completion commit together, so a crash
anywhere means the job runs again, never half. Handlers must be safe to repeat.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable

from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.jobs import service
from abusedesk.jobs.models import Job

Handler = Callable[[Context, Session, Job], None]
log = logging.getLogger("abusedesk.worker")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    def __init__(self, ctx: Context, handlers: dict[str, Handler], *, name: str | None = None, batch: int = 20) -> None:
        self.ctx = ctx
        self.handlers = handlers
        self.name = name or worker_name()
        self.batch = batch
        self._stop = threading.Event()

    def run_once(self) -> int:
        """Claim and run one batch of due jobs; returns how many ran."""
        with self.ctx.transaction() as session:
            jobs = service.claim(session, worker=self.name, limit=self.batch)
            claimed = [(j.id, j.kind) for j in jobs]
        for job_id, kind in claimed:
            self._run(job_id, kind)
        return len(claimed)

    def run_until_idle(self, *, max_rounds: int = 10_000) -> int:
        total = 0
        for _ in range(max_rounds):
            ran = self.run_once()
            total += ran
            if ran == 0:
                break
        return total

    def _run(self, job_id: int, kind: str) -> None:
        handler = self.handlers.get(kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {kind!r}")
            with self.ctx.transaction() as session:
                job = session.get(Job, job_id)
                if job is None:
                    return
                handler(self.ctx, session, job)
                service.mark_done(session, job_id, self.name)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            log.warning("job %s (%s) failed: %s", job_id, kind, exc)
            with self.ctx.transaction() as session:
                service.mark_failed(session, job_id, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:
                log.exception("worker round failed")
                ran = 0
            if ran == 0:
                self._stop.wait(self.ctx.settings.worker_poll_seconds)

    def stop(self) -> None:
        self._stop.set()
