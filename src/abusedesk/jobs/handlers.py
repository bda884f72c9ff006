"""Job kinds and their handlers: the one table the worker reads."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.enforcement.jobs import enforcement_handlers
from abusedesk.intake.flows import PROCESS_RAW as PROCESS_RAW  # re-exported: the job kind
from abusedesk.intake.flows import process_inbound
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.jobs.models import Job
from abusedesk.jobs.worker import Handler
from abusedesk.notices.outbox import SEND_JOB, handle_send
from abusedesk.reports.flows import route_reports
from abusedesk.reports.models import Report, ReportStatus

ROUTE_REPORTS = "reports.route"


def handle_process_raw(ctx: Context, session: Session, job: Job) -> None:
    raw = session.get(RawInput, int(job.payload["raw_id"]))
    if raw is None or raw.status != RawStatus.RECEIVED:
        return  # already processed: repeating is a no-op
    # mail is sorted first (loops, replies to cases, acknowledgements): intake.flows
    process_inbound(ctx, session, raw, actor="worker")


def handle_route_reports(ctx: Context, session: Session, job: Job) -> None:
    ids = [str(i) for i in job.payload["report_ids"]]
    reports = list(
        session.execute(select(Report).where(Report.id.in_(ids), Report.status != ReportStatus.COMPLETED)).scalars()
    )
    route_reports(ctx, session, reports, actor="worker")


def default_handlers() -> dict[str, Handler]:
    return {
        PROCESS_RAW: handle_process_raw,
        ROUTE_REPORTS: handle_route_reports,
        SEND_JOB: handle_send,
        **enforcement_handlers(),
    }
