"""Feed files: ``abusedesk feed import`` and the watched folder, exactly once."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from abusedesk.background import start_background, stop_background
from abusedesk.cli import app
from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.intake import watch as watch_module
from abusedesk.intake.flows import enqueue_processing
from abusedesk.intake.models import RawInput, RawStatus
from abusedesk.intake.service import store_raw
from abusedesk.intake.smtp import free_port
from abusedesk.intake.watch import FolderWatcher
from abusedesk.migrate import upgrade
from abusedesk.reports.models import Report
from tests.helpers import load_inventory
from tests.intake.mails import complaint

SHADOWSERVER = Path(__file__).resolve().parents[1] / "fixtures" / "formats" / "shadowserver" / "2026-01-15-scan_dns-example_org-asn.csv"
LIST = b"# scanners seen by our partner\n192.0.2.10\n192.0.2.11\n203.0.113.200\n"


def _count(ctx: Context, model: type[object], *where: object) -> int:
    with ctx.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())  # type: ignore[arg-type]


def _env(ctx: Context) -> dict[str, str]:
    return {"ABUSEDESK_DATA_DIR": str(ctx.settings.data_dir), "ABUSEDESK_DATABASE_URL": ctx.settings.effective_database_url}


def test_feed_import_of_a_plain_list_with_a_category_is_idempotent(ctx: Context, tmp_path: Path) -> None:
    load_inventory(ctx)
    path = tmp_path / "scanners.txt"
    path.write_bytes(LIST)
    runner = CliRunner()
    first = runner.invoke(app, ["feed", "import", str(path), "--category", "security.scan"], env=_env(ctx))
    assert first.exit_code == 0, first.output
    assert "3 reports" in first.output and "2 case" in first.output and "1 not_ours" in first.output
    again = runner.invoke(app, ["feed", "import", str(path), "--category", "security.scan"], env=_env(ctx))
    assert again.exit_code == 0, again.output
    assert "already imported" in again.output
    assert _count(ctx, Report) == 3
    assert _count(ctx, Report, Report.category == "security.scan") == 3
    with ctx.transaction() as session:
        raw = session.execute(select(RawInput)).scalar_one()
    assert (raw.channel, raw.format_hint, raw.status) == ("feed", "iplist:security.scan", RawStatus.PARSED)


def test_feed_import_detects_shadowserver(ctx: Context) -> None:
    result = CliRunner().invoke(app, ["feed", "import", str(SHADOWSERVER)], env=_env(ctx))
    assert result.exit_code == 0, result.output
    with ctx.transaction() as session:
        raw = session.execute(select(RawInput)).scalar_one()
    assert raw.source_format == "shadowserver"
    assert _count(ctx, Report) == raw.report_count > 0


def test_feed_import_refuses_an_unknown_category_before_storing_anything(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(LIST)
    result = CliRunner().invoke(app, ["feed", "import", str(path), "--category", "no.such"], env=_env(ctx))
    assert result.exit_code == 2
    result = CliRunner().invoke(app, ["feed", "import", str(path), "--format", "shadowserver", "--category", "security.scan"], env=_env(ctx))
    assert result.exit_code == 2
    assert _count(ctx, RawInput) == 0


def test_a_bad_feed_is_quarantined_and_exits_1(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"192.0.2.10\nnot an address at all!!\n")
    result = CliRunner().invoke(app, ["feed", "import", str(path), "--category", "security.scan"], env=_env(ctx))
    assert result.exit_code == 1
    assert "quarantined" in result.output
    assert _count(ctx, RawInput, RawInput.status == RawStatus.QUARANTINED) == 1


def test_the_worker_parses_a_hinted_list_the_same_way(ctx: Context, run_worker: Callable[[], int]) -> None:
    load_inventory(ctx)
    with ctx.transaction() as session:
        stored = store_raw(session, ctx.blobs, LIST, channel="feed", filename="l.txt", format_hint="iplist:security.scan")
        enqueue_processing(session, stored.raw)
    run_worker()
    assert _count(ctx, Report, Report.category == "security.scan") == 3


# ----------------------------------------------------------------------------- watched folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "incoming"
    path.mkdir()
    return path


def _watcher(make_settings: Callable[..., Settings], folder: Path, *, settle: float = 0.0) -> FolderWatcher:
    ctx = Context.create(make_settings(watch_dir=folder, watch_settle_seconds=settle))
    if ctx.settings.database_url is None:
        upgrade(ctx.engine)
    return FolderWatcher(ctx, folder)


def test_a_dropped_file_is_ingested_once_and_moved_aside(ctx: Context, make_settings: Callable[..., Settings], folder: Path) -> None:
    watcher = _watcher(make_settings, folder)
    (folder / "scan.csv").write_bytes(SHADOWSERVER.read_bytes())
    (folder / "junk.bin").write_bytes(b"\x00\x01 not a feed")
    outcomes = {o.name: o for o in watcher.scan_once()}
    assert outcomes["scan.csv"].status == "processed" and outcomes["scan.csv"].reports > 0
    assert outcomes["junk.bin"].status == "failed"
    assert sorted(p.name for p in folder.iterdir()) == ["failed", "processed"]
    assert (folder / "processed" / "scan.csv").read_bytes() == SHADOWSERVER.read_bytes()
    assert (folder / "failed" / "junk.bin").exists()
    assert "not a known report format" in (folder / "failed" / "junk.bin.error.txt").read_text()
    # the same bytes dropped again under another name: moved aside, nothing new
    (folder / "scan-again.csv").write_bytes(SHADOWSERVER.read_bytes())
    (again,) = watcher.scan_once()
    assert again.duplicate and again.status == "processed"
    assert _count(ctx, RawInput) == 2
    assert _count(ctx, Report) == outcomes["scan.csv"].reports
    watcher.close()
    watcher.ctx.close()


def test_a_crash_before_or_after_the_commit_never_doubles_a_file(
    ctx: Context, make_settings: Callable[..., Settings], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "scan.csv").write_bytes(SHADOWSERVER.read_bytes())
    # 1. crash inside the transaction: nothing stored, the file stays
    watcher = _watcher(make_settings, folder)

    def crash(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(watch_module, "process_raw", crash)
    with pytest.raises(KeyboardInterrupt):
        watcher.scan_once()
    assert _count(ctx, RawInput) == 0 and (folder / "scan.csv").exists()
    monkeypatch.undo()
    # 2. crash after the commit, before the move: stored once, the file stays
    watcher = _watcher(make_settings, folder)
    monkeypatch.setattr(FolderWatcher, "_move", crash)
    with pytest.raises(KeyboardInterrupt):
        watcher.scan_once()
    monkeypatch.undo()
    reports = _count(ctx, Report)
    assert _count(ctx, RawInput) == 1 and reports > 0 and (folder / "scan.csv").exists()
    # 3. restart: recognised by its hash, moved, nothing added
    restarted = _watcher(make_settings, folder)
    (outcome,) = restarted.scan_once()
    assert outcome.duplicate and outcome.status == "processed"
    assert _count(ctx, RawInput) == 1 and _count(ctx, Report) == reports
    assert not (folder / "scan.csv").exists()
    for w in (watcher, restarted):
        w.close()
        w.ctx.close()


def test_files_still_being_written_are_left_alone(ctx: Context, make_settings: Callable[..., Settings], folder: Path) -> None:
    watcher = _watcher(make_settings, folder, settle=5.0)
    (folder / ".upload-in-progress").write_bytes(LIST)
    (folder / "feed.csv.tmp").write_bytes(LIST)
    (folder / "feed.csv.part").write_bytes(LIST)
    growing = folder / "growing.txt"
    growing.write_bytes(b"192.0.2.10\n")
    now = time.time()
    assert watcher.scan_once(now) == []  # first sight: not yet known to be stable
    with growing.open("ab") as handle:
        handle.write(b"192.0.2.11\n")
    assert watcher.scan_once(now + 10) == []  # it changed since the last scan
    assert watcher.scan_once(now + 1) == []  # unchanged, but written too recently
    old = now - 60
    os.utime(growing, (old, old))
    assert watcher.scan_once(now) == []  # mtime changed: a new signature, seen once
    (outcome,) = watcher.scan_once(now)
    assert outcome.name == "growing.txt"
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [".upload-in-progress", "feed.csv.part", "feed.csv.tmp"]
    assert _count(ctx, RawInput) == 1
    watcher.close()
    watcher.ctx.close()


def test_serve_runs_the_smtp_listener_and_the_folder_watch(make_settings: Callable[..., Settings], folder: Path, tmp_path: Path) -> None:
    """``start_background`` (what ``abusedesk serve`` runs): mail and files in, reports out."""
    import smtplib

    port = free_port()
    ctx = Context.create(make_settings(smtp_port=port, watch_dir=folder, watch_settle_seconds=0.0, watch_poll_seconds=0.1, worker_poll_seconds=0.1))
    if ctx.settings.database_url is None:
        upgrade(ctx.engine)
    load_inventory(ctx)
    running = start_background(ctx)
    try:
        assert [r.name for r in running] == ["worker", "smtp", "watch", "scheduler"]
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail("victim@reporter.example", ["abuse@abusedesk.test"], complaint(sender="victim@reporter.example"))
        (folder / "scan.csv").write_bytes(SHADOWSERVER.read_bytes())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _count(ctx, RawInput, RawInput.status == RawStatus.PARSED) == 2:
                break
            time.sleep(0.1)
    finally:
        stop_background(running)
    assert _count(ctx, RawInput, RawInput.status == RawStatus.PARSED) == 2
    assert (folder / "processed" / "scan.csv").exists()
    ctx.close()


def test_sub_folders_named_after_a_hint_give_lists_their_category(ctx: Context, make_settings: Callable[..., Settings], folder: Path) -> None:
    load_inventory(ctx)
    watcher = _watcher(make_settings, folder)
    for name in ("iplist:security.scan", "iplist=email.spam", "iplist:no.such", "holiday-photos"):
        (folder / name).mkdir()
    (folder / "iplist:security.scan" / "scanners.txt").write_bytes(LIST)
    (folder / "iplist=email.spam" / "spammers.txt").write_bytes(b"192.0.2.20\n")
    (folder / "iplist:no.such" / "x.txt").write_bytes(b"192.0.2.30\n")
    (folder / "holiday-photos" / "beach.jpg").write_bytes(b"\xff\xd8\xff")
    outcomes = {o.name: o for o in watcher.scan_once()}
    assert set(outcomes) == {"scanners.txt", "spammers.txt"}
    assert (folder / "iplist:security.scan" / "processed" / "scanners.txt").exists()
    assert (folder / "iplist:no.such" / "x.txt").exists() and (folder / "holiday-photos" / "beach.jpg").exists()
    with ctx.transaction() as session:
        rows = dict(session.execute(select(Report.category, func.count()).group_by(Report.category)).all())
        hints = set(session.execute(select(RawInput.format_hint)).scalars())
    assert rows == {"security.scan": 3, "email.spam": 1}
    assert hints == {"iplist:security.scan", "iplist:email.spam"}
    watcher.close()
    watcher.ctx.close()


def test_a_file_that_vanishes_before_it_is_taken_does_not_stop_the_scan(ctx: Context, make_settings: Callable[..., Settings], folder: Path) -> None:
    watcher = _watcher(make_settings, folder)
    (folder / "a.csv").write_bytes(SHADOWSERVER.read_bytes())
    (folder / "b.txt").write_bytes(b"x")
    ready = watcher.ready()
    (folder / "b.txt").unlink()
    watcher.ready = lambda now=None: ready  # type: ignore[method-assign]
    outcomes = watcher.scan_once()
    assert [o.name for o in outcomes] == ["a.csv"]
    watcher.close()
    watcher.ctx.close()
