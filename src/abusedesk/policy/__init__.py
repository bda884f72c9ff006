"""The acceptable use policy as data: categories, playbooks, help texts."""

from abusedesk.policy.loader import PolicyError, load_policy, parse_policy
from abusedesk.policy.models import ActionKind, CategoryPolicy, Playbook, Policy, Severity
from abusedesk.policy.taxonomy import Category

__all__ = [
    "ActionKind",
    "Category",
    "CategoryPolicy",
    "Playbook",
    "Policy",
    "PolicyError",
    "Severity",
    "load_policy",
    "parse_policy",
]
