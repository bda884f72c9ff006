"""The ``abusedesk`` command. Settings are built here, once, and passed down."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from abusedesk.terminal import err, open_context, out

app = typer.Typer(help="abusedesk: enforce an acceptable use policy, from report to decision.", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
inventory_app = typer.Typer(help="Accounts and the resources they held over time.", no_args_is_help=True)
cases_app = typer.Typer(help="Cases.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Inputs that could not be parsed.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(inventory_app, name="inventory")
app.add_typer(cases_app, name="cases")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(audit_app, name="audit")
app.add_typer(tokens_app, name="tokens")
app.add_typer(demo_app, name="demo")



def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


# ----------------------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from abusedesk.migrate import upgrade

    ctx = open_context()
    upgrade(ctx.engine)
    out.print(f"database at {ctx.engine.url.render_as_string(hide_password=True)} is up to date")


# ------------------------------------------------------------------------ inventory


@inventory_app.command("import")
def inventory_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="account,kind,value,valid_from,valid_to")],
    accounts: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="account,name,email,status")] = None,
) -> None:
    """Load holdings (and optionally account details) from CSV."""
    from abusedesk.inventory.csvfiles import InventoryFileError, parse_accounts, parse_resources
    from abusedesk.inventory.service import import_holdings, upsert_accounts

    try:
        holdings = parse_resources(file.read_text("utf-8"), source=str(file))
        account_rows = parse_accounts(accounts.read_text("utf-8"), source=str(accounts)) if accounts else []
    except InventoryFileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    ctx = open_context()
    with ctx.transaction() as session:
        if account_rows:
            upsert_accounts(session, account_rows, actor="cli")
        added = import_holdings(session, holdings, actor="cli")
    out.print(f"{added} holding(s) added, {len(holdings) - added} already known; {len(account_rows)} account(s) updated")


@inventory_app.command("who")
def inventory_who(
    query: Annotated[str, typer.Argument(help="an IP, domain, URL or e-mail address")],
    at: Annotated[str | None, typer.Option(help="ISO 8601 time (default: now)")] = None,
) -> None:
    """Which account held QUERY at a time."""
    from abusedesk.resources import guess_resource
    from abusedesk.timeutil import isoformat_z, parse_timestamp, utcnow

    try:
        resource = guess_resource(query)
        when = parse_timestamp(at) if at else utcnow()
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    ctx = open_context()
    with ctx.transaction() as session:
        holding = ctx.attribution.get(session).lookup(resource, when)
    if holding is None:
        out.print(f"nobody held {resource.kind.value}:{resource.value} at {isoformat_z(when)} (not ours)")
        raise typer.Exit(1)
    until = isoformat_z(holding.valid_to) if holding.valid_to else "now"
    out.print(f"{holding.account}  via {holding.kind.value} {holding.value}  (held {isoformat_z(holding.valid_from)} → {until}, inventory row {holding.resource_id})")


# ---------------------------------------------------------------------- parse/ingest


@app.command("parse")
def parse(
    paths: Annotated[list[Path], typer.Argument(help="files: .eml, .json, .csv ...")],
    format: Annotated[str | None, typer.Option("--format", help="skip detection and use this parser")] = None,
) -> None:
    """Parse files without a database: one JSON line per report found (DESIGN.md contract)."""
    from abusedesk.formats.base import ParseError
    from abusedesk.formats.registry import parse_input

    failed = False
    for path in paths:
        try:
            reports = parse_input(path.read_bytes(), filename=path.name, format=format)
        except (ParseError, OSError) as exc:
            _emit({"path": str(path), "error": str(exc)})
            failed = True
            continue
        except Exception as exc:  # noqa: BLE001 - a parser bug is reported per file, not a crash
            _emit({"path": str(path), "error": f"parser crashed: {type(exc).__name__}: {exc}"})
            failed = True
            continue
        for report in reports:
            _emit(report.contract(str(path)))
    if failed:
        raise typer.Exit(1)


@app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    format: Annotated[str | None, typer.Option("--format", help="skip detection and use this parser")] = None,
) -> None:
    """Store raw, parse, attribute and aggregate; say which case each report joined or why none."""
    from abusedesk.reports.flows import ingest_bytes

    ctx = open_context()
    quarantined = False
    for path in paths:
        result = ingest_bytes(ctx, path.read_bytes(), channel="file", filename=path.name, format=format, actor="cli")
        if result.quarantined:
            quarantined = True
            out.print(f"{escape(str(path))}: [red]quarantined[/red] (raw {result.raw_id}): {escape(result.error or '')}")
            continue
        if result.duplicate and not result.reports:
            out.print(f"{path}: already ingested (raw {result.raw_id})")
        for outcome in result.reports:
            where = outcome.case_ref if outcome.outcome == "case" else outcome.outcome
            again = " (seen before)" if outcome.duplicate else ""
            out.print(f"{escape(str(path))}: report {outcome.report_id} {escape(f'[{outcome.category}]')} → {where}{again}: {escape(outcome.detail or '')}")
    if quarantined:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- cases


@cases_app.command("list")
def cases_list(
    status: Annotated[str | None, typer.Option(help="new, triaged, notified, ...")] = None,
    category: Annotated[str | None, typer.Option(help="a TAXONOMY.md id")] = None,
    account: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Cases, newest first."""
    from abusedesk.cases.service import CaseFilter, list_cases
    from abusedesk.cases.workflow import CaseStatus
    from abusedesk.policy.taxonomy import parse_category

    try:
        if status:
            CaseStatus(status)
        if category:
            parse_category(category)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    ctx = open_context()
    with ctx.transaction() as session:
        rows = list_cases(session, CaseFilter(status=status, category=category, account=account), limit=limit)
    table = Table("case", "status", "severity", "category", "account", "resource", "reports", "reporters", "last seen")
    for c in rows:
        table.add_row(c.ref(ctx.settings.case_id_prefix), c.status, c.severity, c.category, c.account_id, c.resource_key, str(c.report_count), str(c.reporter_count), c.last_seen.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@cases_app.command("show")
def cases_show(case_id: Annotated[str, typer.Argument(help="AD-YYYY-NNNNNN or the number")]) -> None:
    """One case with its reports."""
    from sqlalchemy import select

    from abusedesk.cases.service import get_case
    from abusedesk.reports.models import Report
    from abusedesk.timeutil import isoformat_z

    ctx = open_context()
    with ctx.transaction() as session:
        case = get_case(session, case_id)
        if case is None:
            err.print(f"[red]no case {case_id}[/red]")
            raise typer.Exit(1)
        reports = list(session.execute(select(Report).where(Report.case_id == case.id).order_by(Report.received_at).limit(200)).scalars())
    out.print(f"[bold]{case.ref(ctx.settings.case_id_prefix)}[/bold]  {case.category}  [{case.severity}]  status {case.status}")
    out.print(f"account {case.account_id}  resource {case.resource_key}")
    out.print(f"{case.report_count} report(s) from {case.reporter_count} reporter(s); first {isoformat_z(case.first_seen)}, last {isoformat_z(case.last_seen)}")
    for r in reports:
        out.print(f"  {r.id}  {isoformat_z(r.occurred_at) or '-'}  {r.source_format}  {r.reporter_email or r.reporter_name or '?'}  {r.summary[:80]}", markup=False)


# ----------------------------------------------------------------------- quarantine


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Inputs waiting for a fix, with their errors."""
    from abusedesk.intake.service import list_quarantine
    from abusedesk.timeutil import isoformat_z

    ctx = open_context()
    with ctx.transaction() as session:
        rows = list_quarantine(session)
    table = Table("id", "received", "channel", "file", "size", "attempts", "error")
    for raw in rows:
        table.add_row(str(raw.id), isoformat_z(raw.received_at) or "", raw.channel, escape(raw.filename or ""), str(raw.size), str(raw.attempts), escape((raw.error or "")[:120]))
    out.print(table)


@quarantine_app.command("retry")
def quarantine_retry(raw_id: Annotated[int, typer.Argument()]) -> None:
    """Parse a quarantined input again (after a parser fix)."""
    from abusedesk.reports.flows import retry_raw

    ctx = open_context()
    try:
        result = retry_raw(ctx, raw_id, actor="cli")
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    if result.quarantined:
        out.print(f"still quarantined: {escape(result.error or '')}")
        raise typer.Exit(1)
    for outcome in result.reports:
        out.print(f"report {outcome.report_id} → {outcome.case_ref or outcome.outcome}: {escape(outcome.detail or '')}")


# ---------------------------------------------------------------------------- audit


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the whole chain; name the first broken link."""
    from abusedesk.audit.service import verify

    ctx = open_context()
    with ctx.transaction() as session:
        result = verify(session)
    if result.ok:
        out.print(f"audit chain intact: {result.checked} event(s)")
        return
    out.print(f"[red]audit chain broken at event {result.broken_id}: {result.reason}[/red] ({result.checked} event(s) verified before it)")
    raise typer.Exit(1)


# --------------------------------------------------------------------------- tokens


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument()],
    read_only: Annotated[bool, typer.Option("--read-only", help="only the read scope")] = False,
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    from abusedesk.users.service import create_token

    ctx = open_context()
    with ctx.transaction() as session:
        token, _row = create_token(session, name=name, scopes=("read",) if read_only else ("read", "write"), actor="cli")
    sys.stdout.write(token + "\n")


