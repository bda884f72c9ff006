"""Reports: one complaint about one matter, normalized, attributed, joined to a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class ReportStatus:
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"


class Outcome:
    CASE = "case"
    NOT_OURS = "not_ours"
    NO_ACTION = "no_action"
    NEED_MORE_INFORMATION = "need_more_information"
    ACTIONED = "actioned"
    CONTENT_GONE = "content_gone"


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_case_id_received", "case_id", "received_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    raw_id: Mapped[int] = mapped_column(ForeignKey("raw_inputs.id"), index=True)
    index_in_raw: Mapped[int] = mapped_column(default=0)
    #: sender's report id when it has one, else raw hash + position: re-ingest is a no-op
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    source_format: Mapped[str] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40), index=True)
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    reporter_email: Mapped[str | None] = mapped_column(String(320))
    reporter_name: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[Any]] = mapped_column(default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    automated: Mapped[bool] = mapped_column(default=False)
    confidence: Mapped[float | None] = mapped_column(Float)
    no_complaint: Mapped[bool] = mapped_column(default=False)

    status: Mapped[str] = mapped_column(String(20), default=ReportStatus.QUEUED, index=True)
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_detail: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[str | None] = mapped_column(String(128), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    #: what attribution matched: ``kind:value`` of the report and the inventory row id
    attributed_resource: Mapped[str | None] = mapped_column(String(400))
    inventory_resource_id: Mapped[int | None]
    completed_at: Mapped[datetime | None]
