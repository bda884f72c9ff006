"""``abusedesk export statements``: decision records as DSA Transparency Database JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

export_app = typer.Typer(help="Export records for regulators and partners.", no_args_is_help=True)


@export_app.command("statements")
def export_statements_command(
    out: Annotated[Path | None, typer.Option("--out", help="write here instead of standard output")] = None,
) -> None:
    """Every decision record as {"statements": [...]} for the Transparency Database API.

    Validated before anything is written: a statement that would be refused (a missing
    field, a wrong enum, personal data in decision_facts) stops the export with its puid
    and the field, exit status 1.
    """
    from abusedesk.cli import _context
    from abusedesk.enforcement.statements import StatementError, dumps, export_statements

    ctx = _context()
    try:
        with ctx.transaction() as session:
            document = export_statements(session)
    except StatementError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    text = dumps(document)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{len(document['statements'])} statement(s) written to {out}", err=True)
