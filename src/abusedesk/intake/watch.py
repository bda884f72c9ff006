"""The watched folder: drop a feed file in, it is ingested exactly once, then moved aside.

Exactly once comes from the content hash, not from the file name or the move: the file
is stored and processed in one transaction (same bytes → the raw row that exists), and
only after the commit is it moved to ``processed/`` (or ``failed/`` when it could not be
read). A crash before the commit leaves the file where it was and nothing in the
database; a crash between the commit and the move finds the file again, recognises its
hash and just moves it. Either way no report is created twice.

Files still being written are left alone: names starting with ``.`` or ending in
``.tmp``/``.part``/``.partial``/``~`` are skipped (write under such a name, then rename),
and any other file is taken only once its size and mtime have been the same on two scans
and it is at least ``watch_settle_seconds`` old.

Sub-folders named after a parser hint (``shadowserver/``, ``iplist:security.scan/``) parse
their files that way: a plain list has no category of its own (see ``FolderWatcher.folders``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from abusedesk.context import Context
from abusedesk.formats.registry import format_names
from abusedesk.intake.feeds import format_hint
from abusedesk.intake.flows import durable_sessions
from abusedesk.intake.metrics import WATCHED_FILES
from abusedesk.intake.models import RawStatus
from abusedesk.intake.service import store_raw
from abusedesk.reports.flows import describe_existing, process_raw

log = logging.getLogger("abusedesk.watch")
CHANNEL = "folder"
PROCESSED = "processed"
FAILED = "failed"
_PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".swp", "~", ".crdownload")


@dataclass(frozen=True, slots=True)
class WatchOutcome:
    name: str
    status: str  # processed, failed
    raw_id: int | None
    reports: int
    duplicate: bool
    detail: str | None = None


def is_partial(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(_PARTIAL_SUFFIXES)


def folder_hint(name: str) -> str | None:
    """The parser hint a sub-folder's name stands for, or None when it names none."""
    fmt, sep, category = name.replace("=", ":", 1).partition(":")
    try:
        hint = format_hint(fmt, category if sep else None)
    except ValueError:
        return None
    if hint is None or fmt not in format_names():
        return None
    return hint


class FolderWatcher:
    """Scans ``folder`` every ``watch_poll_seconds``; one thread, one file at a time."""

    def __init__(self, ctx: Context, folder: Path) -> None:
        self.ctx = ctx
        self.folder = folder
        self._last: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        # the commit must be on disk before the file is moved away (see durable_sessions)
        self._sessions, self._engine = durable_sessions(ctx)

    def ready(self, now: float | None = None) -> list[tuple[Path, str | None]]:
        """Files complete enough to take, with their folder's parser hint.

        Stable means: the same size and mtime as on the previous scan, and old enough.
        """
        settle = self.ctx.settings.watch_settle_seconds
        now = time.time() if now is None else now
        seen: dict[str, tuple[int, int]] = {}
        ready: list[tuple[Path, str | None]] = []
        for directory, hint in self.folders():
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except FileNotFoundError:
                continue
            for entry in entries:
                if is_partial(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                stat = entry.stat(follow_symlinks=False)
                signature = (stat.st_size, stat.st_mtime_ns)
                seen[entry.path] = signature
                stable = settle <= 0 or self._last.get(entry.path) == signature
                if stable and now - stat.st_mtime >= settle:
                    ready.append((Path(entry.path), hint))
        self._last = seen
        return ready

    def folders(self) -> list[tuple[Path, str | None]]:
        """The folder itself (formats detected) and sub-folders named after a parser hint.

        ``shadowserver/`` forces a format; ``iplist:security.scan/`` (or ``iplist=...``, for
        file systems without colons) gives plain lists their category. Other sub-folders
        are left alone.
        """
        found: list[tuple[Path, str | None]] = [(self.folder, None)]
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except FileNotFoundError:
            return found
        for entry in entries:
            if entry.name in (PROCESSED, FAILED) or entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            hint = folder_hint(entry.name)
            if hint is not None:
                found.append((Path(entry.path), hint))
        return found

    def scan_once(self, now: float | None = None) -> list[WatchOutcome]:
        self.folder.mkdir(parents=True, exist_ok=True)
        outcomes = []
        for path, hint in self.ready(now):
            if self._stop.is_set():
                break
            try:
                outcomes.append(self.take(path, hint))
            except OSError as exc:  # gone or unreadable: the next scan looks again
                log.warning("%s: %s", path, exc)
        return outcomes

    def take(self, path: Path, hint: str | None = None) -> WatchOutcome:
        """Ingest one file (store + parse in one transaction), then move it aside."""
        size = path.stat().st_size
        limit = self.ctx.settings.max_feed_bytes
        if size > limit:
            detail = f"{size} bytes, more than max_feed_bytes ({limit})"
            self._move(path, FAILED, detail)
            return WatchOutcome(path.name, FAILED, None, 0, False, detail)
        data = path.read_bytes()
        with self._sessions() as session, session.begin():
            stored = store_raw(session, self.ctx.blobs, data, channel=CHANNEL, filename=path.name[:300], format_hint=hint, actor="watch")
            if stored.raw.status == RawStatus.RECEIVED:
                result = process_raw(self.ctx, session, stored.raw, data=data, actor="watch")
            else:
                result = describe_existing(self.ctx, session, stored.raw)
            failed = stored.raw.status == RawStatus.QUARANTINED
            raw_id = stored.raw.id
        status = FAILED if failed else PROCESSED
        self._move(path, status, result.error if failed else None)
        WATCHED_FILES.labels(status).inc()
        log.info("%s: raw %s %s (%d reports)", path.name, raw_id, status, len(result.reports))
        return WatchOutcome(path.name, status, raw_id, len(result.reports), result.duplicate, result.error)

    def _move(self, path: Path, where: str, reason: str | None) -> None:
        target_dir = path.parent / where
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            target = target_dir / f"{path.stem}.{time.time_ns()}{path.suffix}"
        if reason:
            # the reason beside the file, written first: a crash leaves at worst a stray note
            (target_dir / f"{target.name}.error.txt").write_text(reason + "\n", encoding="utf-8")
        os.replace(path, target)

    def serve_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception:  # one bad round must not stop the watcher
                log.exception("watched folder round failed")
            self._stop.wait(self.ctx.settings.watch_poll_seconds)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Release the watcher's own database connections (after ``stop``)."""
        if self._engine is not None:
            self._engine.dispose()
