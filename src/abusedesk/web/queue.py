"""The case queue query: filters, any sort column, keyset pagination.

Every sort is ``(sort key, id)`` and the cursor is the last row's pair, so page 500 costs
the same as page 1 and each sort walks one index of :data:`abusedesk.web.models.QUEUE_INDEXES`.
No total count is computed: counting a million rows per page view is the slow part of
most queues, and "next page" needs none.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, literal_column, select, tuple_
from sqlalchemy.orm import Session

from abusedesk.cases.models import Case
from abusedesk.cases.workflow import OPEN_STATUSES
from abusedesk.db import UTCDateTime
from abusedesk.timeutil import as_utc, utcnow
from abusedesk.web.models import ASSIGNEE_SORT_SQL, SEVERITY_RANK_SQL

_TIME = ("opened_at", "updated_at", "last_seen", "first_seen")
#: sort name → (expression, value type)
SORTS: dict[str, tuple[Any, str]] = {
    "id": (Case.id, "int"),
    "opened_at": (Case.opened_at, "time"),
    "updated_at": (Case.updated_at, "time"),
    "last_seen": (Case.last_seen, "time"),
    "first_seen": (Case.first_seen, "time"),
    "report_count": (Case.report_count, "int"),
    "reporter_count": (Case.reporter_count, "int"),
    "category": (Case.category, "str"),
    "account": (Case.account_id, "str"),
    "resource": (Case.resource_key, "str"),
    "status": (Case.status, "str"),
    "severity": (literal_column(SEVERITY_RANK_SQL, Integer), "int"),
    "assignee": (literal_column(ASSIGNEE_SORT_SQL, String), "str"),
}
SORT_NAMES = tuple(SORTS)


@dataclass(frozen=True, slots=True)
class QueueQuery:
    status: str = ""  # a status, "open" or "" (all)
    category: str = ""
    account: str = ""
    severity: str = ""
    assignee: str = ""  # a username, "-" for unassigned, "" for anyone
    min_age_days: int | None = None
    max_age_days: int | None = None
    sort: str = "id"
    desc: bool = True
    cursor: str = ""
    limit: int = 50
    #: categories this user may not see (restricted to the legal role)
    hidden_categories: frozenset[str] = field(default_factory=frozenset)


@dataclass(slots=True)
class QueuePage:
    rows: list[Case]
    next_cursor: str | None


def encode_cursor(sort: str, case: Case) -> str:
    expression_kind = SORTS[sort][1]
    value: Any
    if sort == "severity":
        value = {"critical": 4, "high": 3, "medium": 2, "low": 1}.get(case.severity, 0)
    elif sort == "assignee":
        value = case.assignee or ""
    elif sort == "account":
        value = case.account_id
    elif sort == "resource":
        value = case.resource_key
    else:
        value = getattr(case, sort)
    if expression_kind == "time":
        value = as_utc(value).isoformat()
    raw = json.dumps([sort, value, case.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str) -> tuple[Any, int] | None:
    """``None`` for a cursor that is malformed or belongs to another sort (start over)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, case_id = json.loads(raw)
        kind = SORTS[sort][1]
        if name != sort or not isinstance(case_id, int):
            return None
        if kind == "time":
            return as_utc(datetime.fromisoformat(value)), case_id
        if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            return value, case_id
        if kind == "str" and isinstance(value, str):
            return value, case_id
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return None


def build_query(q: QueueQuery, *, now: datetime | None = None) -> Select[Case]:
    sort = q.sort if q.sort in SORTS else "id"
    key, kind = SORTS[sort]
    query: Select[Case] = select(Case)
    if q.status == "open":
        query = query.where(Case.status.in_(sorted(s.value for s in OPEN_STATUSES)))
    elif q.status:
        query = query.where(Case.status == q.status)
    if q.category:
        query = query.where(Case.category == q.category)
    if q.account:
        query = query.where(Case.account_id == q.account)
    if q.severity:
        query = query.where(Case.severity == q.severity)
    if q.assignee == "-":
        query = query.where(Case.assignee.is_(None))
    elif q.assignee:
        query = query.where(Case.assignee == q.assignee)
    moment = now or utcnow()
    if q.min_age_days is not None:
        query = query.where(Case.opened_at <= moment - timedelta(days=q.min_age_days))
    if q.max_age_days is not None:
        query = query.where(Case.opened_at > moment - timedelta(days=q.max_age_days))
    if q.hidden_categories:
        query = query.where(Case.category.notin_(sorted(q.hidden_categories)))
    position = decode_cursor(sort, q.cursor)
    if position is not None:
        value, last_id = position
        value_type = UTCDateTime() if kind == "time" else (Integer() if kind == "int" else String())
        if sort == "id":
            query = query.where(Case.id < last_id if q.desc else Case.id > last_id)
        else:
            pair = tuple_(key, Case.id)
            bound = tuple_(bindparam("cursor_value", value, type_=value_type), bindparam("cursor_id", last_id, type_=Integer()))
            query = query.where(pair < bound if q.desc else pair > bound)
    if sort == "id":
        order: Sequence[ColumnElement[Any]] = [Case.id.desc() if q.desc else Case.id.asc()]
    else:
        order = [key.desc(), Case.id.desc()] if q.desc else [key.asc(), Case.id.asc()]
    return query.order_by(*order).limit(max(1, min(q.limit, 500)) + 1)


def queue_page(session: Session, q: QueueQuery, *, now: datetime | None = None) -> QueuePage:
    rows = list(session.execute(build_query(q, now=now)).scalars())
    limit = max(1, min(q.limit, 500))
    more = len(rows) > limit
    rows = rows[:limit]
    sort = q.sort if q.sort in SORTS else "id"
    return QueuePage(rows, encode_cursor(sort, rows[-1]) if more and rows else None)


def restricted_categories(policy: Any, *, may_see_restricted: bool) -> frozenset[str]:
    """Categories hidden from this user: those the policy restricts to the legal role."""
    if may_see_restricted:
        return frozenset()
    return frozenset(str(c.value) for c, p in policy.categories.items() if p.restricted_to_legal)
