"""Long-running services started next to the web app: the job worker (and, as they
arrive, the SMTP listener and the deadline scheduler). Each has ``stop()``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from abusedesk.context import Context
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.worker import Worker


@dataclass
class Running:
    name: str
    stop: Callable[[], None]


def start_worker(ctx: Context) -> Running:
    worker = Worker(ctx, default_handlers())
    thread = threading.Thread(target=worker.serve_forever, name="abusedesk-worker", daemon=True)
    thread.start()

    def stop() -> None:
        worker.stop()
        thread.join(timeout=10)

    return Running("worker", stop)


def start_background(ctx: Context) -> list[Running]:
    """Everything ``abusedesk serve`` runs besides HTTP, in start order."""
    return [start_worker(ctx)]


def stop_background(running: list[Running]) -> None:
    for service in reversed(running):
        service.stop()
