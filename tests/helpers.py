"""Small builders shared by tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from abusedesk.context import Context
from abusedesk.inventory.csvfiles import parse_resources
from abusedesk.inventory.service import import_holdings

INVENTORY = """account,kind,value,valid_from,valid_to
acme,cidr,192.0.2.0/24,2020-01-01T00:00:00Z,
before,ip,198.51.100.7,2020-01-01T00:00:00Z,2026-06-01T12:00:00Z
after,ip,198.51.100.7,2026-06-01T12:00:00Z,
shop,domain,shop.example,2020-01-01T00:00:00Z,
"""


def load_inventory(ctx: Context, text: str = INVENTORY) -> None:
    with ctx.transaction() as session:
        import_holdings(session, parse_resources(text), actor="test")


def own_report(category: str = "email.spam", source: str = "192.0.2.10", at: str = "2026-11-01T10:00:00Z", reporter: str = "r@reporter.example", **extra: Any) -> bytes:
    body = {"category": category, "source": source, "occurred_at": at, "reporter": {"email": reporter, "name": "R"}, "summary": "test"}
    body.update(extra)
    return json.dumps(body).encode()


def xarf_v4(source: str = "192.0.2.10", at: str = "2026-11-01T10:00:00Z", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "xarf_version": "4.2.0",
        "report_id": str(uuid.uuid4()),
        "timestamp": at,
        "reporter": {"org": "Honeypot", "contact": "hp@honeypot.example", "domain": "honeypot.example"},
        "sender": {"org": "Honeypot", "contact": "hp@honeypot.example", "domain": "honeypot.example"},
        "source_identifier": source,
        "source_port": 40000,
        "category": "connection",
        "type": "login_attack",
        "first_seen": at,
        "protocol": "tcp",
    }
    body.update(overrides)
    return body
