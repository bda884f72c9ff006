"""Everything a request, a job or a command needs, built once from :class:`Settings`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from abusedesk.config import Settings
from abusedesk.db import WalCheckpointer, make_engine, make_session_factory, wal_checkpointer
from abusedesk.evidence.blobstore import BlobStore
from abusedesk.inventory.service import AttributionCache
from abusedesk.policy.models import Policy


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: Policy
    blobs: BlobStore
    attribution: AttributionCache = field(default_factory=AttributionCache)
    #: replaces SMTP delivery when set (tests, dry runs); see notices.outbox.transport_for
    mail_transport: Any = None
    #: enforcement adapters by name replacing the configured ones (tests, custom wiring)
    adapter_overrides: dict[str, Any] = field(default_factory=dict)
    #: SQLite only: checkpoints the WAL beside the writers (db.WalCheckpointer)
    checkpointer: WalCheckpointer | None = None

    @classmethod
    def create(cls, settings: Settings) -> Context:
        """Validates the policy first: a broken policy stops start-up with its error."""
        policy = settings.policy()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.effective_database_url)
        return cls(
            settings, engine, make_session_factory(engine), policy, BlobStore(settings.blob_dir),
            checkpointer=wal_checkpointer(engine),
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
