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
    from abusedesk.enforcement.statements import StatementError, dumps, export_statements
    from abusedesk.terminal import open_context

    ctx = open_context()
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


actions_app = typer.Typer(help="Enforcement actions: list, propose, approve, lift.", no_args_is_help=True)
ActorOption = Annotated[str, typer.Option("--as", help="who does this (your login); recorded in the audit log")]


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@actions_app.command("list")
def actions_list(
    case: Annotated[str | None, typer.Option(help="AD-YYYY-NNNNNN or the number")] = None,
    state: Annotated[str | None, typer.Option(help="proposed, approved, applied, failed, reverted")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Actions, newest first."""
    from sqlalchemy import select

    from abusedesk.cases.service import get_case
    from abusedesk.enforcement.models import EnforcementAction
    from abusedesk.terminal import open_context, out

    ctx = open_context()
    with ctx.transaction() as session:
        query = select(EnforcementAction).order_by(EnforcementAction.id.desc()).limit(limit)
        if case:
            found = get_case(session, case)
            if found is None:
                raise _fail(f"no case {case}")
            query = query.where(EnforcementAction.case_id == found.id)
        if state:
            query = query.where(EnforcementAction.state == state)
        rows = list(session.execute(query).scalars())
    for a in rows:
        out.print(f"{a.id:>6}  {a.state:<9} {a.kind:<18} {a.target_kind}:{a.target}  case {a.case_id or '-'}  by {a.proposed_by}  approvals {len(a.approvals)}/{a.approvals_required}{'  DRY RUN' if a.dry_run else ''}", markup=False)


@actions_app.command("propose")
def actions_propose(
    case: Annotated[str, typer.Argument(help="AD-YYYY-NNNNNN or the number")],
    kind: Annotated[str, typer.Argument(help="restrict_port, block_ip, disable_url, disable_resource, suspend_account, terminate_account, remove_content")],
    actor: ActorOption,
    reason: Annotated[str, typer.Option(help="why; goes into the statement of reasons")],
    target: Annotated[str | None, typer.Option(help="ip, url or domain; default: what the playbook would pick")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only show what would happen")] = False,
) -> None:
    """Propose (and, for one-person kinds, approve) an action on a case."""
    from abusedesk.cases.service import get_case
    from abusedesk.enforcement.flows import decide
    from abusedesk.enforcement.service import EnforcementError
    from abusedesk.resources import guess_resource
    from abusedesk.terminal import open_context

    ctx = open_context()
    try:
        with ctx.transaction() as session:
            found = get_case(session, case)
            if found is None:
                raise _fail(f"no case {case}")
            resource = guess_resource(target) if target else None
            action = decide(
                ctx, session, found, kind, actor=actor, reason=reason, dry_run=dry_run,
                target_kind=resource.kind.value if resource else None, target=resource.value if resource else None,
            )
            summary = f"action {action.id}: {action.kind} {action.target_kind}:{action.target} is {action.state}"
            if dry_run:
                summary += f" (dry run: {action.result.get('detail')})"
            elif action.state == "proposed":
                summary += f"; needs {action.approvals_required - len(action.approvals)} more approval(s) by another person"
    except (EnforcementError, ValueError) as exc:
        raise _fail(f"refused: {exc}") from None
    typer.echo(summary)


@actions_app.command("approve")
def actions_approve(action_id: Annotated[int, typer.Argument()], actor: ActorOption) -> None:
    """Approve a proposed action (two people for the kinds the settings name)."""
    from abusedesk.enforcement.service import EnforcementError, approve
    from abusedesk.terminal import open_context

    ctx = open_context()
    try:
        with ctx.transaction() as session:
            action = approve(ctx, session, action_id, actor=actor)
            state = action.state
    except EnforcementError as exc:
        raise _fail(f"refused: {exc}") from None
    typer.echo(f"action {action_id} is {state}")


@actions_app.command("lift")
def actions_lift(action_id: Annotated[int, typer.Argument()], actor: ActorOption, reason: Annotated[str, typer.Option()]) -> None:
    """Undo an applied restriction (a restore action, applied by the worker)."""
    from abusedesk.enforcement.service import EnforcementError, lift
    from abusedesk.terminal import open_context

    ctx = open_context()
    try:
        with ctx.transaction() as session:
            restore = lift(ctx, session, action_id, actor=actor, reason=reason)
            restore_id = restore.id
    except EnforcementError as exc:
        raise _fail(f"refused: {exc}") from None
    typer.echo(f"restore action {restore_id} queued for action {action_id}")
