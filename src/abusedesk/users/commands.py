"""``abusedesk users add|list|disable``: local users of the console and the portal."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from abusedesk.terminal import err, open_context, out

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users_app = typer.Typer(help="Console and portal users (roles: admin, analyst, legal, auditor, customer).", no_args_is_help=True)


@contextmanager
def _transaction() -> Iterator[Session]:
    """One transaction on a fresh context; a :class:`UserError` is printed and exits 1."""
    from abusedesk.users.service import UserError

    ctx = open_context()
    try:
        with ctx.transaction() as session:
            yield session
    except UserError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None
    finally:
        ctx.close()


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
    from abusedesk.users.service import create_user

    password: str | None = None
    if not no_password:
        password = os.environ.get(password_env, "") if password_env else getpass.getpass("password: ")
    with _transaction() as session:
        user = create_user(session, username=username, role=role, password=password, account_id=account, email=email, display_name=name, actor="cli")
        user_id = user.id
    out.print(f"user {username} ({role}) added with id {user_id}")


@users_app.command("list")
def users_list() -> None:
    from abusedesk.timeutil import isoformat_z
    from abusedesk.users.service import list_users

    with _transaction() as session:
        rows = [(u.username, u.role, u.account_id or "", isoformat_z(u.last_login_at) or "", isoformat_z(u.disabled_at) or "") for u in list_users(session)]
    table = Table("user", "role", "account", "last login", "disabled")
    for row in rows:
        table.add_row(*row)
    out.print(table)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user and end all of their sessions at once."""
    from abusedesk.users.service import disable_user

    with _transaction() as session:
        disable_user(session, username, actor="cli")
    out.print(f"user {username} disabled")
