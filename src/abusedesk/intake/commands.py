"""``abusedesk feed ...``: import feed files by hand (the watched folder does it unattended)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from abusedesk.config import Settings
from abusedesk.policy.loader import PolicyError

feed_app = typer.Typer(help="Feed files: Shadowserver CSVs, XARF, plain IP/URL lists.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@feed_app.command("import")
def feed_import(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="feed files")],
    format: Annotated[str | None, typer.Option("--format", help="skip detection: a format name, e.g. shadowserver or iplist")] = None,
    category: Annotated[str | None, typer.Option("--category", help="for plain lists: the TAXONOMY.md id every entry gets")] = None,
) -> None:
    """Store each file raw, parse it and route its reports; importing the same bytes again is a no-op."""
    from abusedesk.context import Context
    from abusedesk.intake.feeds import format_hint, import_feed

    try:
        format_hint(format, category)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    try:
        ctx = Context.create(Settings())
    except PolicyError as exc:
        err.print(f"[red]policy error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
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
