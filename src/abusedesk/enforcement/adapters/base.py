"""The one interface every enforcement adapter implements, and the shapes it speaks.

Adapters sit between a decided action and the outside world (the inventory, a firewall,
a cloud control plane, a customer's webhook). Each operation must be idempotent: the
worker runs it again after a crash, so applying twice or reverting something already
reverted is a success, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class AdapterError(RuntimeError):
    """The adapter could not do it; ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What to do, with no database objects in it, so any adapter can serialize it."""

    action_id: int
    kind: str
    target_kind: str
    target: str
    account_id: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id, "kind": self.kind, "target_kind": self.target_kind,
            "target": self.target, "account": self.account_id, "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class AdapterResult:
    """``changed`` is False when the effect was already there (or gone, for revert)."""

    changed: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


class EnforcementAdapter(Protocol):
    name: str

    def supports(self, kind: str) -> bool:
        """Whether this adapter can carry out the action kind at all."""

    def dry_run(self, request: ActionRequest) -> AdapterResult:
        """Describe what apply would do; changes nothing anywhere."""

    def apply(self, request: ActionRequest) -> AdapterResult:
        """Put the restriction in place; a no-op when it already is."""

    def revert(self, request: ActionRequest) -> AdapterResult:
        """Lift the restriction; a no-op when it is not in place."""
