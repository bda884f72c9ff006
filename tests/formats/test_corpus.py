"""Every third-party sample of ../shared/corpus/manifest.jsonl, against its expected result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from abusedesk.formats.base import ParseError
from abusedesk.formats.registry import parse_input
from tests.conftest import CORPUS

MANIFEST = CORPUS / "manifest.jsonl"
ENTRIES: list[dict[str, Any]] = [json.loads(line) for line in MANIFEST.read_text("utf-8").splitlines() if line.strip()] if MANIFEST.exists() else []


def test_corpus_is_present() -> None:
    assert len(ENTRIES) >= 100, f"expected the shared corpus at {CORPUS}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["path"] for e in ENTRIES])
def test_sample(entry: dict[str, Any]) -> None:
    data = (CORPUS / entry["path"]).read_bytes()
    if not entry["valid"]:
        with pytest.raises(ParseError) as info:
            parse_input(data, filename=entry["path"])
        assert str(info.value)
        assert info.value.problems, "an invalid sample must say which field is wrong"
        assert all(p.path.startswith("/") for p in info.value.problems)
        return
    reports = parse_input(data, filename=entry["path"])
    assert len(reports) == 1
    report = reports[0]
    assert report.source_format.startswith(entry["format"].split("-")[0])
    if entry.get("no_complaint"):
        assert report.no_complaint and report.category is None
        return
    expect = entry["expect"]
    line = report.contract(entry["path"])
    assert line["category"] == expect["category"]
    if expect["resources"] is not None:
        got = sorted((r["kind"], r["value"]) for r in line["resources"])
        assert got == sorted((r["kind"], r["value"]) for r in expect["resources"])
    if expect["occurred_at"] is not None:
        assert line["occurred_at"] == expect["occurred_at"]
