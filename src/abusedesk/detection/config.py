"""Detector thresholds: one typed object, published defaults, each with its source.

Thresholds are policy, not code: an operator tunes them to their network (and the lab
test shrinks them to the few thousand packets a test may send), so every number lives
here, is documented with where it comes from (REFERENCE.md §4.3) and can be overridden by
a TOML file whose tables mirror the dataclasses below.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Zeek `scan.zeek`: 25 hosts failed on one port / 15 ports failed on one host in 5 min."""

    window_seconds: int = 300
    #: distinct destinations probed on one port (Zeek `addr_scan`: 25 in 5 min)
    horizontal_targets: int = 25
    #: distinct ports probed on one destination (Zeek `port_scan`: 15 in 5 min)
    vertical_ports: int = 15
    #: a probe flow has at most this many packets (nmap SYN probes: 1-2, lab §5)
    probe_max_packets: int = 3
    #: ... and at most this many bytes per packet (SYN 40-60 B, REFERENCE §4.3 flow-level scan)
    probe_max_bytes_per_packet: int = 64


@dataclass(frozen=True, slots=True)
class BruteforceConfig:
    """Zeek `detect-bruteforcing.zeek`: 30 failed logins in 30 min; sessions < 5,500 B failed."""

    window_seconds: int = 1800
    sessions: int = 30
    max_session_bytes: int = 5500
    ssh_ports: tuple[int, ...] = (22,)
    rdp_ports: tuple[int, ...] = (3389,)


@dataclass(frozen=True, slots=True)
class DosConfig:
    """FastNetMon defaults per host: 20,000 pps, 1,000 Mbps, 3,500 flows/s.

    Averaged over 60 s: FastNetMon's NetFlow guide asks for an average longer than the
    router's flow timeouts (>= 45 s), or one long flow looks like a burst.
    """

    window_seconds: int = 60
    packets_per_second: float = 20_000.0
    megabits_per_second: float = 1_000.0
    flows_per_second: float = 3_500.0


@dataclass(frozen=True, slots=True)
class SpamConfig:
    """Distinct tcp/25 servers per source in 10 min (REFERENCE §4.5: nunique(dst) > 50 per 600 s).

    Legitimate mail servers deliver through a few smarthosts or to the MX hosts of their
    own correspondents; bots spread over many MX hosts.
    """

    window_seconds: int = 600
    distinct_servers: int = 50
    ports: tuple[int, ...] = (25,)


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    """CrowdSec `http-crawl-non_statics` leaks one request per 0.5 s: a sustained rate above
    2 new connections/s to one address overflows it. Sustained = active in several minutes."""

    window_seconds: int = 600
    connections_per_second: float = 2.0
    min_active_minutes: int = 5
    ports: tuple[int, ...] = (80, 443)


@dataclass(frozen=True, slots=True)
class OpenResolverConfig:
    """Open reflector: inbound udp/53 from many sources, answers >= ~10x the queries
    (REFERENCE §4.3, CISA TA14-017A). The source count is ours: a resolver meant for its
    own customers answers a handful of addresses, not dozens of strangers."""

    window_seconds: int = 300
    distinct_sources: int = 50
    amplification: float = 10.0
    port: int = 53


@dataclass(frozen=True, slots=True)
class SpoofingConfig:
    """One forged packet leaving the network proves missing egress filtering (BCP 38; the
    CAIDA Spoofer / Shadowserver IP-Spoofer reports flag on a single packet)."""

    window_seconds: int = 300
    min_packets: int = 1
    #: above this many distinct forged sources per interface no secondary-address check is
    #: needed (an AWS interface holds at most 50 addresses)
    list_limit: int = 64


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """HLL (`approx_count_distinct`, ~0.8-2 % error, REFERENCE §4.4) finds candidates; groups
    within `approx_margin` of a threshold are recounted exactly, so the decision is exact and
    identical on every engine."""

    approx_margin: float = 0.15
    memory_limit: str = "3GB"
    threads: int = 2


@dataclass(frozen=True, slots=True)
class DetectionConfig:
    scan: ScanConfig = field(default_factory=ScanConfig)
    bruteforce: BruteforceConfig = field(default_factory=BruteforceConfig)
    dos: DosConfig = field(default_factory=DosConfig)
    spam: SpamConfig = field(default_factory=SpamConfig)
    crawl: CrawlConfig = field(default_factory=CrawlConfig)
    open_resolver: OpenResolverConfig = field(default_factory=OpenResolverConfig)
    spoofing: SpoofingConfig = field(default_factory=SpoofingConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)


class ConfigError(ValueError):
    """A threshold file that does not match the schema; the message names the key."""


def _coerce(section: str, name: str, default: Any, value: Any) -> Any:
    where = f"[{section}] {name}"
    if isinstance(default, bool):
        raise ConfigError(f"{where}: booleans are not configurable")
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
            raise ConfigError(f"{where}: expected a list of integers, got {value!r}")
        return tuple(value)
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: expected a non-negative integer, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: expected a non-negative number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def config_from_mapping(data: dict[str, Any], base: DetectionConfig | None = None) -> DetectionConfig:
    """Overlay a parsed TOML mapping on `base`; unknown tables or keys are errors, not ignored."""
    config = base or DetectionConfig()
    updates: dict[str, Any] = {}
    known = {f.name for f in fields(DetectionConfig)}
    for section, values in data.items():
        if section not in known:
            raise ConfigError(f"unknown table [{section}]; known: {', '.join(sorted(known))}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table")
        current = getattr(config, section)
        names = {f.name: getattr(current, f.name) for f in fields(current)}
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in names:
                raise ConfigError(f"[{section}] unknown key {key!r}; known: {', '.join(sorted(names))}")
            changes[key] = _coerce(section, key, names[key], value)
        updates[section] = replace(current, **changes)
    return replace(config, **updates)


def load_config(path: Path | None) -> DetectionConfig:
    """Defaults, overridden by the TOML file at `path` when one is given."""
    if path is None:
        return DetectionConfig()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return config_from_mapping(data)
