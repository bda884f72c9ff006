"""Long-running services started next to the web app: the job worker (and, as they
arrive, the deadline scheduler), the SMTP listener and the watched folder. Each has ``stop()``."""

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


def start_smtp_listener(ctx: Context) -> Running:
    """The SMTP intake (aiosmtpd), answering 250 only once a message is committed."""
    from abusedesk.intake.smtp import start_smtp

    listener = start_smtp(ctx)
    return Running("smtp", listener.stop)


def start_folder_watch(ctx: Context) -> Running:
    """The watched folder for feed files (``settings.watch_dir``)."""
    from abusedesk.intake.watch import FolderWatcher

    assert ctx.settings.watch_dir is not None
    watcher = FolderWatcher(ctx, ctx.settings.watch_dir)
    thread = threading.Thread(target=watcher.serve_forever, name="abusedesk-watch", daemon=True)
    thread.start()

    def stop() -> None:
        watcher.stop()
        thread.join(timeout=30)
        watcher.close()

    return Running("watch", stop)


def start_scheduler(ctx: Context) -> Running:
    """The deadline scheduler: enqueues due escalations idempotently (enforcement/scheduler.py)."""
    from abusedesk.enforcement.scheduler import DeadlineScheduler

    scheduler = DeadlineScheduler(ctx)
    thread = threading.Thread(target=scheduler.serve_forever, name="abusedesk-scheduler", daemon=True)
    thread.start()

    def stop() -> None:
        scheduler.stop()
        thread.join(timeout=10)

    return Running("scheduler", stop)


def start_background(ctx: Context) -> list[Running]:
    """Everything ``abusedesk serve`` runs besides HTTP, in start order."""
    running = [start_worker(ctx)]
    try:
        if ctx.settings.smtp_enabled:
            running.append(start_smtp_listener(ctx))
        if ctx.settings.watch_dir is not None:
            running.append(start_folder_watch(ctx))
        running.append(start_scheduler(ctx))
    except BaseException:
        stop_background(running)
        raise
    return running


def stop_background(running: list[Running]) -> None:
    for service in reversed(running):
        service.stop()
