"""Builders for enforcement and notice tests: inventory with contacts, ingest, run jobs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from abusedesk.audit.models import AuditEvent
from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.enforcement.models import EnforcementAction
from abusedesk.inventory.models import Account
from abusedesk.jobs.handlers import default_handlers
from abusedesk.jobs.worker import Worker
from abusedesk.notices.transport import RecordingTransport
from abusedesk.reports.flows import ingest_bytes
from tests.helpers import load_inventory

CONTACTS = {"acme": "noc@acme.example", "before": "ops@before.example", "after": "ops@after.example", "shop": "admin@shop.example"}


def setup(ctx: Context) -> RecordingTransport:
    """Inventory of tests.helpers with contact addresses, and a recording mail transport."""
    load_inventory(ctx)
    with ctx.transaction() as session:
        for account in session.execute(select(Account)).scalars():
            account.email = CONTACTS.get(account.id, "")
            account.name = account.id.title()
    transport = RecordingTransport()
    ctx.mail_transport = transport
    return transport


def report(category: str, *, source: str | None = "192.0.2.10", at: str = "2026-11-20T10:00:00Z", reporter: str = "victim@mailbox.example", **extra: Any) -> bytes:
    body: dict[str, Any] = {"category": category, "occurred_at": at, "reporter": {"email": reporter, "name": "Vic Tim"}, "summary": "test"}
    if source is not None:
        body["source"] = source
    body.update(extra)
    return json.dumps(body).encode()


def ingest(ctx: Context, data: bytes, *, channel: str = "api") -> int:
    result = ingest_bytes(ctx, data, channel=channel)
    [outcome] = result.reports
    assert outcome.case_id is not None, outcome
    return outcome.case_id


def work(ctx: Context) -> int:
    return Worker(ctx, default_handlers(), name="test-worker").run_until_idle()


def case(ctx: Context, case_id: int) -> Case:
    with ctx.transaction() as session:
        found = session.get(Case, case_id)
        assert found is not None
        session.expunge(found)
        return found


def actions(ctx: Context, case_id: int) -> list[EnforcementAction]:
    with ctx.transaction() as session:
        rows = list(session.execute(select(EnforcementAction).where(EnforcementAction.case_id == case_id).order_by(EnforcementAction.id)).scalars())
        session.expunge_all()
        return rows


def audit_count(ctx: Context, action: str, object_id: int | str | None = None) -> int:
    with ctx.transaction() as session:
        query = select(func.count(AuditEvent.id)).where(AuditEvent.action == action)
        if object_id is not None:
            query = query.where(AuditEvent.object_id == str(object_id))
        return int(session.execute(query).scalar_one())
