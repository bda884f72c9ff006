"""Every table, imported once so metadata and Alembic see the whole schema."""

from abusedesk.audit.models import AuditEvent, AuditHead
from abusedesk.cases.models import Case, CaseReporter
from abusedesk.db import Base
from abusedesk.enforcement.models import (
    CounterNotice,
    DecisionRecord,
    EnforcementAction,
    MandatedReport,
    PreservationHold,
    Strike,
)
from abusedesk.intake.models import Correspondence, IdempotencyKey, RawInput
from abusedesk.inventory.models import Account, InventoryGeneration, InventoryResource
from abusedesk.jobs.models import Job
from abusedesk.notices.models import OutboundMessage
from abusedesk.reports.models import Report
from abusedesk.users.models import ApiToken, User
from abusedesk.web.models import Appeal, CaseMessage, CaseNote

__all__ = [
    "Account",
    "ApiToken",
    "Appeal",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Case",
    "CaseMessage",
    "CaseNote",
    "CaseReporter",
    "Correspondence",
    "CounterNotice",
    "DecisionRecord",
    "EnforcementAction",
    "IdempotencyKey",
    "InventoryGeneration",
    "InventoryResource",
    "Job",
    "MandatedReport",
    "OutboundMessage",
    "PreservationHold",
    "RawInput",
    "Report",
    "Strike",
    "User",
]