@tokens_app.command("list")
def tokens_list() -> None:
    from abusedesk.timeutil import isoformat_z
    from abusedesk.users.service import list_tokens

    ctx = open_context()
    with ctx.transaction() as session:
        rows = list_tokens(session)
    table = Table("id", "name", "prefix", "scopes", "created", "revoked")
    for t in rows:
        table.add_row(str(t.id), t.name, t.prefix + "…", t.scopes, isoformat_z(t.created_at) or "", isoformat_z(t.revoked_at) or "")
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument()]) -> None:
    from abusedesk.users.service import revoke_token

    ctx = open_context()
    try:
        with ctx.transaction() as session:
            revoke_token(session, token_id, actor="cli")
    except LookupError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    out.print(f"token {token_id} revoked")


# ----------------------------------------------------------------------------- demo


@demo_app.command("load")
def demo_load() -> None:
    """Load the demo inventory and reports (idempotent)."""
    from abusedesk.demo.loader import load_demo

    ctx = open_context()
    for line in load_demo(ctx):
        out.print(line)


# ---------------------------------------------------------------------------- serve


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="default: settings (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="default: settings (8000)")] = None,
) -> None:
    """Run the web UI, the REST API and the background worker."""
    import uvicorn

    from abusedesk.web.app import create_app

    ctx = open_context()
    application = create_app(ctx)
    uvicorn.run(application, host=host or ctx.settings.host, port=port or ctx.settings.port, log_level="info")


# commands of other domains

from abusedesk.detection.commands import detect  # noqa: E402

app.command("detect")(detect)

from abusedesk.users.commands import users_app  # noqa: E402

app.add_typer(users_app, name="users")

from abusedesk.intake.commands import feed_app  # noqa: E402

app.add_typer(feed_app, name="feed")

from abusedesk.enforcement.commands import actions_app, export_app  # noqa: E402

app.add_typer(export_app, name="export")
app.add_typer(actions_app, name="actions")

from abusedesk.intake.commands import mail_app  # noqa: E402

app.add_typer(mail_app, name="mail")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
