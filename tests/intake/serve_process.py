"""``abusedesk serve`` without HTTP, as a process the crash test can SIGKILL.

Run as ``python serve_process.py PORT`` with ``ABUSEDESK_*`` settings in the environment:
the SMTP listener on 127.0.0.1:PORT and the job worker, until killed.
"""

from __future__ import annotations

import sys

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.intake.smtp import start_smtp
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.worker import Worker


def main() -> None:
    ctx = Context.create(Settings(run_worker=False, worker_poll_seconds=0.05))
    start_smtp(ctx, host="127.0.0.1", port=int(sys.argv[1]))
    Worker(ctx, default_handlers(), name=f"serve-{sys.argv[1]}").serve_forever()


if __name__ == "__main__":
    main()
