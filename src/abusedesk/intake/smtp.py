"""The SMTP listener (aiosmtpd) for the abuse addresses.

It answers 250 only after the message has been committed, synced to disk
(``flows.accept_many`` through ``flows.durable_sessions``): raw bytes and processing job in
one transaction, shared by the messages that arrived together (:class:`GroupCommitter`).
Any failure before that answers 451 (try again later), so the sending MTA keeps the
message: the sender's queue is our safety net until the commit, the job table after it.
Parsing never happens here.

Production puts Postfix in front (TLS, queueing, spam filtering, rate limits) and relays
to this port on the loopback; see docs/smtp.md.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from abusedesk.context import Context
from abusedesk.intake.flows import Accepted, accept_many, durable_sessions
from abusedesk.intake.mailrules import Envelope
from abusedesk.intake.metrics import SMTP_MESSAGES, SMTP_RECIPIENTS_REJECTED

log = logging.getLogger("abusedesk.smtp")
MAX_RECIPIENTS = 50


class RecipientPolicy:
    """The configured abuse addresses and their plus-addressed forms, nothing else."""

    def __init__(self, addresses: list[str]) -> None:
        self._accepted: set[tuple[str, str]] = set()
        for address in addresses:
            local, _, domain = parseaddr(address)[1].lower().rpartition("@")
            if local and domain:
                self._accepted.add((local, domain))

    def accepts(self, address: str) -> bool:
        local, _, domain = address.strip().strip("<>").lower().rpartition("@")
        if not local or not domain:
            return False
        base = local.split("+", 1)[0]
        return (base, domain.rstrip(".")) in self._accepted


class GroupCommitter:
    """Stores messages from all SMTP sessions in groups: one commit, one disk sync, many 250s.

    A durable commit costs a disk sync (milliseconds); messages arriving together (a
    burst from a feedback loop, several connections from Postfix) share it instead of
    queueing behind each other's. One thread writes; a failed group fails every message
    in it, and each of their senders gets 451 and retries.
    """

    def __init__(self, ctx: Context, sessions: sessionmaker[Session], *, max_group: int = 100) -> None:
        self.ctx = ctx
        self.sessions = sessions
        self.max_group = max_group
        self._queue: queue.SimpleQueue[tuple[bytes, Envelope, Future[Accepted]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="abusedesk-smtp-commit", daemon=True)
        self._thread.start()

    def submit(self, data: bytes, envelope: Envelope) -> Future[Accepted]:
        future: Future[Accepted] = Future()
        self._queue.put((data, envelope, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stopping = False
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)
            if stopping:
                return

    def _commit(self, group: list[tuple[bytes, Envelope, Future[Accepted]]]) -> None:
        try:
            results = accept_many(self.ctx, [(data, envelope) for data, envelope, _ in group], sessions=self.sessions)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting session, which answers 451
            for _, _, future in group:
                future.set_exception(exc)
            return
        for (_, _, future), result in zip(group, results, strict=True):
            future.set_result(result)

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout=60)


class AbuseMailHandler:
    """aiosmtpd handler: recipient check at RCPT, durable acceptance at DATA."""

    def __init__(self, ctx: Context, committer: GroupCommitter) -> None:
        self.ctx = ctx
        self.committer = committer
        # the notice sender too: notices ask for replies at ``<notice_from>+<case>@``
        self.recipients = RecipientPolicy([*ctx.settings.abuse_addresses, ctx.settings.notice_from])
        self.limit = ctx.settings.max_message_bytes

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.recipients.accepts(address):
            SMTP_RECIPIENTS_REJECTED.inc()
            return f"550 5.1.1 <{_printable(address)}>: recipient not accepted here"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:  # noqa: N802
        data = envelope.original_content
        if not isinstance(data, bytes):
            data = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content or "").encode("utf-8", "surrogateescape")
        # aiosmtpd enforces data_size_limit too; this check keeps the promise if it changes
        if len(data) > self.limit:
            SMTP_MESSAGES.labels("too_large").inc()
            return f"552 5.3.4 Message exceeds the size limit of {self.limit} bytes"
        peer = session.peer
        meta = Envelope(
            mail_from=str(envelope.mail_from or "").strip("<>"),
            rcpt_tos=tuple(envelope.rcpt_tos),
            peer=str(peer[0]) if isinstance(peer, tuple) and peer else (str(peer) if peer else None),
            helo=str(session.host_name)[:255] if session.host_name else None,
        )
        try:
            accepted = await asyncio.wrap_future(self.committer.submit(data, meta))
        except Exception:  # the sender keeps the message and retries
            log.exception("could not store a message; answered 451")
            SMTP_MESSAGES.labels("temporary_failure").inc()
            return "451 4.3.0 Temporary failure storing the message, try again later"
        SMTP_MESSAGES.labels("accepted" if accepted.created else "duplicate").inc()
        return f"250 2.0.0 OK: queued as R-{accepted.raw_id}"


def _printable(value: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in value)[:200]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpListener:
    controller: Controller
    committer: GroupCommitter
    host: str
    port: int
    engine: Engine | None = None

    def stop(self) -> None:
        """Stop accepting, then wait for messages being stored to commit."""
        self.controller.stop()
        self.committer.stop()
        if self.engine is not None:
            self.engine.dispose()


def start_smtp(ctx: Context, *, host: str | None = None, port: int | None = None) -> SmtpListener:
    """Listen on ``smtp_host``:``smtp_port`` (or the arguments) until ``stop()``."""
    host = host or ctx.settings.smtp_host
    port = ctx.settings.smtp_port if port is None else port
    sessions, engine = durable_sessions(ctx)
    committer = GroupCommitter(ctx, sessions)
    handler = AbuseMailHandler(ctx, committer)
    kwargs: dict[str, Any] = {
        "data_size_limit": ctx.settings.max_message_bytes,
        "enable_SMTPUTF8": True,
        "ident": "abusedesk",
    }
    controller = Controller(handler, hostname=host, port=port, ready_timeout=10.0, **kwargs)
    try:
        controller.start()
    except BaseException:
        committer.stop()
        if engine is not None:
            engine.dispose()
        raise
    log.info("SMTP listener on %s:%s", host, port)
    return SmtpListener(controller, committer, host, port, engine)
