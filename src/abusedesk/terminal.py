"""What every command-line module shares: the consoles and opening a context.

One place, so a policy error reads the same from every command and piped output is
never wrapped at 80 columns (scripts grep it).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from abusedesk.config import Settings
from abusedesk.policy.loader import PolicyError

if TYPE_CHECKING:
    from abusedesk.context import Context

out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False)


def open_context() -> Context:
    """Settings from the environment, validated policy, engine; exit 2 on a bad policy."""
    from abusedesk.context import Context  # imported late: keeps ``abusedesk --help`` fast

    try:
        return Context.create(Settings())
    except PolicyError as exc:
        err.print(f"[red]policy error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
