"""Dashboard figures, computed in SQL where the database can group, and the chart geometry.

Charts are SVG drawn by the template from the geometry built here (rectangles, labels),
so no JavaScript chart library is needed and every label is escaped like any other text.
Each chart also has its numbers in a table, which is what the tests compare with the
database.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from abusedesk.cases.models import Case
from abusedesk.cases.workflow import OPEN_STATUSES
from abusedesk.notices.models import OutboundMessage
from abusedesk.reports.models import Report
from abusedesk.timeutil import as_utc, utcnow
from abusedesk.web import bridge

DURATION_BUCKETS: list[tuple[str, timedelta | None]] = [
    ("< 1 h", timedelta(hours=1)), ("1–4 h", timedelta(hours=4)), ("4–24 h", timedelta(days=1)),
    ("1–3 d", timedelta(days=3)), ("3–7 d", timedelta(days=7)), ("7–30 d", timedelta(days=30)), ("> 30 d", None),
]
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f"]


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in the dialect's own terms."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)  # SQLite stores ISO text, UTC


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def per_day_by_category(session: Session, column: Any, category: Any, since: datetime, *, hidden: frozenset[str]) -> dict[tuple[date, str], int]:
    day = _day(session, column)
    query = select(day, category, func.count()).where(column >= since).group_by(day, category)
    if hidden:
        query = query.where(category.notin_(sorted(hidden)))
    return {(_as_date(d), str(c)): int(n) for d, c, n in session.execute(query)}


def bucket_of(delta: timedelta) -> str:
    for label, limit in DURATION_BUCKETS:
        if limit is None or delta < limit:
            return label
    return DURATION_BUCKETS[-1][0]


def first_action_times(session: Session, since: datetime, *, hidden: frozenset[str]) -> dict[int, timedelta]:
    """Per case opened since ``since``: time from opening to the first notice or action."""
    cases = {cid: as_utc(opened) for cid, opened in session.execute(
        select(Case.id, Case.opened_at).where(Case.opened_at >= since, Case.category.notin_(sorted(hidden)) if hidden else Case.id.isnot(None))
    )}
    firsts: dict[int, datetime] = {}
    for cid, at in session.execute(select(OutboundMessage.case_id, func.min(OutboundMessage.created_at)).where(OutboundMessage.case_id.in_(list(cases))).group_by(OutboundMessage.case_id)) if cases else []:
        if cid is not None and at is not None:
            firsts[cid] = as_utc(at)
    for cid, at in bridge.first_action_per_case(session, list(cases)):
        firsts[cid] = min(firsts.get(cid, as_utc(at)), as_utc(at))
    return {cid: max(firsts[cid] - cases[cid], timedelta(0)) for cid in firsts}


def resolution_times(session: Session, since: datetime, *, hidden: frozenset[str]) -> dict[int, timedelta]:
    query = select(Case.id, Case.opened_at, Case.closed_at).where(Case.closed_at.isnot(None), Case.opened_at >= since)
    if hidden:
        query = query.where(Case.category.notin_(sorted(hidden)))
    return {cid: max(as_utc(closed) - as_utc(opened), timedelta(0)) for cid, opened, closed in session.execute(query) if closed is not None}


def open_by_age(session: Session, now: datetime, *, hidden: frozenset[str]) -> dict[str, int]:
    query = select(Case.opened_at).where(Case.status.in_(sorted(s.value for s in OPEN_STATUSES)))
    if hidden:
        query = query.where(Case.category.notin_(sorted(hidden)))
    counts: Counter[str] = Counter(bucket_of(now - as_utc(opened)) for (opened,) in session.execute(query))
    return {label: counts.get(label, 0) for label, _ in DURATION_BUCKETS}


def top_accounts(session: Session, since: datetime, *, hidden: frozenset[str], limit: int = 10) -> list[tuple[str, int]]:
    query = select(Report.account_id, func.count()).where(Report.account_id.isnot(None), Report.received_at >= since).group_by(Report.account_id)
    if hidden:
        query = query.where(Report.category.notin_(sorted(hidden)))
    rows = session.execute(query.order_by(func.count().desc(), Report.account_id).limit(limit)).all()
    return [(str(a), int(n)) for a, n in rows]


# ----------------------------------------------------------------------------- geometry


@dataclass(slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass(slots=True)
class Chart:
    width: int = 720
    height: int = 220
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    max_value: int = 0


def stacked_days(counts: dict[tuple[date, str], int], days: list[date], *, top: int = 6) -> tuple[Chart, list[str]]:
    """Stacked columns per day; the ``top`` categories by total get colours, the rest is "other"."""
    totals: Counter[str] = Counter()
    for (_d, c), n in counts.items():
        totals[c] += n
    named = [c for c, _ in totals.most_common(top)]
    series = [*named, "other"] if len(totals) > top else named
    per_day: dict[date, dict[str, int]] = defaultdict(dict)
    for (d, c), n in counts.items():
        key = c if c in named else "other"
        per_day[d][key] = per_day[d].get(key, 0) + n
    chart = Chart()
    peak = max((sum(v.values()) for v in per_day.values()), default=0)
    chart.max_value = peak
    plot_h, left = chart.height - 30, 30.0
    step = (chart.width - left) / max(len(days), 1)
    for i, d in enumerate(days):
        y = float(plot_h)
        for j, name in enumerate(series):
            n = per_day.get(d, {}).get(name, 0)
            if not n:
                continue
            h = plot_h * n / peak if peak else 0
            y -= h
            chart.bars.append(Bar(left + i * step + 1, y, max(step - 2, 1), h, PALETTE[j % len(PALETTE)], f"{d.isoformat()} {name}: {n}"))
        if i % max(len(days) // 8, 1) == 0:
            chart.labels.append((left + i * step, chart.height - 12, d.strftime("%m-%d")))
    chart.labels.append((2, 12, str(peak)))
    chart.legend = [(PALETTE[j % len(PALETTE)], name) for j, name in enumerate(series)]
    return chart, series


def bars(values: list[tuple[str, int]]) -> Chart:
    """Horizontal bars, one per label (distributions, top accounts)."""
    chart = Chart(height=24 * max(len(values), 1) + 10)
    peak = max((n for _, n in values), default=0)
    chart.max_value = peak
    for i, (label, n) in enumerate(values):
        w = (chart.width - 260) * n / peak if peak else 0
        chart.bars.append(Bar(160, 6 + i * 24, w, 18, PALETTE[0], f"{label}: {n}"))
        chart.labels.append((4, 20 + i * 24, label[:24]))
        chart.labels.append((166 + w, 20 + i * 24, str(n)))
    return chart


def dashboard(session: Session, *, days: int, hidden: frozenset[str], now: datetime | None = None) -> dict[str, Any]:
    moment = now or utcnow()
    since = (moment - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    day_list = [(since + timedelta(days=i)).date() for i in range(days)]
    reports = per_day_by_category(session, Report.received_at, Report.category, since, hidden=hidden)
    cases = per_day_by_category(session, Case.opened_at, Case.category, since, hidden=hidden)
    first = Counter(bucket_of(d) for d in first_action_times(session, since, hidden=hidden).values())
    resolved = Counter(bucket_of(d) for d in resolution_times(session, since, hidden=hidden).values())
    first_rows = [(label, first.get(label, 0)) for label, _ in DURATION_BUCKETS]
    resolved_rows = [(label, resolved.get(label, 0)) for label, _ in DURATION_BUCKETS]
    age_rows = list(open_by_age(session, moment, hidden=hidden).items())
    top = top_accounts(session, since, hidden=hidden)
    report_chart, report_series = stacked_days(reports, day_list)
    case_chart, case_series = stacked_days(cases, day_list)
    return {
        "days": days, "since": since,
        "reports_total": sum(reports.values()), "cases_total": sum(cases.values()),
        "reports_by_category": _totals(reports), "cases_by_category": _totals(cases),
        "report_chart": report_chart, "case_chart": case_chart, "report_series": report_series, "case_series": case_series,
        "first_action": first_rows, "first_action_chart": bars(first_rows),
        "resolution": resolved_rows, "resolution_chart": bars(resolved_rows),
        "open_by_age": age_rows, "open_by_age_chart": bars(age_rows),
        "top_accounts": top, "top_accounts_chart": bars(top),
    }


def _totals(counts: dict[tuple[date, str], int]) -> list[tuple[str, int]]:
    totals: Counter[str] = Counter()
    for (_d, c), n in counts.items():
        totals[c] += n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
