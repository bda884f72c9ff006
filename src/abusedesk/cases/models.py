"""Cases: the matter an analyst works, aggregating reports by the policy's key."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_key", "account_id", "category", "resource_key", "status"),
        Index("ix_cases_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(40))
    #: ``kind:value`` of the resource, or ``*`` when the policy key leaves it out
    resource_key: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20), default="new")
    severity: Mapped[str] = mapped_column(String(20))
    report_count: Mapped[int] = mapped_column(default=0)
    reporter_count: Mapped[int] = mapped_column(default=0)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    assignee: Mapped[str | None] = mapped_column(String(128))
    deadline_at: Mapped[datetime | None]

    def ref(self, prefix: str = "AD") -> str:
        """The readable id, ``AD-2026-000123``: derived from the id and the year opened."""
        return format_ref(prefix, self.opened_at.year, self.id)


def format_ref(prefix: str, year: int, case_id: int) -> str:
    return f"{prefix}-{year}-{case_id:06d}"


_REF = re.compile(r"^(?:[A-Za-z]+-)?(?:\d{4}-)?0*(\d+)$")


def parse_ref(text: str) -> int | None:
    """``AD-2026-000123``, ``000123`` or ``123`` → 123; ``None`` if it is none of these."""
    match = _REF.match(text.strip())
    return int(match.group(1)) if match else None


class CaseReporter(Base):
    """Distinct reporters of a case, so the count is exact and cheap."""

    __tablename__ = "case_reporters"
    __table_args__ = (UniqueConstraint("case_id", "reporter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    reporter: Mapped[str] = mapped_column(String(320))
