"""The playbook fields enforcement reads, validated when the policy loads."""

from __future__ import annotations

import pytest

from abusedesk.policy.loader import PolicyError, default_policy_text, parse_policy
from abusedesk.policy.models import ActionKind


def test_default_playbooks_encode_the_issue() -> None:
    policy = parse_policy(default_policy_text())
    spam = policy.category("email.spam").playbook
    assert (spam.deadline.total_seconds(), spam.ladder, spam.restrict_port, spam.auto_escalate) == (
        48 * 3600, (ActionKind.NOTIFY, ActionKind.RESTRICT_PORT, ActionKind.SUSPEND_ACCOUNT), "tcp/25", True,
    )
    assert policy.defaults.strike_decay.days == 90
    dos = policy.category("network.dos").playbook
    assert dos.auto_containment and dos.ladder[0] is ActionKind.BLOCK_IP and dos.containment_min_confidence == 0.9
    for name in ("network.open_resolver", "network.open_relay", "network.open_proxy"):
        playbook = policy.category(name).playbook
        assert playbook.deadline.days == 7 and playbook.auto_escalate and playbook.restrict_port
    csam = policy.category("content.csam")
    assert csam.restricted_to_legal and not csam.playbook.notify_before_action and csam.playbook.preservation.days == 365  # type: ignore[union-attr]
    assert policy.category("content.infringing").playbook.restore_after_counter_notice_business_days == (10, 14)
    assert policy.category("content.phishing").playbook.requires_confirmation


def test_a_port_restriction_without_a_port_is_a_policy_error() -> None:
    text = default_policy_text().replace('restrict_port = "udp/53"\n', "")
    with pytest.raises(PolicyError, match=r'"network.open_resolver".playbook: .*restrict_port needs the port'):
        parse_policy(text)
