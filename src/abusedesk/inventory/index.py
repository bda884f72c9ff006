"""In-memory attribution: which account held an address, domain or URL at a moment.

Kept in memory because attribution sits on the hot path of every report and every flow
finding: a dict per prefix length answers "most specific CIDR containing this IP" with a
handful of hash lookups instead of a range scan. Intervals are half-open,
``valid_from <= t < valid_to``; an open ``valid_to`` means "still held".
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

from abusedesk.resources import Resource, ResourceKind, normalize_domain, url_host

_FOREVER = float("inf")


class InventoryKind(StrEnum):
    IP = "ip"
    CIDR = "cidr"
    DOMAIN = "domain"
    EMAIL_DOMAIN = "email_domain"


@dataclass(frozen=True, slots=True)
class Holding:
    """One row of the inventory: an account held a resource during an interval."""

    account: str
    kind: InventoryKind
    value: str
    valid_from: datetime
    valid_to: datetime | None = None
    resource_id: int | None = None


@dataclass(frozen=True, slots=True)
class Attribution:
    account: str
    holding: Holding
    resource: Resource


@lru_cache(maxsize=1)
def public_suffixes() -> PublicSuffixList:
    """The bundled public suffix list; never fetched over the network."""
    return PublicSuffixList()


def registrable_domain(name: str) -> str | None:
    """``www.example.co.uk`` → ``example.co.uk``; ``None`` for a bare public suffix."""
    result = public_suffixes().privatesuffix(name)
    return str(result) if result else None


def is_public_suffix(name: str) -> bool:
    return bool(public_suffixes().is_public(name))


def canonical_network(kind: InventoryKind, value: str) -> str:
    """Normalize an inventory value; raises ``ValueError`` with the reason."""
    if kind is InventoryKind.IP:
        return str(ipaddress.ip_address(value.strip()))
    if kind is InventoryKind.CIDR:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    name = normalize_domain(value)
    if is_public_suffix(name):
        raise ValueError(f"{name!r} is a public suffix; nobody can hold all of it")
    return name


def _ts(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


# Entries are tuples for speed: (valid_from, valid_to, holding)
_Entry = tuple[float, float, Holding]


def _pick(entries: list[_Entry], at: float) -> Holding | None:
    best: _Entry | None = None
    for entry in entries:
        if entry[0] <= at < entry[1] and (best is None or entry[0] > best[0]):
            best = entry
    return best[2] if best else None


def _ip_int(text: str) -> tuple[int, int]:
    """(version, integer) of an address, with the fast path for dotted quads."""
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    address = ipaddress.ip_address(text.strip().strip("[]"))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return 4, int(address.ipv4_mapped)
    return address.version, int(address)


class AttributionIndex:
    """Answers ``who held X at T``; build it once, query it many times."""

    def __init__(self, holdings: Iterable[Holding] = ()) -> None:
        # version -> prefix length -> network int -> entries
        self._nets: dict[int, dict[int, dict[int, list[_Entry]]]] = {4: {}, 6: {}}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}
        self._domains: dict[str, list[_Entry]] = {}
        self._email_domains: dict[str, list[_Entry]] = {}
        self.size = 0
        for holding in holdings:
            self.add(holding)

    def add(self, holding: Holding) -> None:
        entry: _Entry = (
            _ts(holding.valid_from),
            _ts(holding.valid_to) if holding.valid_to else _FOREVER,
            holding,
        )
        if holding.kind in (InventoryKind.IP, InventoryKind.CIDR):
            network = ipaddress.ip_network(holding.value, strict=False)
            by_length = self._nets[network.version]
            if network.prefixlen not in by_length:
                by_length[network.prefixlen] = {}
                self._lengths[network.version] = sorted(by_length, reverse=True)
            by_length[network.prefixlen].setdefault(int(network.network_address), []).append(entry)
        elif holding.kind is InventoryKind.DOMAIN:
            self._domains.setdefault(holding.value, []).append(entry)
        else:
            self._email_domains.setdefault(holding.value, []).append(entry)
        self.size += 1

    # ---- queries -------------------------------------------------------------------

    def lookup_ip(self, ip: str, at: datetime | float | None = None) -> Holding | None:
        """The most specific network holding ``ip`` at ``at`` (default: now)."""
        when = _when(at)
        try:
            version, number = _ip_int(ip)
        except ValueError:
            return None
        bits = 32 if version == 4 else 128
        by_length = self._nets[version]
        for length in self._lengths[version]:
            key = (number >> (bits - length)) << (bits - length) if length else 0
            entries = by_length[length].get(key)
            if entries:
                found = _pick(entries, when)
                if found is not None:
                    return found
        return None

    def lookup_domain(self, name: str, at: datetime | float | None = None) -> Holding | None:
        """The holder of ``name`` or of its closest parent, up to the registrable domain."""
        when = _when(at)
        return self._walk_domains(self._domains, name, when)

    def lookup_email(self, address: str, at: datetime | float | None = None) -> Holding | None:
        """Mail domains first (``email_domain``), then web domains."""
        when = _when(at)
        domain = address.rpartition("@")[2]
        return self._walk_domains(self._email_domains, domain, when) or self._walk_domains(
            self._domains, domain, when
        )

    def lookup(self, resource: Resource, at: datetime | float | None = None) -> Holding | None:
        when = _when(at)
        if resource.kind is ResourceKind.IP:
            return self.lookup_ip(resource.value, when)
        if resource.kind is ResourceKind.DOMAIN:
            return self.lookup_domain(resource.value, when)
        if resource.kind is ResourceKind.EMAIL:
            return self.lookup_email(resource.value, when)
        host = url_host(resource.value)
        if host is None:
            return None
        if ":" in host or host.replace(".", "").isdigit():
            return self.lookup_ip(host, when)
        return self.lookup_domain(host, when)

    def attribute(
        self, resources: Iterable[Resource], at: datetime | float | None = None
    ) -> Attribution | None:
        """The first resource, in the order given, that someone held at ``at``."""
        when = _when(at)
        for resource in resources:
            holding = self.lookup(resource, when)
            if holding is not None:
                return Attribution(holding.account, holding, resource)
        return None

    def _walk_domains(self, table: dict[str, list[_Entry]], name: str, when: float) -> Holding | None:
        if not table:
            return None
        try:
            host = normalize_domain(name)
        except ValueError:
            return None
        stop = registrable_domain(host)
        if stop is None:
            return None
        candidate = host
        while True:
            entries = table.get(candidate)
            if entries:
                found = _pick(entries, when)
                if found is not None:
                    return found
            if candidate == stop or "." not in candidate:
                return None
            candidate = candidate.split(".", 1)[1]


def _when(at: datetime | float | None) -> float:
    if at is None:
        return datetime.now(UTC).timestamp()
    if isinstance(at, datetime):
        return _ts(at)
    return at
