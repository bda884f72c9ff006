"""Demo data for ``make run``: a small inventory (one IP changed hands) and a few reports."""

from __future__ import annotations

from importlib import resources

from abusedesk.context import Context
from abusedesk.inventory.csvfiles import parse_accounts, parse_resources
from abusedesk.inventory.service import import_holdings, upsert_accounts
from abusedesk.reports.flows import ingest_bytes
from abusedesk.users.service import create_user, get_user

#: local demo only (the server listens on 127.0.0.1); never use these elsewhere
DEMO_PASSWORD = "demo-password"  # noqa: S105
DEMO_USERS = (("admin", "admin", None), ("analyst", "analyst", None), ("legal", "legal", None), ("umbrella-ops", "customer", "umbrella"))


def load_demo(ctx: Context) -> list[str]:
    base = resources.files("abusedesk.demo")
    lines: list[str] = []
    with ctx.transaction() as session:
        upsert_accounts(session, parse_accounts(base.joinpath("accounts.csv").read_text("utf-8")), actor="demo")
        added = import_holdings(session, parse_resources(base.joinpath("inventory.csv").read_text("utf-8")), actor="demo")
    lines.append(f"inventory: {added} holding(s) added")
    with ctx.transaction() as session:
        for username, role, account in DEMO_USERS:
            if get_user(session, username) is None:
                create_user(session, username=username, role=role, password=DEMO_PASSWORD, account_id=account, actor="demo")
    lines.append(f"users: {', '.join(u for u, _, _ in DEMO_USERS)} (password {DEMO_PASSWORD!r}, demo only)")
    folder = base.joinpath("reports")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.is_file():
            continue
        result = ingest_bytes(ctx, entry.read_bytes(), channel="file", filename=entry.name, actor="demo")
        for outcome in result.reports:
            where = outcome.case_ref or outcome.outcome
            lines.append(f"{entry.name}: {where}{' (already loaded)' if outcome.duplicate else ''}")
        if result.quarantined:
            lines.append(f"{entry.name}: quarantined: {result.error}")
    return lines
