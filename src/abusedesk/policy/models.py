"""The policy file's shape: validated once at start-up, then read-only.

Every category of :mod:`abusedesk.policy.taxonomy` must appear; unknown keys are errors,
so a typo in an operator's file fails loudly instead of being ignored.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from abusedesk.policy.durations import parse_duration
from abusedesk.policy.taxonomy import Category


def _duration(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ActionKind(StrEnum):
    NOTIFY = "notify"
    RESTRICT_PORT = "restrict_port"
    BLOCK_IP = "block_ip"
    DISABLE_URL = "disable_url"
    DISABLE_RESOURCE = "disable_resource"
    SUSPEND_ACCOUNT = "suspend_account"
    TERMINATE_ACCOUNT = "terminate_account"
    REMOVE_CONTENT = "remove_content"
    RESTORE = "restore"


AggregationField = Literal["account", "category", "resource"]


class Playbook(Strict):
    notice_template: str = "generic"
    deadline: Duration = timedelta(hours=72)
    #: actions by strike count: the n-th strike (1-based) takes ladder[n-1], the last one repeats
    ladder: tuple[ActionKind, ...] = (ActionKind.NOTIFY,)
    auto_containment: bool = False
    containment_min_confidence: float = Field(default=0.9, ge=0, le=1)
    requires_confirmation: bool = False
    notify_before_action: bool = True
    notify_reporter: bool = True
    restrict_port: str | None = Field(default=None, pattern=r"^(tcp|udp)/\d{1,5}$")
    counter_notice: bool = False
    restore_after_counter_notice_business_days: tuple[int, int] | None = None
    preservation: Duration | None = None
    mandated_report: bool = False
    #: on deadline expiry take the next rung of the ladder without waiting for an analyst
    auto_escalate: bool = False
    #: how long a restriction stays before it is lifted by itself; None = until lifted
    restriction_duration: Duration | None = None

    @model_validator(mode="after")
    def _port_for_port_restrictions(self) -> Playbook:
        if ActionKind.RESTRICT_PORT in self.ladder and self.restrict_port is None:
            raise ValueError('a ladder with restrict_port needs the port, e.g. restrict_port = "tcp/25"')
        return self


class HelpText(Strict):
    what: str = Field(min_length=1)
    why: str = Field(min_length=1)
    fix: str = Field(min_length=1)


class StatementDefaults(Strict):
    """How a decision in this category reads as a DSA statement of reasons."""

    ground: Literal["illegal", "incompatible"]
    tdb_category: str = Field(pattern=r"^STATEMENT_CATEGORY_[A-Z_]+$")
    keywords: tuple[str, ...] = ()
    content_type: str = Field(default="CONTENT_TYPE_OTHER", pattern=r"^CONTENT_TYPE_[A-Z_]+$")
    #: for ``ground = "illegal"``: the law relied on (Art. 17(3)(d)); default: the clause
    legal_ground: str | None = Field(default=None, max_length=500)


class CategoryPolicy(Strict):
    clause: str = Field(min_length=1)
    description: str = Field(min_length=1)
    severity: Severity
    aggregation_key: tuple[AggregationField, ...] | None = None
    quiet_window: Duration | None = None
    enforceable: bool = True
    restricted_to_legal: bool = False
    reporter_identity_in_notice: bool = False
    playbook: Playbook
    help: HelpText
    statement: StatementDefaults | None = None

    @model_validator(mode="after")
    def _enforceable_needs_statement(self) -> CategoryPolicy:
        if self.enforceable and self.statement is None:
            raise ValueError("an enforceable category needs a [statement] table (DSA Art. 17 grounds)")
        return self


class Defaults(Strict):
    aggregation_key: tuple[AggregationField, ...] = ("account", "category", "resource")
    quiet_window: Duration = timedelta(days=14)
    strike_decay: Duration = timedelta(days=90)


class PolicyMeta(Strict):
    name: str
    version: str
    redress: str = Field(min_length=1)


class Policy(Strict):
    policy: PolicyMeta
    defaults: Defaults = Defaults()
    categories: dict[Category, CategoryPolicy]

    @model_validator(mode="after")
    def _every_category(self) -> Policy:
        missing = [c.value for c in Category if c not in self.categories]
        if missing:
            raise ValueError(f"categories missing from the policy: {', '.join(missing)}")
        return self

    def category(self, category: Category | str) -> CategoryPolicy:
        found = self.categories.get(category)  # type: ignore[arg-type]  # a StrEnum key matches its str
        return found if found is not None else self.categories[Category(category)]

    def aggregation_key(self, category: Category | str) -> tuple[AggregationField, ...]:
        return self.category(category).aggregation_key or self.defaults.aggregation_key

    def quiet_window(self, category: Category | str) -> timedelta:
        return self.category(category).quiet_window or self.defaults.quiet_window
