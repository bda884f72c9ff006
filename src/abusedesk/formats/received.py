"""Who really sent a forwarded mail: reading a ``Received:`` chain from the top.

The top headers were added by the complainant's own servers (and ours); only they are
trustworthy. Walking down, the first hop whose sending address is neither internal nor the
complainant's own is the last *external* hop: the address that handed the spam to the
complainant, hence the subject. Everything below it may be forged by the spammer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from abusedesk.formats.textextract import IPV4_RE, is_internal_ip, registered_domain, within
from abusedesk.resources import normalize_ip
from abusedesk.timeutil import parse_timestamp

_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)", re.IGNORECASE)
_BRACKETED = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{3,45})\]")
_PAREN_IPV6 = re.compile(r"\((?:IPv6:)?([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})\)")
_RDNS = re.compile(r"\(\s*([A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,63})\.?\s+\[")
_HELO = re.compile(r"helo[= ]+([^\s;()\]]+)", re.IGNORECASE)
_MAX_HOPS = 50


@dataclass(frozen=True, slots=True)
class Hop:
    raw: str
    from_ip: str | None
    #: reverse DNS as the receiving server saw it; else the name the sender claimed
    from_host: str | None
    by_host: str | None
    received_at: datetime | None


def parse_hop(raw: str) -> Hop:
    text = " ".join(raw.split())
    head, _, date_text = text.rpartition(";")
    if not head:
        head, date_text = text, ""
    by_match = _BY.search(head)
    from_part = head[: by_match.start()] if by_match else head
    by_host = by_match.group(1).lower().rstrip(".") if by_match else None

    from_ip: str | None = None
    for candidate in _BRACKETED.findall(from_part) + _PAREN_IPV6.findall(from_part):
        try:
            from_ip = normalize_ip(candidate)
            break
        except ValueError:
            continue
    if from_ip is None:
        match = IPV4_RE.search(from_part)
        if match:
            from_ip = match.group(0)
    host_match = _RDNS.search(from_part) or _FROM.search(from_part) or _HELO.search(from_part)
    from_host = host_match.group(1).lower().rstrip(".") if host_match else None
    if from_host and from_host.startswith("["):
        from_host = None
    received_at = None
    if date_text.strip():
        try:
            received_at = parse_timestamp(date_text)
        except ValueError:
            received_at = None
    return Hop(raw, from_ip, from_host, by_host, received_at)


def hop_ips(received: list[str]) -> set[str]:
    """Every sending address in a chain; used to mark the complainant's own servers."""
    return {hop.from_ip for hop in (parse_hop(r) for r in received[:_MAX_HOPS]) if hop.from_ip}


def hop_domains(received: list[str], *, senders_only: bool = False) -> set[str]:
    """Registered domains of the servers in a chain (senders, and receivers unless told)."""
    out: set[str] = set()
    for hop in (parse_hop(r) for r in received[:_MAX_HOPS]):
        for host in (hop.from_host,) if senders_only else (hop.from_host, hop.by_host):
            if host:
                domain = registered_domain(host)
                if domain:
                    out.add(domain)
    return out


def last_external_hop(received: list[str], own_domains: set[str], own_ips: set[str]) -> tuple[Hop | None, list[str]]:
    """The first hop, from the top, that came from outside; and why others were skipped."""
    skipped: list[str] = []
    for raw in received[:_MAX_HOPS]:
        hop = parse_hop(raw)
        if hop.from_ip is None:
            skipped.append("no sending address")
            continue
        if is_internal_ip(hop.from_ip):
            skipped.append(f"{hop.from_ip}: internal address")
            continue
        if hop.from_ip in own_ips:
            skipped.append(f"{hop.from_ip}: complainant's own server")
            continue
        from_domain = registered_domain(hop.from_host) if hop.from_host else None
        if from_domain and within(from_domain, own_domains):
            skipped.append(f"{hop.from_ip}: {hop.from_host} belongs to the complainant")
            continue
        by_domain = registered_domain(hop.by_host) if hop.by_host else None
        if from_domain and by_domain and from_domain == by_domain and hop.from_host != hop.by_host:
            skipped.append(f"{hop.from_ip}: relay inside {by_domain}")
            continue
        return hop, skipped
    return None, skipped
