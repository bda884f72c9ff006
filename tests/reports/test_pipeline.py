from __future__ import annotations

import contextlib
import hashlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from abusedesk.cases.models import Case
from abusedesk.context import Context
from abusedesk.intake.models import RawInput
from abusedesk.intake.service import INLINE_LIMIT, RawLike, plan_raw_many, raw_bytes
from abusedesk.reports.flows import ingest_batch, ingest_bytes, process_many, retry_raw
from abusedesk.reports.models import Report
from tests.helpers import load_inventory, own_report


def count(ctx: Context, model: type) -> int:
    with ctx.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_raw_first_then_case(ctx: Context) -> None:
    load_inventory(ctx)
    data = own_report()
    result = ingest_bytes(ctx, data, channel="file")
    assert not result.quarantined
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    with ctx.transaction() as session:
        raw = session.get(RawInput, result.raw_id)
        assert raw is not None and raw_bytes(ctx.blobs, raw) == data  # exact bytes kept
    [outcome] = result.reports
    assert outcome.outcome == "case"
    assert outcome.account == "acme"
    assert outcome.case_ref is not None and outcome.case_ref.startswith("AD-")


def test_same_bytes_again_change_nothing(ctx: Context) -> None:
    load_inventory(ctx)
    data = own_report()
    ingest_bytes(ctx, data, channel="file")
    before = (count(ctx, RawInput), count(ctx, Report), count(ctx, Case))
    again = ingest_bytes(ctx, data, channel="smtp")
    assert again.duplicate
    assert (count(ctx, RawInput), count(ctx, Report), count(ctx, Case)) == before
    with ctx.transaction() as session:
        assert session.execute(select(Case.report_count)).scalar_one() == 1


def test_same_sender_report_id_is_one_report(ctx: Context) -> None:
    load_inventory(ctx)
    ingest_bytes(ctx, own_report(report_id="abc-1", summary="first"), channel="api")
    result = ingest_bytes(ctx, own_report(report_id="abc-1", summary="resent with other bytes"), channel="api")
    assert result.reports[0].duplicate
    assert count(ctx, Report) == 1


def test_aggregation_by_key_and_distinct_reporters(ctx: Context) -> None:
    load_inventory(ctx)
    ingest_bytes(ctx, own_report(at="2026-11-01T10:00:00Z", reporter="a@x.example"), channel="file")
    ingest_bytes(ctx, own_report(at="2026-11-02T10:00:00Z", reporter="b@x.example"), channel="file")
    ingest_bytes(ctx, own_report(at="2026-11-03T10:00:00Z", reporter="a@x.example"), channel="file")
    ingest_bytes(ctx, own_report(category="security.scan", at="2026-11-03T10:00:00Z"), channel="file")
    ingest_bytes(ctx, own_report(source="192.0.2.99", at="2026-11-03T10:00:00Z"), channel="file")
    with ctx.transaction() as session:
        cases = {(c.category, c.resource_key): c for c in session.execute(select(Case)).scalars()}
    assert set(cases) == {("email.spam", "ip:192.0.2.10"), ("security.scan", "ip:192.0.2.10"), ("email.spam", "ip:192.0.2.99")}
    spam = cases[("email.spam", "ip:192.0.2.10")]
    assert spam.report_count == 3
    assert spam.reporter_count == 2
    assert spam.first_seen.isoformat() == "2026-11-01T10:00:00+00:00"
    assert spam.last_seen.isoformat() == "2026-11-03T10:00:00+00:00"


def test_batch_aggregates_within_and_across_batches(ctx: Context) -> None:
    """The batch path: one batch with two reports of one key, a repeat of the same bytes and
    another key; then a second batch that joins the case the first one opened."""
    load_inventory(ctx)
    first = own_report(at="2026-11-01T10:00:00Z", reporter="a@x.example")
    results = ingest_batch(ctx, [
        first,
        own_report(at="2026-11-02T10:00:00Z", reporter="b@x.example"),
        first,
        own_report(category="security.scan", at="2026-11-02T10:00:00Z"),
    ], channel="api")
    assert [r.duplicate for r in results] == [False, False, True, False]
    assert results[0].reports[0].case_id == results[1].reports[0].case_id == results[2].reports[0].case_id
    assert results[3].reports[0].case_id != results[0].reports[0].case_id
    spam_id = results[0].reports[0].case_id
    with ctx.transaction() as session:
        loaded = session.get(Case, spam_id)  # an instance the batch must not leave stale
        assert loaded is not None and loaded.report_count == 2
        [later] = process_many(ctx, session, _stored(session, ctx, own_report(at="2026-11-03T10:00:00Z", reporter="a@x.example")), actor="test")
        assert later.reports[0].case_id == spam_id
        assert (loaded.report_count, loaded.reporter_count) == (3, 2)
        assert loaded.last_seen.isoformat() == "2026-11-03T10:00:00+00:00"
        assert loaded.ref() == later.reports[0].case_ref
    assert (count(ctx, RawInput), count(ctx, Report), count(ctx, Case)) == (4, 4, 2)


