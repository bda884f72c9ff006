"""Tables the console and the portal own: notes, correspondence, appeals.

Counter-notices are the enforcement domain's (``enforcement.models.CounterNotice``).

Case references are plain ids (``case_id``) with a foreign key only to ``cases``; decision
and action ids of the enforcement domain are kept as strings so the two schema branches
(``0002_web`` and ``0002_enforcement``) stay independent.

The extra indexes on ``cases`` live here too: they exist for the console's sortable,
keyset-paginated queue, one ``(sort key, id)`` index per sortable column.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.cases.models import Case
from abusedesk.db import Base
from abusedesk.timeutil import utcnow

#: severity as a number, so "sort by severity" means critical first, not alphabetical.
#: Written as literal SQL so the query expression matches the index expression exactly.
SEVERITY_RANK_SQL = "(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)"
ASSIGNEE_SORT_SQL = "(COALESCE(assignee, ''))"

#: sortable column → index; each index ends in ``id`` so the keyset cursor is index-backed
QUEUE_INDEXES: dict[str, Index] = {
    "opened_at": Index("ix_cases_opened_at_id", Case.opened_at, Case.id),
    "updated_at": Index("ix_cases_updated_at_id", Case.updated_at, Case.id),
    "last_seen": Index("ix_cases_last_seen_id", Case.last_seen, Case.id),
    "first_seen": Index("ix_cases_first_seen_id", Case.first_seen, Case.id),
    "report_count": Index("ix_cases_report_count_id", Case.report_count, Case.id),
    "reporter_count": Index("ix_cases_reporter_count_id", Case.reporter_count, Case.id),
    "category": Index("ix_cases_category_id", Case.category, Case.id),
    "account": Index("ix_cases_account_id_id", Case.account_id, Case.id),
    "resource": Index("ix_cases_resource_key_id", Case.resource_key, Case.id),
    "severity": Index("ix_cases_severity_rank_id", text(SEVERITY_RANK_SQL), Case.id),
    "assignee": Index("ix_cases_assignee_sort_id", text(ASSIGNEE_SORT_SQL), Case.id),
    "status_last_seen": Index("ix_cases_status_last_seen_id", Case.status, Case.last_seen, Case.id),
    "assignee_filter": Index("ix_cases_assignee_id", Case.assignee, Case.id),
}


class CaseNote(Base):
    """An analyst's internal note; never shown to customers or reporters."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageKind:
    REPLY = "reply"  # the customer writes
    REMEDIATED = "remediated"  # the customer says it is fixed, with evidence
    ANALYST = "analyst"  # the desk writes to the customer


class CaseMessage(Base):
    """Correspondence with the customer on a case, written through the portal or the console.

    ``evidence_sha256`` points into the blob store when the customer attached a file.
    """

    __tablename__ = "case_messages"
    __table_args__ = (Index("ix_case_messages_case_created", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    account_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_filename: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AppealStatus:
    OPEN = "open"
    UPHELD = "upheld"  # the decision stands
    REVERSED = "reversed"  # the decision was wrong and is undone


class Appeal(Base):
    """A DSA Art. 20 complaint against a decision: free, electronic, decided by a person.

    ``decision_ref`` names what is appealed (an enforcement decision id, or ``case:<id>``
    while decisions are not recorded separately).
    """

    __tablename__ = "portal_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    decision_ref: Mapped[str] = mapped_column(String(100))
    grounds: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=AppealStatus.OPEN)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
