"""``/api/v1/inventory``: accounts, holdings over time, and "who held this then"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlalchemy import select

from abusedesk.audit.service import record
from abusedesk.inventory.models import Account, InventoryResource
from abusedesk.inventory.service import InventoryError, add_resource, end_resource, list_resources
from abusedesk.resources import guess_resource
from abusedesk.timeutil import utcnow
from abusedesk.web.api.schemas import (
    AccountIn,
    AccountOut,
    ErrorOut,
    ResourceEndIn,
    ResourceIn,
    ResourceOut,
    ResourcePage,
    WhoOut,
)
from abusedesk.web.deps import AppContext, DbSession, ReadToken, WriteToken

router = APIRouter(prefix="/api/v1/inventory", tags=["inventory"])


def resource_out(r: InventoryResource) -> ResourceOut:
    return ResourceOut(id=r.id, account=r.account_id, kind=r.kind, value=r.value, valid_from=r.valid_from, valid_to=r.valid_to, state=r.state)


@router.get("/resources", response_model=ResourcePage)
def resources_index(
    session: DbSession, _token: ReadToken,
    account: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ResourcePage:
    rows = list_resources(session, account_id=account, after_id=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ResourcePage(items=[resource_out(r) for r in rows], next_cursor=str(rows[-1].id) if more and rows else None)


@router.post("/resources", status_code=status.HTTP_201_CREATED, response_model=ResourceOut, responses={422: {"model": ErrorOut}})
def resources_add(body: ResourceIn, session: DbSession, token: WriteToken) -> ResourceOut:
    try:
        row = add_resource(session, account_id=body.account, kind=body.kind, value=body.value, valid_from=body.valid_from, actor=f"token:{token.name}")
    except InventoryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return resource_out(row)


@router.post("/resources/{resource_id}/end", response_model=ResourceOut, responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}})
def resources_end(resource_id: Annotated[int, Path(ge=1, le=2**31 - 1)], body: ResourceEndIn, session: DbSession, token: WriteToken) -> ResourceOut:
    if session.get(InventoryResource, resource_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no inventory resource {resource_id}")
    try:
        row = end_resource(session, resource_id=resource_id, valid_to=body.valid_to, actor=f"token:{token.name}")
    except InventoryError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return resource_out(row)


@router.get("/accounts", response_model=list[AccountOut])
def accounts_index(session: DbSession, _token: ReadToken) -> list[AccountOut]:
    rows = session.execute(select(Account).order_by(Account.id).limit(10_000)).scalars()
    return [AccountOut(id=a.id, name=a.name, email=a.email, status=a.status) for a in rows]


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut, responses={409: {"model": ErrorOut}})
def accounts_add(body: AccountIn, session: DbSession, token: WriteToken) -> AccountOut:
    if session.get(Account, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"account {body.id} exists")
    session.add(Account(id=body.id, name=body.name, email=body.email, status=body.status))
    record(session, actor=f"token:{token.name}", action="inventory.account_added", object_type="account", object_id=body.id, data={})
    return AccountOut(**body.model_dump())


@router.get("/who", response_model=WhoOut)
def who(
    session: DbSession, ctx: AppContext, _token: ReadToken,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="an IP, domain, URL or e-mail address")],
    at: datetime | None = None,
) -> WhoOut:
    try:
        resource = guess_resource(q)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    when = at or utcnow()
    holding = ctx.attribution.get(session).lookup(resource, when)
    return WhoOut(
        query=q, at=when, account=holding.account if holding else None,
        holding={"id": holding.resource_id, "kind": holding.kind.value, "value": holding.value, "valid_from": holding.valid_from.isoformat(), "valid_to": holding.valid_to.isoformat() if holding.valid_to else None} if holding else None,
    )
