"""Accounts and the resources they held, each over a validity interval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class Account(Base):
    """A customer. ``status`` mirrors enforcement: active, suspended, terminated."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    resources: Mapped[list[InventoryResource]] = relationship(back_populates="account", lazy="raise")


class InventoryResource(Base):
    """One holding: ``account`` held ``kind:value`` from ``valid_from`` until ``valid_to``.

    Rows are never rewritten when an address moves: the old row gets a ``valid_to`` and a
    new row starts, so attribution of old reports stays true.
    """

    __tablename__ = "inventory_resources"
    __table_args__ = (Index("ix_inventory_resources_kind_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    #: resource state set by enforcement (active, disabled, blocked...)
    state: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="resources", lazy="raise")


class InventoryGeneration(Base):
    """A counter bumped by every inventory change, so caches know when to rebuild."""

    __tablename__ = "inventory_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(default=0)
