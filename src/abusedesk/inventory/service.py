"""Inventory database work: accounts, holdings over time, and the attribution cache."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.db import insert_rows
from abusedesk.inventory.csvfiles import AccountRow
from abusedesk.inventory.index import AttributionIndex, Holding, InventoryKind, canonical_network
from abusedesk.inventory.models import Account, InventoryGeneration, InventoryResource
from abusedesk.timeutil import utcnow


class InventoryError(ValueError):
    """A change the inventory refuses, with the reason."""


def bump_generation(session: Session) -> None:
    updated = session.execute(update(InventoryGeneration).where(InventoryGeneration.id == 1).values(generation=InventoryGeneration.generation + 1))
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.add(InventoryGeneration(id=1, generation=1))


def current_generation(session: Session) -> int:
    value = session.execute(select(InventoryGeneration.generation).where(InventoryGeneration.id == 1)).scalar_one_or_none()
    return value or 0


def upsert_accounts(session: Session, rows: Iterable[AccountRow], *, actor: str) -> int:
    count = 0
    existing = {a.id: a for a in session.execute(select(Account)).scalars()}
    for row in rows:
        account = existing.get(row.account)
        if account is None:
            account = Account(id=row.account, name=row.name, email=row.email, status=row.status)
            session.add(account)
            existing[row.account] = account
        else:
            account.name, account.email, account.status = row.name or account.name, row.email or account.email, row.status
        count += 1
    record(session, actor=actor, action="inventory.accounts_imported", object_type="inventory", object_id="accounts", data={"count": count})
    return count


def ensure_accounts(session: Session, account_ids: Iterable[str]) -> None:
    wanted = set(account_ids)
    if not wanted:
        return
    have = set(session.execute(select(Account.id).where(Account.id.in_(wanted))).scalars())
    for account_id in sorted(wanted - have):
        session.add(Account(id=account_id, name=account_id))
    session.flush()


def import_holdings(session: Session, holdings: Sequence[Holding], *, actor: str) -> int:
    """Add holdings; an identical row (account, kind, value, valid_from) is skipped."""
    ensure_accounts(session, (h.account for h in holdings))
    seen = {
        (r.account_id, r.kind, r.value, r.valid_from)
        for r in session.execute(select(InventoryResource)).scalars()
    }
    rows = []
    for h in holdings:
        key = (h.account, h.kind.value, h.value, h.valid_from)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"account_id": h.account, "kind": h.kind.value, "value": h.value, "valid_from": h.valid_from, "valid_to": h.valid_to, "state": "active", "created_at": utcnow()})
    if rows:
        insert_rows(session, InventoryResource, rows)
    bump_generation(session)
    record(session, actor=actor, action="inventory.imported", object_type="inventory", object_id="resources", data={"added": len(rows), "skipped": len(holdings) - len(rows)})
    return len(rows)


def add_resource(
    session: Session, *, account_id: str, kind: str, value: str, valid_from: datetime | None, actor: str
) -> InventoryResource:
    try:
        inventory_kind = InventoryKind(kind)
        canonical = canonical_network(inventory_kind, value)
    except ValueError as exc:
        raise InventoryError(str(exc)) from None
    if session.get(Account, account_id) is None:
        raise InventoryError(f"unknown account {account_id!r}")
    resource = InventoryResource(account_id=account_id, kind=inventory_kind.value, value=canonical, valid_from=valid_from or utcnow(), valid_to=None)
    session.add(resource)
    session.flush()
    bump_generation(session)
    record(session, actor=actor, action="inventory.resource_added", object_type="inventory_resource", object_id=resource.id, data={"account": account_id, "kind": kind, "value": canonical})
    return resource


def end_resource(session: Session, *, resource_id: int, valid_to: datetime | None, actor: str) -> InventoryResource:
    resource = session.get(InventoryResource, resource_id)
    if resource is None:
        raise InventoryError(f"no inventory resource {resource_id}")
    end = valid_to or utcnow()
    if resource.valid_to is not None:
        raise InventoryError(f"resource {resource_id} already ended at {resource.valid_to.isoformat()}")
    if end <= resource.valid_from:
        raise InventoryError("valid_to must be after valid_from")
    resource.valid_to = end
    bump_generation(session)
    record(session, actor=actor, action="inventory.resource_ended", object_type="inventory_resource", object_id=resource.id, data={"valid_to": end.isoformat()})
    return resource


def list_resources(
    session: Session, *, account_id: str | None = None, after_id: int = 0, limit: int = 100
) -> list[InventoryResource]:
    query = select(InventoryResource).where(InventoryResource.id > after_id).order_by(InventoryResource.id).limit(limit)
    if account_id:
        query = query.where(InventoryResource.account_id == account_id)
    return list(session.execute(query).scalars())


def load_index(session: Session) -> AttributionIndex:
    index = AttributionIndex()
    rows = session.execute(
        select(InventoryResource.id, InventoryResource.account_id, InventoryResource.kind, InventoryResource.value, InventoryResource.valid_from, InventoryResource.valid_to)
    )
    for rid, account, kind, value, valid_from, valid_to in rows:
        index.add(Holding(account, InventoryKind(kind), value, valid_from, valid_to, rid))
    return index


@dataclass
class AttributionCache:
    """The index for the current inventory generation, rebuilt only when it changed."""

    _index: AttributionIndex | None = None
    _generation: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, session: Session) -> AttributionIndex:
        generation = current_generation(session)
        with self._lock:
            if self._index is None or generation != self._generation:
                self._index = load_index(session)
                self._generation = generation
            return self._index
