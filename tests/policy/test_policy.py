from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from abusedesk.policy import Category, PolicyError, load_policy, parse_policy
from abusedesk.policy.loader import default_policy_text
from abusedesk.policy.models import ActionKind


def test_default_policy_encodes_every_category() -> None:
    policy = load_policy()
    assert set(policy.categories) == set(Category)
    for category, entry in policy.categories.items():
        assert entry.clause, category
        assert entry.help.what and entry.help.why and entry.help.fix, category
        assert entry.playbook.notice_template, category


def test_defaults_and_overrides() -> None:
    policy = load_policy()
    assert policy.quiet_window("email.spam") == timedelta(days=7)
    assert policy.quiet_window("content.illegal") == timedelta(days=14)  # the default
    assert policy.aggregation_key("network.restriction_evasion") == ("account", "category")
    assert policy.category("email.spam").playbook.deadline == timedelta(hours=48)
    assert policy.category("email.spam").playbook.ladder == (ActionKind.NOTIFY, ActionKind.RESTRICT_PORT, ActionKind.SUSPEND_ACCOUNT)
    assert policy.category("content.csam").restricted_to_legal
    assert policy.category("content.csam").playbook.notify_before_action is False


def test_invalid_policy_names_the_key_and_problem() -> None:
    text = default_policy_text().replace('notice_template = "spam"\ndeadline = "48h"', 'notice_template = "spam"\ndeadline = "two days"', 1)
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="ops.toml")
    message = str(info.value)
    assert "ops.toml" in message
    assert '"email.spam".playbook.deadline' in message
    assert "invalid duration 'two days'" in message


def test_unknown_key_is_an_error_not_ignored() -> None:
    text = default_policy_text().replace('severity = "medium"', 'severity = "medium"\nseverty = "low"', 1)
    with pytest.raises(PolicyError, match="severty: Extra inputs are not permitted"):
        parse_policy(text)


def test_missing_category_is_reported() -> None:
    text = default_policy_text()
    start = text.index('[categories."email.reply_collection"]')
    end = text.index("# ─", start)
    with pytest.raises(PolicyError, match=r"missing from the policy: email\.reply_collection"):
        parse_policy(text[:start] + text[end:])


def test_unknown_category_id_is_reported() -> None:
    text = default_policy_text().replace('[categories."email.spam"]', '[categories."email.spamm"]').replace('[categories."email.spam".', '[categories."email.spamm".')
    with pytest.raises(PolicyError, match=r"email\.spamm"):
        parse_policy(text)


def test_operator_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text().replace('notice_template = "spam"\ndeadline = "48h"', 'notice_template = "spam"\ndeadline = "12h"', 1), "utf-8")
    assert load_policy(path).category("email.spam").playbook.deadline == timedelta(hours=12)
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "absent.toml")