def _stored(session: Session, ctx: Context, data: bytes) -> list[tuple[RawLike, bytes | None]]:
    [planned] = plan_raw_many(session, ctx.blobs, [data], channel="api")
    return [(planned.raw, data)]


def test_quiet_window_opens_a_new_case(ctx: Context) -> None:
    load_inventory(ctx)
    first = ingest_bytes(ctx, own_report(at="2026-10-01T10:00:00Z"), channel="file")
    later = ingest_bytes(ctx, own_report(at="2026-10-20T10:00:00Z"), channel="file")  # spam window: 7 days
    assert first.reports[0].case_id != later.reports[0].case_id


def test_attribution_uses_the_time_of_abuse(ctx: Context) -> None:
    load_inventory(ctx)
    early = ingest_bytes(ctx, own_report(source="198.51.100.7", at="2026-06-01T10:00:00Z"), channel="file")
    late = ingest_bytes(ctx, own_report(source="198.51.100.7", at="2026-06-01T14:00:00Z"), channel="file")
    assert early.reports[0].account == "before"
    assert late.reports[0].account == "after"


def test_not_ours_stays_visible_with_reason(ctx: Context) -> None:
    load_inventory(ctx)
    result = ingest_bytes(ctx, own_report(source="203.0.113.50"), channel="file")
    [outcome] = result.reports
    assert outcome.outcome == "not_ours"
    assert outcome.detail is not None and "203.0.113.50" in outcome.detail
    assert count(ctx, Case) == 0
    with ctx.transaction() as session:
        report = session.get(Report, outcome.report_id)
        assert report is not None and report.status == "completed"


def test_url_report_attributed_by_host(ctx: Context) -> None:
    load_inventory(ctx)
    result = ingest_bytes(ctx, own_report(category="content.phishing", source="https://Login.SHOP.example/x"), channel="file")
    assert result.reports[0].account == "shop"


def test_parse_failure_is_quarantined_and_retryable(ctx: Context, monkeypatch: object) -> None:
    load_inventory(ctx)
    data = b'{"category": "email.spamm", "source": "192.0.2.10"}'
    result = ingest_bytes(ctx, data, channel="file", filename="bad.json")
    assert result.quarantined
    assert result.error is not None and "email.spamm" in result.error
    with ctx.transaction() as session:
        stored = session.get(RawInput, result.raw_id)
        assert stored is not None and raw_bytes(ctx.blobs, stored) == data
    with ctx.transaction() as session:
        raw = session.get(RawInput, result.raw_id)
        assert raw is not None and raw.status == "quarantined"
    # "fix the parser": retry with a format that accepts it
    with ctx.transaction() as session:
        raw = session.get(RawInput, result.raw_id)
        assert raw is not None
        raw.format_hint = "json"
    still = retry_raw(ctx, result.raw_id, actor="test")
    assert still.quarantined  # the category is still unknown; the input is not lost either way
    assert count(ctx, RawInput) == 1


def test_large_input_goes_to_the_blob_store(ctx: Context) -> None:
    load_inventory(ctx)
    data = own_report(evidence="x" * (INLINE_LIMIT + 10))
    result = ingest_bytes(ctx, data, channel="file")
    assert ctx.blobs.get(result.sha256) == data
    with ctx.transaction() as session:
        raw = session.get(RawInput, result.raw_id)
        assert raw is not None and raw.content is None and raw_bytes(ctx.blobs, raw) == data


def test_concurrent_ingest_opens_one_case_per_key(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two transactions aggregating the same key at the same moment must not open twins.

    What serializes them is the audit chain's head lock and the per-key advisory locks on
    PostgreSQL, and SQLite's single writer; the barrier gives them every chance to overlap."""
    import threading

    from abusedesk.reports import flows

    load_inventory(ctx)
    barrier = threading.Barrier(2, timeout=1)
    real_lock = flows._lock_keys

    def lock_after_both_arrive(session: object, keys: object) -> None:
        # both transactions are now inside, before aggregation; SQLite lets only one writer
        # in at a time, so there the other arrives later and the barrier breaks
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        real_lock(session, keys)  # type: ignore[arg-type]

    monkeypatch.setattr(flows, "_lock_keys", lock_after_both_arrive)
    batches = [[own_report(at=f"2026-11-01T10:{m:02d}:{t:02d}Z", reporter=f"r{t}@x.example") for m in range(10)] for t in range(2)]
    errors: list[BaseException] = []

    def run(batch: list[bytes]) -> None:
        try:
            flows.ingest_batch(ctx, batch, channel="api")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with ctx.transaction() as session:
        cases = list(session.execute(select(Case)).scalars())
    assert len(cases) == 1
    assert cases[0].report_count == 20
    assert cases[0].reporter_count == 2
