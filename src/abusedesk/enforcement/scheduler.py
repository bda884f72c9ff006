"""The deadline scheduler: a loop that makes sure every due deadline has its job.

Deadlines are durable without it (each is a job row with ``run_after``); the loop is the
safety net after restarts and for deadlines changed outside the playbook. It only
enqueues, idempotently by dedupe key; the worker runs the escalation.
"""

from __future__ import annotations

import logging
import threading

from abusedesk.context import Context
from abusedesk.enforcement.flows import sweep_due_deadlines
from abusedesk.notices.flows import sweep_held_digests

log = logging.getLogger("abusedesk.scheduler")


class DeadlineScheduler:
    def __init__(self, ctx: Context, *, interval: float | None = None) -> None:
        self.ctx = ctx
        self.interval = interval if interval is not None else ctx.settings.scheduler_interval_seconds
        self._stop = threading.Event()

    def run_once(self) -> int:
        """Jobs added: escalations for due deadlines, digests for notices held too long."""
        with self.ctx.transaction() as session:
            return sweep_due_deadlines(self.ctx, session) + sweep_held_digests(self.ctx, session)

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("deadline sweep failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
