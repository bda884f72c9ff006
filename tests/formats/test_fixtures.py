"""Every sample in tests/fixtures/formats/<format>/ parses to its ``.expected.json``.

The samples go through the registry's sniffing (no format named), so a sample also proves
that its format is recognised before the fallbacks and does not steal another's input.
An expected file holds either one report (``category``, ``resources``, ``occurred_at``)
or ``reports``: a list of them; optional ``source_format``, ``reporter``, ``fields``
(a subset to match) and ``parse`` (explicit format and parameters, e.g. an IP list's
category), or ``error``: a substring of the ParseError message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from abusedesk.formats import iplist, registry
from abusedesk.formats.base import ParsedReport, ParseError
from abusedesk.timeutil import isoformat_z

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def _samples() -> list[Path]:
    out = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and not path.name.endswith(".expected.json") and _expected_path(path).exists():
            out.append(path)
    return out


def _expected_path(sample: Path) -> Path:
    return sample.with_name(sample.name.split(".", 1)[0] + ".expected.json")


def _parse(sample: Path, spec: dict[str, Any]) -> list[ParsedReport]:
    data = sample.read_bytes()
    how = spec.get("parse")
    if how and how.get("format") == "iplist":
        return iplist.parse_list(data, how["category"], filename=sample.name)
    if how:
        return registry.parse_input(data, filename=sample.name, format=how["format"])
    return registry.parse_input(data, filename=sample.name)


def _check(report: ParsedReport, want: dict[str, Any], where: str) -> None:
    assert (report.category.value if report.category else None) == want["category"], where
    assert [r.as_dict() for r in report.resources] == want["resources"], where
    assert isoformat_z(report.occurred_at) == want["occurred_at"], where
    if "reporter" in want:
        assert report.reporter.as_dict() == want["reporter"], where
    for key, value in want.get("fields", {}).items():
        assert report.fields.get(key) == value, f"{where}: fields[{key!r}]"
    if "no_complaint" in want:
        assert report.no_complaint is want["no_complaint"], where


@pytest.mark.parametrize("sample", _samples(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_parses_to_expected(sample: Path) -> None:
    spec = json.loads(_expected_path(sample).read_text())
    if "error" in spec:
        with pytest.raises(ParseError, match=spec["error"]):
            _parse(sample, spec)
        return
    reports = _parse(sample, spec)
    wanted = spec.get("reports", [spec])
    assert len(reports) == len(wanted), [r.contract(sample.name) for r in reports]
    for index, (report, want) in enumerate(zip(reports, wanted, strict=True)):
        if "source_format" in spec:
            assert report.source_format == spec["source_format"]
        _check(report, want, f"{sample.name} report {index}")


def test_every_format_folder_has_samples() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    mine = {"text", "shadowserver", "xarf_yaml", "spamcop", "dmca", "iodef", "iplist"}
    assert mine <= folders
    for name in mine:
        assert any(_expected_path(s).exists() for s in (FIXTURES / name).iterdir()), name
