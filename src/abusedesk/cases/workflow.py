"""Case states and the transitions allowed between them: the one definition.

API, CLI, console and jobs all change state through :func:`transition`, so a rule added
here holds everywhere, and every change is audited with who or what made it.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.cases.models import Case
from abusedesk.timeutil import utcnow


class CaseStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    NOTIFIED = "notified"
    AWAITING_CUSTOMER = "awaiting_customer"
    ESCALATED = "escalated"
    ACTIONED = "actioned"
    RESOLVED = "resolved"
    CLOSED = "closed"


S = CaseStatus
OPEN_STATUSES = frozenset(s for s in CaseStatus if s is not S.CLOSED)

ALLOWED: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.NEW: frozenset({S.TRIAGED, S.NOTIFIED, S.ACTIONED, S.ESCALATED, S.RESOLVED, S.CLOSED}),
    S.TRIAGED: frozenset({S.NOTIFIED, S.ACTIONED, S.ESCALATED, S.RESOLVED, S.CLOSED}),
    S.NOTIFIED: frozenset({S.AWAITING_CUSTOMER, S.ESCALATED, S.ACTIONED, S.RESOLVED, S.CLOSED}),
    S.AWAITING_CUSTOMER: frozenset({S.NOTIFIED, S.ESCALATED, S.ACTIONED, S.RESOLVED, S.CLOSED}),
    S.ESCALATED: frozenset({S.NOTIFIED, S.AWAITING_CUSTOMER, S.ACTIONED, S.RESOLVED, S.CLOSED}),
    S.ACTIONED: frozenset({S.NOTIFIED, S.AWAITING_CUSTOMER, S.ESCALATED, S.RESOLVED, S.CLOSED}),
    S.RESOLVED: frozenset({S.NEW, S.CLOSED}),  # a new report reopens
    S.CLOSED: frozenset({S.NEW}),  # reopened only by a new report within the quiet window
}


class TransitionError(ValueError):
    """A state change the workflow does not allow; the message says which ones it does."""


def can_transition(current: CaseStatus | str, target: CaseStatus | str) -> bool:
    return CaseStatus(target) in ALLOWED[CaseStatus(current)]


def transition(session: Session, case: Case, target: CaseStatus | str, *, actor: str, reason: str = "") -> None:
    current, wanted = CaseStatus(case.status), CaseStatus(target)
    if wanted not in ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[current])) or "none"
        raise TransitionError(f"case {case.id} cannot go from {current.value} to {wanted.value}; allowed: {allowed}")
    now = utcnow()
    case.status = wanted.value
    case.updated_at = now
    case.closed_at = now if wanted is S.CLOSED else None
    record(
        session, actor=actor, action="case.transition", object_type="case", object_id=case.id,
        data={"from": current.value, "to": wanted.value, "reason": reason},
    )
