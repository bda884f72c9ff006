"""Shapes of the REST API v1: what clients see, independent of the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ProblemOut(BaseModel):
    path: str = Field(description="JSON Pointer to the offending field")
    code: str = Field(description="stable, append-only error code")
    message: str


class ErrorOut(BaseModel):
    message: str
    errors: list[ProblemOut] = []


class SubmissionOut(BaseModel):
    id: str = Field(description="the report id; poll GET /api/v1/reports/{id}")
    ids: list[str] = Field(description="all report ids of this submission (a batch gives several)")
    status: Literal["queued", "processing", "completed"]


class ReportOut(BaseModel):
    id: str
    status: Literal["queued", "processing", "completed"]
    outcome: str | None = Field(description="when completed: case, not_ours, no_action, need_more_information, actioned, content_gone")
    case: str | None = Field(description="the case id (AD-YYYY-NNNNNN) when the outcome is case")
    detail: str | None
    category: str | None
    source_format: str
    occurred_at: datetime | None
    received_at: datetime
    completed_at: datetime | None
    resources: list[dict[str, str]]


class CaseOut(BaseModel):
    id: str
    number: int
    account: str
    category: str
    resource: str
    status: str
    severity: str
    report_count: int
    reporter_count: int
    first_seen: datetime
    last_seen: datetime
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class CaseDetailOut(CaseOut):
    reports: list[ReportOut]


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at the end")


class ResourceIn(BaseModel):
    account: str = Field(min_length=1, max_length=128)
    kind: Literal["ip", "cidr", "domain", "email_domain"]
    value: str = Field(min_length=1, max_length=300)
    valid_from: datetime | None = None


class ResourceEndIn(BaseModel):
    valid_to: datetime | None = None


class ResourceOut(BaseModel):
    id: int
    account: str
    kind: str
    value: str
    valid_from: datetime
    valid_to: datetime | None
    state: str


class ResourcePage(BaseModel):
    items: list[ResourceOut]
    next_cursor: str | None


class AccountIn(BaseModel):
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
    name: str = Field(default="", max_length=300)
    email: str = Field(default="", max_length=320)
    status: Literal["active", "suspended", "terminated"] = "active"


class AccountOut(AccountIn):
    pass


class WhoOut(BaseModel):
    query: str
    at: datetime
    account: str | None
    holding: dict[str, Any] | None
