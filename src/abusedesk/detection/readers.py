"""Turn flow files into SQL that yields the normalized schema (`schema.py`).

Readers build DuckDB table functions (`read_csv`, `read_parquet`) rather than parsing in
Python: DuckDB streams text, gzip and Parquet in parallel and never holds a file in
memory, which is what lets 100 M flows pass in a few GiB. Only the first line of a text
file is read here, to learn its header.

Formats (DESIGN.md `abusedesk detect`):

* AWS VPC Flow Logs text, versions 2-5: a header line names the fields, space separated,
  `-` for missing, optionally gzip. Any order and any subset; absent fields become NULL.
* The same as Parquet, with underscores for hyphens (and already-normalized Parquet).
* `nfdump -o csv` exports: local time without an offset (run nfdump with `TZ=UTC`; the
  times are read as UTC), protocol names, `CEUAPRSF` flag strings, a trailing Summary
  block, and no header at all with `-q`.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb

from abusedesk.detection.schema import (
    COLUMNS,
    NFDUMP_CSV_FIELDS,
    NFDUMP_FLAG_ORDER,
    NFDUMP_PROTOCOLS,
    REQUIRED_VPC_FIELDS,
    TCP_FLAG_BITS,
    parquet_name,
)

_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class FlowFormat(StrEnum):
    VPC_TEXT = "vpc-text"
    VPC_PARQUET = "vpc-parquet"
    NFDUMP_CSV = "nfdump-csv"


class FlowFileError(ValueError):
    """A flow file abusedesk cannot read; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class FlowSource:
    """One input file, its format and the fields it carries."""

    path: Path
    format: FlowFormat
    fields: tuple[str, ...]
    gzipped: bool = False


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _ident(name: str) -> str:
    if not _FIELD_NAME.match(name):
        raise FlowFileError(f"field name {name[:40]!r} is not a plain identifier")
    return '"' + name + '"'


def _first_line(path: Path) -> tuple[str, bool]:
    with path.open("rb") as raw:
        magic = raw.read(2)
    gzipped = magic == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        line = handle.readline(65536)
    return line.decode("utf-8", "replace").strip(), gzipped


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as raw:
        return raw.read(4) == b"PAR1"


def sniff(path: Path, con: duckdb.DuckDBPyConnection | None = None) -> FlowSource:
    """Decide the format of one file from its content (names lie: `.log.gz` is VPC text)."""
    if not path.is_file():
        raise FlowFileError(f"{path}: not a file")
    if _is_parquet(path):
        cursor = con or duckdb.connect()
        rows = cursor.execute(f"DESCRIBE SELECT * FROM read_parquet({_quote_path(path)})").fetchall()
        return FlowSource(path, FlowFormat.VPC_PARQUET, tuple(str(r[0]) for r in rows))
    line, gzipped = _first_line(path)
    if not line:
        raise FlowFileError(f"{path}: empty file")
    if "," in line:
        first = line.split(",")
        if first[0] == "ts":
            return FlowSource(path, FlowFormat.NFDUMP_CSV, tuple(first), gzipped)
        if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first[0]):
            known = NFDUMP_CSV_FIELDS[: len(first)]
            extra = tuple(f"extra{i}" for i in range(len(known), len(first)))
            return FlowSource(path, FlowFormat.NFDUMP_CSV, known + extra, gzipped)
        raise FlowFileError(f"{path}: comma-separated but not an nfdump CSV export (no `ts` header)")
    names = tuple(line.split())
    missing = [f for f in REQUIRED_VPC_FIELDS if f not in names]
    if missing:
        raise FlowFileError(
            f"{path}: not a VPC Flow Logs file with a header line (missing {', '.join(missing)}); "
            "the first line must name the fields, e.g. `version account-id ... srcaddr dstaddr ...`"
        )
    return FlowSource(path, FlowFormat.VPC_TEXT, names, gzipped)


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, directories walked (S3 and Hive layouts nest by date)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def _vpc_select(available: set[str], ref: dict[str, str]) -> str:
    """Project the normalized columns from VPC fields; `ref` maps VPC name → SQL reference."""
    parts = []
    for column in COLUMNS:
        source = column.vpc_field
        if source is not None and source in available:
            parts.append(f"TRY_CAST({ref[source]} AS {column.sql_type}) AS {column.name}")
        else:
            parts.append(f"CAST(NULL AS {column.sql_type}) AS {column.name}")
    return ", ".join(parts)


def _vpc_text_sql(source: FlowSource) -> str:
    names = source.fields
    columns = ", ".join(f"'{n}': 'VARCHAR'" for n in names if _ident(n))
    compression = "gzip" if source.gzipped else "none"
    table = (
        f"read_csv({_quote_path(source.path)}, delim=' ', header=true, nullstr='-', "
        f"auto_detect=false, columns={{{columns}}}, compression='{compression}', "
        "null_padding=true, ignore_errors=true)"
    )
    ref = {n: _ident(n) for n in names}
    # A concatenated file repeats its header; `srcaddr` = 'srcaddr' marks such lines.
    return f"SELECT {_vpc_select(set(names), ref)} FROM {table} WHERE \"srcaddr\" IS DISTINCT FROM 'srcaddr'"


