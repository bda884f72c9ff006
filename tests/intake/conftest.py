"""Fixtures for intake: a live SMTP listener on a free loopback port, mail builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.intake.smtp import SmtpListener, free_port, start_smtp
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.worker import Worker
from abusedesk.migrate import upgrade
from abusedesk.notices.transport import RecordingTransport


@pytest.fixture
def listener(ctx: Context) -> Iterator[SmtpListener]:
    running = start_smtp(ctx, port=free_port())
    yield running
    running.stop()


@pytest.fixture
def local_ctx(tmp_path: Path) -> Iterator[Context]:
    """SQLite only: for protocol tests where the backend does not matter."""
    context = Context.create(Settings(data_dir=tmp_path / "var", run_worker=False))
    upgrade(context.engine)
    yield context
    context.close()


@pytest.fixture
def sent(ctx: Context) -> RecordingTransport:
    """Outgoing mail lands here instead of an SMTP server."""
    transport = RecordingTransport()
    ctx.mail_transport = transport
    return transport


@pytest.fixture
def run_worker(ctx: Context) -> Callable[[], int]:
    def run() -> int:
        return Worker(ctx, default_handlers(), name="test-worker").run_until_idle()

    return run
