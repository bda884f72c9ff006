"""A worker process that stops dead inside its Nth job, for the crash test to SIGKILL.

Run as ``python crash_worker.py MARKER N`` with ``ABUSEDESK_*`` settings in the
environment. The Nth ``intake.process_raw`` job does all its work and flushes it, then
writes MARKER and sleeps: the transaction is open, nothing of that job is committed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from sqlalchemy.orm import Session

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.jobs.handlers import PROCESS_RAW, default_handlers
from abusedesk.jobs.models import Job
from abusedesk.jobs.worker import Worker


def main() -> None:
    marker, crash_at = Path(sys.argv[1]), int(sys.argv[2])
    ctx = Context.create(Settings(run_worker=False))
    handlers = default_handlers()
    inner = handlers[PROCESS_RAW]
    done = 0

    def handler(context: Context, session: Session, job: Job) -> None:
        nonlocal done
        inner(context, session, job)
        done += 1
        if done == crash_at:
            session.flush()
            marker.write_text(str(job.id))
            time.sleep(600)

    handlers[PROCESS_RAW] = handler
    Worker(ctx, handlers, name="doomed", batch=1).serve_forever()


if __name__ == "__main__":
    main()