def _parquet_sql(sources: list[FlowSource]) -> str:
    fields = set(sources[0].fields)
    paths = "[" + ", ".join(_quote_path(s.path) for s in sources) + "]"
    table = f"read_parquet({paths}, union_by_name=true)"
    if {"start_time", "srcaddr", "dstaddr"} <= fields:
        # Already normalized (what the synthetic generator and bench write).
        parts = [
            f"CAST({c.name} AS {c.sql_type}) AS {c.name}"
            if c.name in fields
            else f"CAST(NULL AS {c.sql_type}) AS {c.name}"
            for c in COLUMNS
        ]
        return f"SELECT {', '.join(parts)} FROM {table}"
    ref: dict[str, str] = {}
    available: set[str] = set()
    for column in COLUMNS:
        if column.vpc_field is None:
            continue
        name = parquet_name(column.vpc_field)
        if name in fields:
            ref[column.vpc_field] = _ident(name)
            available.add(column.vpc_field)
    missing = [f for f in REQUIRED_VPC_FIELDS if f not in available]
    if missing:
        raise FlowFileError(f"{sources[0].path}: Parquet file lacks {', '.join(missing)}")
    return f"SELECT {_vpc_select(available, ref)} FROM {table}"


def _nfdump_flags(expr: str) -> str:
    bits = " + ".join(
        f"(CASE WHEN substr({expr}, {i + 1}, 1) NOT IN ('.', '') THEN {TCP_FLAG_BITS[ch]} ELSE 0 END)"
        for i, ch in enumerate(NFDUMP_FLAG_ORDER)
    )
    return f"(CASE WHEN length({expr}) = 8 THEN {bits} ELSE TRY_CAST({expr} AS INTEGER) END)"


def _nfdump_port(expr: str) -> str:
    # ICMP shows as `type.code` in some nfdump versions; NetFlow encodes it as type*256+code.
    return (
        f"(CASE WHEN contains({expr}, '.') THEN "
        f"TRY_CAST(split_part({expr}, '.', 1) AS INTEGER) * 256 + "
        f"TRY_CAST(split_part({expr}, '.', 2) AS INTEGER) ELSE TRY_CAST({expr} AS INTEGER) END)"
    )


def _nfdump_sql(source: FlowSource) -> str:
    names = source.fields
    for required in ("ts", "te", "sa", "da", "pr"):
        if required not in names:
            raise FlowFileError(f"{source.path}: nfdump CSV lacks column {required!r}")
    columns = ", ".join(f"'{n}': 'VARCHAR'" for n in names if _ident(n))
    has_header = names[0] == "ts" and source.fields == tuple(_first_line(source.path)[0].split(","))
    compression = "gzip" if source.gzipped else "none"
    table = (
        f"read_csv({_quote_path(source.path)}, delim=',', quote='\"', header=false, "
        f"skip={1 if has_header else 0}, auto_detect=false, columns={{{columns}}}, "
        f"compression='{compression}', null_padding=true, ignore_errors=true)"
    )
    protocols = " ".join(f"WHEN '{name}' THEN {number}" for name, number in NFDUMP_PROTOCOLS.items())
    protocol = f"(CASE upper(trim(pr)) {protocols} ELSE TRY_CAST(pr AS INTEGER) END)"
    has = set(names)

    def opt(name: str, sql: str, sql_type: str) -> str:
        return sql if name in has else f"CAST(NULL AS {sql_type})"

    select = {
        "start_time": "CAST(floor(epoch(TRY_CAST(ts AS TIMESTAMP))) AS BIGINT)",
        "end_time": "CAST(floor(epoch(TRY_CAST(te AS TIMESTAMP))) AS BIGINT)",
        "srcaddr": "trim(sa)",
        "dstaddr": "trim(da)",
        "srcport": opt("sp", _nfdump_port("sp"), "INTEGER"),
        "dstport": opt("dp", _nfdump_port("dp"), "INTEGER"),
        "protocol": protocol,
        "packets": opt("ipkt", "TRY_CAST(ipkt AS BIGINT)", "BIGINT"),
        "bytes": opt("ibyt", "TRY_CAST(ibyt AS BIGINT)", "BIGINT"),
        "tcp_flags": opt("flg", _nfdump_flags("flg"), "INTEGER"),
    }
    parts = [
        f"{select[c.name]} AS {c.name}" if c.name in select else f"CAST(NULL AS {c.sql_type}) AS {c.name}"
        for c in COLUMNS
    ]
    return f"SELECT {', '.join(parts)} FROM {table} WHERE TRY_CAST(ts AS TIMESTAMP) IS NOT NULL"


def parquet_rows(paths: Iterable[Path], con: duckdb.DuckDBPyConnection) -> int | None:
    """Records in the inputs when all are Parquet (their footers say so), else None.

    Text has no footer: counting its lines would be a read of its own, so the caller
    does without (the detection engine then starts from its default sketch size).
    """
    files = list(expand(paths))
    if not files or not all(path.is_file() and _is_parquet(path) for path in files):
        return None
    listed = "[" + ", ".join(_quote_path(path) for path in files) + "]"
    row = con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata({listed})").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def flows_sql(paths: Iterable[Path], con: duckdb.DuckDBPyConnection | None = None) -> str:
    """One DuckDB SELECT over all inputs, in the normalized schema.

    Parquet files with the same columns share one `read_parquet` (parallel row groups);
    every text file gets its own `read_csv` since each has its own header.
    """
    sources = [sniff(p, con) for p in expand(paths)]
    if not sources:
        raise FlowFileError("no flow files given")
    parts: list[str] = []
    parquet_groups: dict[tuple[str, ...], list[FlowSource]] = {}
    for source in sources:
        if source.format is FlowFormat.VPC_PARQUET:
            parquet_groups.setdefault(tuple(sorted(source.fields)), []).append(source)
        elif source.format is FlowFormat.VPC_TEXT:
            parts.append(_vpc_text_sql(source))
        else:
            parts.append(_nfdump_sql(source))
    parts.extend(_parquet_sql(group) for group in parquet_groups.values())
    return "\nUNION ALL\n".join(parts)
