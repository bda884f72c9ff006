"""``abusedesk feed ...``: import feed files by hand (the watched folder does it unattended)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from abusedesk.terminal import err, open_context, out

feed_app = typer.Typer(help="Feed files: Shadowserver CSVs, XARF, plain IP/URL lists.", no_args_is_help=True)
mail_app = typer.Typer(help="Mail the intake set aside: loops, bounces, automatic mail, replies to cases.", no_args_is_help=True)


@feed_app.command("import")
def feed_import(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="feed files")],
    format: Annotated[str | None, typer.Option("--format", help="skip detection: a format name, e.g. shadowserver or iplist")] = None,
    category: Annotated[str | None, typer.Option("--category", help="for plain lists: the TAXONOMY.md id every entry gets")] = None,
) -> None:
    """Store each file raw, parse it and route its reports; importing the same bytes again is a no-op."""
    from abusedesk.intake.feeds import format_hint, import_feed

    try:
        format_hint(format, category)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    ctx = open_context()
    failed = False
    try:
        for path in paths:
            size = path.stat().st_size
            if size > ctx.settings.max_feed_bytes:
                err.print(f"{escape(str(path))}: [red]too large[/red]: {size} bytes, max_feed_bytes is {ctx.settings.max_feed_bytes}")
                failed = True
                continue
            result = import_feed(ctx, path.read_bytes(), filename=path.name, format=format, category=category)
            if result.quarantined:
                failed = True
                # file names and parser errors quote hostile input: never let it be read as markup
                out.print(f"{escape(str(path))}: [red]quarantined[/red] (raw {result.raw_id}): {escape(result.error or '')}")
                continue
            outcomes: dict[str, int] = {}
            for report in result.reports:
                key = report.outcome or report.status
                outcomes[key] = outcomes.get(key, 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())) or "no reports"
            again = "already imported: " if result.duplicate else ""
            cases = sorted({r.case_ref for r in result.reports if r.case_ref})
            shown = ", ".join(cases[:10]) + (" ..." if len(cases) > 10 else "")
            out.print(f"{escape(str(path))}: {again}raw {result.raw_id}, {len(result.reports)} reports ({summary})" + (f"; cases {shown}" if cases else ""))
    finally:
        ctx.close()
    if failed:
        raise typer.Exit(1)


@mail_app.command("ignored")
def mail_ignored(limit: Annotated[int, typer.Option(help="how many, newest first")] = 50) -> None:
    """Mail that became no report: ignored (loops, bounces, robots) or filed on a case."""
    from abusedesk.intake.flows import list_set_aside
    from abusedesk.timeutil import isoformat_z

    ctx = open_context()
    try:
        with ctx.transaction() as session:
            rows = list_set_aside(session, limit=limit)
            table = Table("raw", "received", "status", "from (envelope)", "why")
            for raw in rows:
                smtp = (raw.meta or {}).get("smtp") or {}
                why = raw.error or (f"case {raw.meta.get('case_id')}" if raw.meta.get("case_id") else "")
                # envelope and reasons quote the sender: never rendered as markup
                table.add_row(str(raw.id), isoformat_z(raw.received_at) or "", raw.status, escape(str(smtp.get("mail_from") or "")), escape(why[:120]))
    finally:
        ctx.close()
    out.print(table)


@mail_app.command("process")
def mail_process(raw_id: Annotated[int, typer.Argument(help="the raw input id (R-<id>)")]) -> None:
    """Override the rules: parse an ignored mail (or correspondence) into reports anyway."""
    from abusedesk.intake.flows import process_anyway

    ctx = open_context()
    try:
        result = process_anyway(ctx, raw_id, actor="cli")
    except LookupError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    if result.quarantined:
        out.print(f"quarantined: {escape(result.error or '')}")
        raise typer.Exit(1)
    for outcome in result.reports:
        out.print(f"report {outcome.report_id} → {outcome.case_ref or outcome.outcome}: {escape(outcome.detail or '')}")
