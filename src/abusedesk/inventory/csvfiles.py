"""The inventory CSV formats of DESIGN.md.

``account,kind,value,valid_from,valid_to`` (times ISO 8601 UTC, empty ``valid_to`` = still
held) and the optional ``account,name,email,status``. Rows are checked one by one and every
error names its line, so an operator can fix a 100,000-line export in one pass.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from abusedesk.inventory.index import Holding, InventoryKind, canonical_network
from abusedesk.timeutil import parse_timestamp

RESOURCE_HEADER = ("account", "kind", "value", "valid_from", "valid_to")
ACCOUNT_HEADER = ("account", "name", "email", "status")
ACCOUNT_STATUSES = ("active", "suspended", "terminated")


class InventoryFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the inventory file:\n  {shown}{more}")


@dataclass(frozen=True, slots=True)
class AccountRow:
    account: str
    name: str
    email: str
    status: str


def _rows(text: str, header: tuple[str, ...], source: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    fields = tuple(f.strip() for f in (reader.fieldnames or ()))
    missing = [h for h in header if h not in fields]
    if missing:
        raise InventoryFileError([f"{source}: header lacks {', '.join(missing)} (expected {','.join(header)})"])
    for number, row in enumerate(reader, start=2):
        yield number, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}


def parse_resources(text: str, *, source: str = "inventory") -> list[Holding]:
    holdings: list[Holding] = []
    problems: list[str] = []
    for line, row in _rows(text, RESOURCE_HEADER, source):
        try:
            kind = InventoryKind(row["kind"])
        except ValueError:
            problems.append(f"{source}:{line}: kind {row['kind']!r} is not one of ip, cidr, domain, email_domain")
            continue
        if not row["account"]:
            problems.append(f"{source}:{line}: account is empty")
            continue
        try:
            value = canonical_network(kind, row["value"])
            valid_from = parse_timestamp(row["valid_from"])
            valid_to: datetime | None = parse_timestamp(row["valid_to"]) if row["valid_to"] else None
        except ValueError as exc:
            problems.append(f"{source}:{line}: {exc}")
            continue
        if valid_to is not None and valid_to <= valid_from:
            problems.append(f"{source}:{line}: valid_to {row['valid_to']} is not after valid_from")
            continue
        holdings.append(Holding(row["account"], kind, value, valid_from, valid_to))
    if problems:
        raise InventoryFileError(problems)
    return holdings


def parse_accounts(text: str, *, source: str = "accounts") -> list[AccountRow]:
    accounts: list[AccountRow] = []
    problems: list[str] = []
    for line, row in _rows(text, ACCOUNT_HEADER, source):
        status = row["status"] or "active"
        if status not in ACCOUNT_STATUSES:
            problems.append(f"{source}:{line}: status {status!r} is not one of {', '.join(ACCOUNT_STATUSES)}")
            continue
        if not row["account"]:
            problems.append(f"{source}:{line}: account is empty")
            continue
        accounts.append(AccountRow(row["account"], row["name"], row["email"], status))
    if problems:
        raise InventoryFileError(problems)
    return accounts


def load_index_file(path: Path) -> list[Holding]:
    """Holdings from a resources CSV on disk (used without a database, e.g. by ``detect``)."""
    return parse_resources(path.read_text("utf-8"), source=str(path))
