"""Playbook decisions that need no database: which rung of the ladder, what to target,
whether a report is confirmed or confident enough to contain at once.

Kept apart from the flows so the rules can be read (and tested) in one place; the flows
only carry out what these functions decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from abusedesk.cases.models import Case
from abusedesk.enforcement.models import TargetKind
from abusedesk.policy.models import ActionKind, Playbook, Policy
from abusedesk.reports.models import Report
from abusedesk.resources import url_host


def rung(playbook: Playbook, strikes: int) -> ActionKind | None:
    """The n-th strike (1-based) takes ladder[n-1]; past the end the last rung repeats.
    None when the ladder is empty: an analyst decides."""
    if not playbook.ladder:
        return None
    return playbook.ladder[max(1, min(strikes, len(playbook.ladder))) - 1]


def next_restriction(playbook: Playbook, strikes: int) -> ActionKind | None:
    """The rung for ``strikes``, or the first restrictive rung after it when that rung
    is only a notice (escalating past a notice that was already sent)."""
    kind = rung(playbook, strikes)
    if kind is not ActionKind.NOTIFY:
        return kind
    for later in playbook.ladder[strikes:]:
        if later is not ActionKind.NOTIFY:
            return later
    return None


def is_trusted(reporter: str | None, trusted: Sequence[str]) -> bool:
    """``trusted`` holds addresses (``a@b.example``) or whole domains (``@b.example``)."""
    if not reporter:
        return False
    address = reporter.strip().lower()
    domain = "@" + address.rpartition("@")[2]
    return any(t.lower() in (address, domain) for t in trusted)


def confirmed_by_trusted_source(reports: Sequence[Report], trusted: Sequence[str]) -> bool:
    return any(is_trusted(r.reporter_email, trusted) for r in reports)


def confident_detection(reports: Sequence[Report], playbook: Playbook) -> bool:
    """Containment at once only for our own automated detectors at or above the threshold."""
    return any(
        r.automated and r.channel == "detector" and r.confidence is not None and r.confidence >= playbook.containment_min_confidence
        for r in reports
    )


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    value: str


def _resource_key(case: Case) -> tuple[str, str]:
    kind, _, value = case.resource_key.partition(":")
    return kind, value


def _report_resources(reports: Sequence[Report], kind: str) -> list[str]:
    return [str(r["value"]) for report in reports for r in report.resources if r.get("kind") == kind]


def target_for(kind: ActionKind, case: Case, reports: Sequence[Report]) -> Target | None:
    """What an action of ``kind`` points at for this case, or None when nothing fits
    (e.g. a port restriction for a case about a domain): the analyst then chooses."""
    key_kind, key_value = _resource_key(case)
    if kind in (ActionKind.SUSPEND_ACCOUNT, ActionKind.TERMINATE_ACCOUNT):
        return Target(TargetKind.ACCOUNT.value, case.account_id)
    if kind in (ActionKind.BLOCK_IP, ActionKind.RESTRICT_PORT):
        if key_kind == "ip":
            return Target("ip", key_value)
        ips = _report_resources(reports, "ip")
        return Target("ip", ips[0]) if ips else None
    if kind is ActionKind.DISABLE_URL:
        if key_kind == "url":
            return Target("url", key_value)
        urls = _report_resources(reports, "url")
        if urls:
            return Target("url", urls[0])
    if key_kind in ("ip", "url", "domain") and key_value:
        return Target(key_kind, key_value)
    for resource_kind in ("url", "domain", "ip"):
        found = _report_resources(reports, resource_kind)
        if found:
            return Target(resource_kind, found[0])
    return None


def fit_kind(kind: ActionKind, target: Target) -> ActionKind:
    """A URL can only be disabled where there is a URL; for a host or a domain the ladder's
    ``disable_url`` means disabling that resource."""
    if kind is ActionKind.DISABLE_URL and target.kind != "url":
        return ActionKind.DISABLE_RESOURCE
    return kind


def params_for(kind: ActionKind, playbook: Playbook, target: Target) -> dict[str, str]:
    params: dict[str, str] = {}
    if kind is ActionKind.RESTRICT_PORT and playbook.restrict_port:
        params["port"] = playbook.restrict_port
    if target.kind == "url":
        host = url_host(target.value)
        if host:
            params["host"] = host
    return params


def ends_at(playbook: Playbook, now: datetime) -> datetime | None:
    return now + playbook.restriction_duration if playbook.restriction_duration else None


def is_legal_only(policy: Policy, case: Case) -> bool:
    """The flag the web layer checks: such cases are visible to the legal role only."""
    return policy.category(case.category).restricted_to_legal


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` business days (Monday to Friday; public holidays are not
    known here, which only ever makes the restore later, never earlier than the law's 10)."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def business_days_between(start: date, end: date) -> int:
    days = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days += 1
    return days
