"""Enforcement tables: actions, decision records, strikes, holds, counter-notices, mandated reports.

A decision record stores the DSA Art. 17(3) statement-of-reasons facts natively, so the
customer notice, an appeal and the Transparency Database export are all views over one row.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class ActionState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLIED = "applied"
    FAILED = "failed"
    REVERTED = "reverted"


class TargetKind(StrEnum):
    """What an action points at; the first three are checked against the inventory."""

    IP = "ip"
    URL = "url"
    DOMAIN = "domain"
    ACCOUNT = "account"


class EnforcementAction(Base):
    __tablename__ = "enforcement_actions"
    __table_args__ = (Index("ix_enforcement_actions_account_state", "account_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(30))
    target_kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(600))
    #: adapter parameters, e.g. {"port": "tcp/25"}
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default=ActionState.PROPOSED.value)
    dry_run: Mapped[bool] = mapped_column(default=False)
    adapter: Mapped[str] = mapped_column(String(40), default="builtin")
    reason: Mapped[str] = mapped_column(Text, default="")
    #: True when no person decided (the playbook did); drives DSA ``automated_decision``
    automated: Mapped[bool] = mapped_column(default=False)
    approvals_required: Mapped[int] = mapped_column(default=1)
    #: the distinct people who approved (a person proposing counts as the first)
    approvals: Mapped[list[Any]] = mapped_column(default=list)
    proposed_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    #: for ``restore``: the action whose effect it undoes
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_actions.id"))
    ends_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    applied_at: Mapped[datetime | None]
    reverted_at: Mapped[datetime | None]


class DecisionRecord(Base):
    """One restriction's statement of reasons (DSA Art. 17(3) a-f)."""

    __tablename__ = "decision_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: platform unique id for the Transparency Database; never reused
    puid: Mapped[str] = mapped_column(String(200), unique=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("enforcement_actions.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    account_id: Mapped[str] = mapped_column(String(128), index=True)
    category: Mapped[str] = mapped_column(String(40))
    # (a) the restriction, its scope and duration
    restriction: Mapped[str] = mapped_column(Text)
    decision_visibility: Mapped[list[Any]] = mapped_column(default=list)
    decision_provision: Mapped[str | None] = mapped_column(String(60))
    decision_account: Mapped[str | None] = mapped_column(String(60))
    territorial_scope: Mapped[list[Any]] = mapped_column(default=list)
    end_date: Mapped[date | None] = mapped_column(Date)
    # (b) facts, and whether from a notice or our own initiative
    facts: Mapped[str] = mapped_column(Text)
    source_type: Mapped[str] = mapped_column(String(40))
    source_identity: Mapped[str | None] = mapped_column(String(500))
    # (c) automated means
    automated_detection: Mapped[bool] = mapped_column(default=False)
    automated_decision: Mapped[str] = mapped_column(String(40))
    # (d)/(e) ground: the policy clause relied on
    ground: Mapped[str] = mapped_column(String(40))
    clause: Mapped[str] = mapped_column(Text)
    #: the law relied on, for illegal-content decisions (Art. 17(3)(d))
    legal_ground: Mapped[str | None] = mapped_column(String(500))
    explanation: Mapped[str] = mapped_column(Text)
    tdb_category: Mapped[str] = mapped_column(String(80))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    content_type: Mapped[list[Any]] = mapped_column(default=list)
    # (f) redress
    redress: Mapped[str] = mapped_column(Text)
    content_date: Mapped[date] = mapped_column(Date)
    application_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Strike(Base):
    """One recorded breach of an account; counts toward the ladder until it decays."""

    __tablename__ = "strikes"
    __table_args__ = (
        UniqueConstraint("case_id", "reason"),
        Index("ix_strikes_account_category_expires", "account_id", "category", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    #: why: ``opened``, ``deadline:1`` ... unique per case, so repeating a step adds nothing
    reason: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class PreservationHold(Base):
    """Evidence of a case that must not be deleted before ``until`` (e.g. 18 USC 2258A(h))."""

    __tablename__ = "preservation_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    sha256s: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MandatedReportState(StrEnum):
    PENDING = "pending"
    RECORDED = "recorded"  # kept here only: the default adapter submits nothing
    SUBMITTED = "submitted"
    FAILED = "failed"


class MandatedReport(Base):
    """The report the law requires (CSAM: 18 USC 2258A CyberTipline) and its submission state."""

    __tablename__ = "mandated_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    recipient: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default=MandatedReportState.PENDING.value)
    adapter: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]


class CounterNoticeState(StrEnum):
    INCOMPLETE = "incomplete"
    ACCEPTED = "accepted"  # restore scheduled
    SUIT_FILED = "suit_filed"  # complainant reported a suit: no restore
    RESTORED = "restored"


class CounterNotice(Base):
    """A DMCA 512(g)(3) counter-notice and the restore it schedules."""

    __tablename__ = "counter_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    missing: Mapped[list[Any]] = mapped_column(default=list)
    state: Mapped[str] = mapped_column(String(20))
    restore_earliest: Mapped[datetime | None]
    restore_latest: Mapped[datetime | None]
    submitted_by: Mapped[str] = mapped_column(String(200))
