"""The enforcement and notice job kinds, for the worker's table in ``jobs/handlers.py``."""

from __future__ import annotations

from abusedesk.enforcement.flows import (
    ANNOUNCE_JOB,
    DEADLINE_JOB,
    EXPIRE_JOB,
    PLAYBOOK_JOB,
    handle_announce,
    handle_apply,
    handle_deadline,
    handle_expire,
    handle_run_playbooks,
)
from abusedesk.enforcement.service import APPLY_JOB
from abusedesk.enforcement.special import (
    MANDATED_JOB,
    RESTORE_JOB,
    handle_counter_notice_restore,
    handle_mandated_report,
)
from abusedesk.jobs.worker import Handler
from abusedesk.notices.flows import DIGEST_JOB, handle_digest


def enforcement_handlers() -> dict[str, Handler]:
    return {
        PLAYBOOK_JOB: handle_run_playbooks,
        DEADLINE_JOB: handle_deadline,
        APPLY_JOB: handle_apply,
        EXPIRE_JOB: handle_expire,
        ANNOUNCE_JOB: handle_announce,
        MANDATED_JOB: handle_mandated_report,
        RESTORE_JOB: handle_counter_notice_restore,
        DIGEST_JOB: handle_digest,
    }
