"""``abusedesk users add|list|disable``: local users of the console and the portal."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from abusedesk.config import Settings

users_app = typer.Typer(help="Console and portal users (roles: admin, analyst, legal, auditor, customer).", no_args_is_help=True)
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)


def _context() -> object:
    from abusedesk.context import Context

    return Context.create(Settings())


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="admin, analyst, legal, auditor or customer")],
    account: Annotated[str | None, typer.Option(help="the account of a customer user")] = None,
    email: Annotated[str, typer.Option()] = "",
    name: Annotated[str, typer.Option(help="display name")] = "",
    password_env: Annotated[str | None, typer.Option(help="read the password from this environment variable instead of a prompt")] = None,
    no_password: Annotated[bool, typer.Option("--no-password", help="OIDC-only user")] = False,
) -> None:
    """Add a user; the password is prompted for (never an argument: it would land in shell history)."""
    from abusedesk.context import Context
    from abusedesk.users.service import UserError, create_user

    password: str | None = None
    if not no_password:
        password = os.environ.get(password_env, "") if password_env else getpass.getpass("password: ")
    ctx = _context()
    assert isinstance(ctx, Context)
    try:
        with ctx.transaction() as session:
            user = create_user(session, username=username, role=role, password=password, account_id=account, email=email, display_name=name, actor="cli")
            user_id = user.id
    except UserError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    out.print(f"user {username} ({role}) added with id {user_id}")


@users_app.command("list")
def users_list() -> None:
    from abusedesk.context import Context
    from abusedesk.timeutil import isoformat_z
    from abusedesk.users.service import list_users

    ctx = _context()
    assert isinstance(ctx, Context)
    with ctx.transaction() as session:
        rows = [(u.username, u.role, u.account_id or "", isoformat_z(u.last_login_at) or "", isoformat_z(u.disabled_at) or "") for u in list_users(session)]
    ctx.close()
    table = Table("user", "role", "account", "last login", "disabled")
    for row in rows:
        table.add_row(*row)
    out.print(table)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end all of their sessions at once."""
    from abusedesk.context import Context
    from abusedesk.users.service import UserError, disable_user

    ctx = _context()
    assert isinstance(ctx, Context)
    try:
        with ctx.transaction() as session:
            disable_user(session, username, actor="cli")
    except UserError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        ctx.close()
    out.print(f"user {username} disabled")
