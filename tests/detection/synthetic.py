"""Labelled synthetic VPC flow logs: benign background, injected abuse, traps and quirks.

Ground truth is exact because we write every record ourselves. The set is built to hurt:
abuse at several intensities including just above and just below each threshold, hosts
that look abusive but are not (a flood victim answering, a mail server with two
smarthosts, a busy web server, an authoritative DNS server, a NAT gateway, an interface
with a secondary address), and the quirks of real flow logs (records delivered late into
the next file, long flows split over windows, one record per direction).

Addresses: ours are 10.0.0.0/16 (private), the rest of the world is 198.18.0.0/15 (the
benchmarking range) and the documentation ranges.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, aligned to every detector window

V5_FIELDS: tuple[str, ...] = (
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status", "tcp-flags",
    "flow-direction", "pkt-srcaddr", "pkt-dstaddr", "instance-id",
)  # fmt: skip
INT_FIELDS = {"version", "srcport", "dstport", "protocol", "tcp-flags"}
LONG_FIELDS = {"packets", "bytes", "start", "end"}

#: Scaled DoS thresholds for the small set (defaults need 210,000 flows per minute);
#: every other detector runs at its published default.
TEST_CONFIG_TOML = """
[dos]
packets_per_second = 200.0
megabits_per_second = 10.0
flows_per_second = 35.0
"""

Record = dict[str, object]


def ext(n: int) -> str:
    """The n-th outside address, in 198.18.0.0/15."""
    return f"198.{18 + (n >> 16) % 2}.{(n >> 8) & 255}.{n & 255}"


@dataclass
class Scenario:
    records: list[Record] = field(default_factory=list)
    #: (rule, address) pairs that must be found
    expected: set[tuple[str, str]] = field(default_factory=set)
    #: addresses that must produce no finding at all
    innocent: set[str] = field(default_factory=set)
    #: (rule, address) pairs injected just below a threshold: must not be found
    below: set[tuple[str, str]] = field(default_factory=set)
    #: expected account per address (checks attribution at the window start)
    accounts: dict[str, str] = field(default_factory=dict)
    inventory_csv: str = ""


class Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.s = Scenario()
        self._port = 0

    def eph(self) -> int:
        self._port = (self._port + 1) % 28000
        return 32768 + self._port

    def rec(
        self, src: str, dst: str, sp: int, dp: int, proto: int, pkts: int, byts: int,
        start: int, flags: int | None, direction: str, *, dur: int = 1,
        action: str = "ACCEPT", pkt_src: str | None = None, instance: str | None = "i-0abc",
    ) -> None:  # fmt: skip
        self.s.records.append({
            "version": 5, "account-id": "123456789012", "interface-id": "eni-0a1b2c",
            "srcaddr": src, "dstaddr": dst, "srcport": sp, "dstport": dp, "protocol": proto,
            "packets": pkts, "bytes": byts, "start": start, "end": start + dur,
            "action": action, "log-status": "OK", "tcp-flags": flags if proto == 6 else 0,
            "flow-direction": direction, "pkt-srcaddr": pkt_src or src, "pkt-dstaddr": dst,
            "instance-id": instance,
        })  # fmt: skip

    def tcp(
        self, client: str, server: str, dport: int, start: int, *, pkts: int = 12,
        byts: int = 3000, reply_pkts: int = 12, reply_bytes: int = 9000, ours_client: bool = True,
        ours_server: bool = False, answered: bool = True, dur: int = 2,
    ) -> None:  # fmt: skip
        """One TCP connection as VPC logs it: client record (SYN|FIN = 3, VPC logs no ACK),
        reply record (SYN-ACK|FIN = 19); each at every logging interface it crosses."""
        sport = self.eph()
        sides = [d for d, ours in (("egress", ours_client), ("ingress", ours_server)) if ours]
        for direction in sides:
            if answered:
                self.rec(client, server, sport, dport, 6, pkts, byts, start, 3, direction, dur=dur)
            else:
                self.rec(client, server, sport, dport, 6, 1, 44, start, 2, direction)
        back = [d for d, ours in (("ingress", ours_client), ("egress", ours_server)) if ours]
        for direction in back:
            if answered:
                self.rec(server, client, dport, sport, 6, reply_pkts, reply_bytes, start, 19,
                         direction, dur=dur)  # fmt: skip

    def udp(
        self, src: str, dst: str, sp: int, dp: int, start: int, pkts: int, byts: int,
        direction: str,
    ) -> None:  # fmt: skip
        self.rec(src, dst, sp, dp, 17, pkts, byts, start, None, direction)


def _benign(b: Builder, hours: int) -> None:
    rng = b.rng
    s = b.s
    servers = [ext(1000 + i) for i in range(60)]
    for h in range(hours):
        base = T0 + h * 3600
        for c in range(10):  # web clients browsing
            client = f"10.0.1.{c + 1}"
            s.innocent.add(client)
            for _ in range(40):
                t = base + rng.randrange(3600)
                b.tcp(client, rng.choice(servers[:15]) if c % 2 else rng.choice(servers), 443, t,
                      pkts=rng.randint(8, 40), reply_bytes=rng.randint(5_000, 500_000))  # fmt: skip
                b.udp(client, "198.51.100.53", b.eph(), 53, t, 1, 70, "egress")
                b.udp("198.51.100.53", client, 53, b._port + 32768, t, 1, 160, "ingress")
        web = "10.0.1.100"  # busy web server: many clients, a few of them failing
        s.innocent.add(web)
        for i in range(2400):
            t = base + rng.randrange(3600)
            b.tcp(ext(5000 + rng.randrange(800)), web, 443, t, ours_client=False, ours_server=True,
                  answered=i % 50 != 0)  # fmt: skip
            if i % 4 == 0:  # the web server talks to its database: ours to ours
                b.tcp(web, "10.0.1.101", 5432, t, ours_server=True)
        s.innocent.add("10.0.1.101")
        mail = "10.0.1.25"  # legitimate mail server: many mails, two smarthosts
        s.innocent.add(mail)
        for _ in range(300):
            b.tcp(mail, rng.choice(["203.0.113.10", "203.0.113.11"]), 25,
                  base + rng.randrange(3600), pkts=25, byts=40_000)  # fmt: skip
        auth = "10.0.1.53"  # authoritative DNS: many askers, modest answers (2-3x)
        s.innocent.add(auth)
        for _ in range(1500):
            t = base + rng.randrange(3600)
            asker, port = ext(20000 + rng.randrange(600)), b.eph()
            b.udp(asker, auth, port, 53, t, 1, 70, "ingress")
            b.udp(auth, asker, 53, port, t, 1, rng.randint(140, 210), "egress")
        bulk = "10.0.1.70"  # long backup flow split into 1-minute records, over every window
        s.innocent.add(bulk)
        sport = b.eph()
        for minute in range(60):
            flags = 2 if minute == 0 and h == 0 else (1 if minute == 59 and h == hours - 1 else 0)
            b.rec(bulk, ext(7), sport, 873, 6, 90_000, 130_000_000, base + minute * 60, flags,
                  "egress", dur=59)  # fmt: skip
            b.rec(ext(7), bulk, 873, sport, 6, 45_000, 2_400_000, base + minute * 60,
                  18 if minute == 0 and h == 0 else 0, "ingress", dur=59)  # fmt: skip
        ci = "10.0.1.23"  # CI host: short git-over-ssh sessions, below brute force
        s.innocent.add(ci)
        for half in range(2):
            for _ in range(24):
                b.tcp(ci, "203.0.113.22", 22, base + half * 1800 + rng.randrange(1700),
                      pkts=14, byts=3500)  # fmt: skip
        monitor = "10.0.1.30"  # health checks: 20 hosts on 443 each minute, completed
        s.innocent.add(monitor)
        for minute in range(0, 60, 3):
            for k in range(20):
                b.tcp(monitor, ext(3000 + k), 443, base + minute * 60 + k, pkts=5, byts=400)
        api = "10.0.1.40"  # API client below crawl rate: 1 connection/s to one server
        s.innocent.add(api)
        for sec in range(0, 3600, 1):
            if rng.random() < 0.95:
                b.tcp(api, ext(4444), 443, base + sec, pkts=6, byts=900)
        victim = "10.0.1.200"  # flood victim: answers SYNs, DNS queries and pings
        s.innocent.add(victim)
        attacker = "198.51.100.66"
        t = base + 600
        for i in range(3000):
            sp = 1024 + i
            b.rec(attacker, victim, sp, 80, 6, 1, 40, t + i % 50, 2, "ingress")
            b.rec(victim, attacker, 80, sp, 6, 1, 44, t + i % 50, 18, "egress")
        for i in range(300):
            sp = 1024 + rng.randrange(60000)
            b.udp(attacker, victim, sp, 53, t + 60 + i % 50, 50, 3500, "ingress")
            b.udp(victim, attacker, 53, sp, t + 60 + i % 50, 50, 9000, "egress")
        for i in range(40):
            b.rec(attacker, victim, 0, 0, 1, 400, 33_600, t + 120 + i, None, "ingress")
            b.rec(victim, attacker, 0, 0, 1, 400, 33_600, t + 120 + i, None, "egress")
        for i in range(200):  # UDP flood to a closed high port, answered with a few ICMP
            b.udp(attacker, victim, 40000 + i, 7777, t + 180 + i % 50, 80, 6000, "ingress")
        b.rec(victim, attacker, 0, 0, 1, 60, 3360, t + 180, None, "egress")
        nat = "10.0.1.5"  # NAT gateway interface forwards others' sources: instance-id "-"
        s.innocent.add(nat)
        for i in range(50):
            b.rec(nat, ext(9000 + i), b.eph(), 443, 6, 10, 2000, base + i * 60, 3, "egress",
                  pkt_src=f"10.0.9.{i % 20 + 1}", instance=None)  # fmt: skip
        second = "10.0.1.150"  # secondary address of the same interface (same account)
        s.innocent.add(second)
        for i in range(30):
            b.rec(second, ext(9100 + i), b.eph(), 443, 6, 10, 2000, base + i * 100, 3, "egress",
                  pkt_src="10.0.1.151")  # fmt: skip


def _scan(b: Builder, base: int) -> None:
    rng = b.rng
    for n, targets in enumerate((20, 24, 27, 60, 500)):
        host = f"10.0.2.{10 + n}"
        key = ("scan.horizontal", host)
        (b.s.expected if targets >= 25 else b.s.below).add(key)
        for k in range(targets):
            t = base + 10 + rng.randrange(240)
            dst = ext(30000 + n * 1000 + k)
            if k % 7 == 0:  # open port: SYN-ACK back, scanner resets (SYN|RST = 6)
                sp = b.eph()
                b.rec(host, dst, sp, 22, 6, 2, 84, t, 6, "egress")
                b.rec(dst, host, 22, sp, 6, 1, 44, t, 18, "ingress")
            else:
                b.rec(host, dst, b.eph(), 22, 6, 1, 44, t, 2, "egress")
    for n, ports in enumerate((12, 14, 17, 100, 1000)):
        host = f"10.0.2.{30 + n}"
        key = ("scan.vertical", host)
        (b.s.expected if ports >= 15 else b.s.below).add(key)
        dst = ext(40000 + n)
        for port in range(1, ports + 1):
            t = base + 10 + rng.randrange(240)
            b.rec(host, dst, 40000 + n, port, 6, 1 + port % 2, 44 * (1 + port % 2), t, 2, "egress")
            b.rec(dst, host, port, 40000 + n, 6, 1, 40, t, 4, "ingress")  # RST: closed


def _bruteforce(b: Builder, base: int) -> None:
    rng = b.rng
    for n, (sessions, port, targets) in enumerate(
        ((25, 22, 1), (29, 22, 1), (33, 22, 1), (200, 22, 1), (150, 3389, 3), (31, 3389, 1))
    ):
        host = f"10.0.2.{50 + n}"
        rule = "bruteforce.ssh" if port == 22 else "bruteforce.rdp"
        (b.s.expected if sessions >= 30 else b.s.below).add((rule, host))
        for k in range(sessions):
            b.tcp(host, ext(50000 + n * 10 + k % targets), port, base + 10 + rng.randrange(1700),
                  pkts=rng.randint(12, 20), byts=rng.randint(2500, 4500))  # fmt: skip


def _dos(b: Builder, base: int) -> None:
    rng = b.rng
    flows_needed = 35 * 60  # scaled: 2,100 flows/min
    for n, factor in enumerate((0.8, 1.1, 5.0)):
        host = f"10.0.3.{10 + n}"
        (b.s.expected if factor >= 1 else b.s.below).add(("dos.syn_flood", host))
        target = ext(60000 + n)
        for i in range(int(flows_needed * factor)):
            b.rec(host, target, 1024 + i % 60000, 80, 6, 1, 40, base + 5 + i % 50, 2, "egress")
            if i % 3 == 0:  # the target answers some; the flooder's kernel resets
                b.rec(target, host, 80, 1024 + i % 60000, 6, 1, 44, base + 5 + i % 50, 18,
                      "ingress")  # fmt: skip
    packets_needed = 200 * 60  # scaled: 12,000 packets/min
    for n, factor in enumerate((0.7, 1.2, 8.0)):
        host = f"10.0.3.{20 + n}"
        (b.s.expected if factor >= 1 else b.s.below).add(("dos.udp_flood", host))
        target = ext(61000 + n)
        for i in range(40):
            b.udp(host, target, 2000 + i, 123, base + 5 + i, int(packets_needed * factor / 40),
                  int(packets_needed * factor / 40) * 60, "egress")  # fmt: skip
    host = "10.0.3.30"  # ICMP flood, VPC logs: no type, half the pings answered
    b.s.expected.add(("dos.icmp_flood", host))
    target = ext(62000)
    for i in range(30):
        b.rec(host, target, 0, 0, 1, 2000, 168_000, base + 5 + i, None, "egress")
        b.rec(target, host, 0, 0, 1, 1000, 84_000, base + 5 + i, None, "ingress")
    host = "10.0.3.31"  # UDP flood between high ports, target silent
    b.s.expected.add(("dos.udp_flood", host))
    for i in range(50):
        b.udp(host, ext(62100), 40000 + rng.randrange(20000), 27015, base + 5 + i, 600, 600_000,
              "egress")  # fmt: skip


def _spam(b: Builder, base: int) -> None:
    rng = b.rng
    for n, servers in enumerate((45, 49, 55, 300)):
        host = f"10.0.3.{40 + n}"
        (b.s.expected if servers >= 50 else b.s.below).add(("spam.smtp_fanout", host))
        for k in range(servers):
            for _ in range(rng.randint(1, 3)):
                b.tcp(host, ext(70000 + n * 1000 + k), 25, base + 10 + rng.randrange(580),
                      pkts=15, byts=8000, answered=k % 20 != 0)  # fmt: skip


def _crawl(b: Builder, base: int) -> None:
    rng = b.rng
    for n, rate in enumerate((1.5, 1.9, 2.5, 6.0)):
        host = f"10.0.3.{60 + n}"
        (b.s.expected if rate >= 2.0 else b.s.below).add(("crawl.http", host))
        target = ext(80000 + n)
        for i in range(int(rate * 600)):
            b.tcp(host, target, 443 if n % 2 else 80, base + int(i / rate), pkts=8, byts=700,
                  reply_bytes=rng.randint(10_000, 80_000))  # fmt: skip


def _resolver(b: Builder, base: int) -> None:
    rng = b.rng
    for n, (sources, answer) in enumerate(((40, 3000), (45, 3000), (300, 3000), (400, 120))):
        host = f"10.0.3.{80 + n}"
        rule = ("open_resolver.dns", host)
        if sources >= 50 and answer >= 600:
            b.s.expected.add(rule)
        elif answer >= 600:
            b.s.below.add(rule)
        else:
            b.s.innocent.add(host)
        for k in range(sources):
            for _ in range(3):
                t, port = base + 10 + rng.randrange(270), b.eph()
                asker = ext(90000 + n * 1000 + k)
                b.udp(asker, host, port, 53, t, 1, 64, "ingress")
                b.udp(host, asker, 53, port, t, 2, answer, "egress")


def _spoofing(b: Builder, base: int) -> None:
    host = "10.0.3.100"  # random forged sources
    b.s.expected.add(("spoofing.source", host))
    for i in range(200):
        b.rec(host, ext(100000 + i), 1024 + i, 53, 17, 1, 60, base + 10 + i % 250, None, "egress",
              pkt_src=ext(110000 + i * 7))  # fmt: skip
    host = "10.0.3.101"  # one forged source, a few packets
    b.s.expected.add(("spoofing.source", host))
    b.rec(host, "203.0.113.80", 5555, 123, 17, 3, 180, base + 20, None, "egress",
          pkt_src="203.0.113.99")  # fmt: skip


def generate(seed: int = 7, hours: int = 2) -> Scenario:
    """The labelled set. Abuse is injected in hour 1; hour 0 holds the reassigned block."""
    b = Builder(seed)
    _benign(b, hours)
    base = T0 + 3600
    _scan(b, base)
    _bruteforce(b, base)
    _dos(b, base + 1800)
    _spam(b, base + 1800)
    _crawl(b, base + 2400)
    _resolver(b, base + 1800)
    _spoofing(b, base + 1800)
    # Reassigned block: 10.0.4.0/24 moves from acct-old to acct-new at T0 + 1800.
    for host, start, account in (("10.0.4.5", T0 + 600, "acct-old"), ("10.0.4.6", T0 + 2400, "acct-new")):
        b.s.expected.add(("scan.vertical", host))
        b.s.accounts[host] = account
        for port in range(1, 41):
            b.rec(host, ext(120000), 41000, port, 6, 1, 44, start + port, 2, "egress")
    # Not ours: an outside scanner probing our hosts (ingress) must not be reported.
    for k in range(100):
        b.rec(ext(130000), f"10.0.1.{k + 1}", 50000, 23, 6, 1, 44, base + k, 2, "ingress")
    b.s.innocent.add(ext(130000))
    b.s.inventory_csv = "\n".join([
        "account,kind,value,valid_from,valid_to",
        "acct-benign,cidr,10.0.1.0/24,2025-01-01T00:00:00Z,",
        "acct-two,cidr,10.0.2.0/24,2025-01-01T00:00:00Z,",
        "acct-three,cidr,10.0.3.0/24,2025-01-01T00:00:00Z,",
        "acct-old,cidr,10.0.4.0/24,2025-01-01T00:00:00Z,2026-01-01T00:30:00Z",
        "acct-new,cidr,10.0.4.0/24,2026-01-01T00:30:00Z,",
    ]) + "\n"  # fmt: skip
    for _rule, host in b.s.expected:
        b.s.accounts.setdefault(host, "acct-two" if host.startswith("10.0.2.") else "acct-three")
    return b.s


def _batches(records: list[Record], seed: int, file_seconds: int = 300) -> Iterator[list[Record]]:
    """Group records into delivery files by start time; 5 % arrive late, in the next file."""
    rng = random.Random(seed)
    files: dict[int, list[Record]] = {}
    for record in records:
        start = int(str(record["start"]))
        slot = start // file_seconds + (1 if rng.random() < 0.05 else 0)
        files.setdefault(slot, []).append(record)
    for slot in sorted(files):
        batch = files[slot]
        rng.shuffle(batch)
        yield batch


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def write_vpc_text(scenario: Scenario, directory: Path, *, gz: bool = True,
                   fields: tuple[str, ...] = V5_FIELDS, seed: int = 1) -> list[Path]:  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, batch in enumerate(_batches(scenario.records, seed)):
        path = directory / f"123456789012_vpcflowlogs_{number:04d}.log{'.gz' if gz else ''}"
        lines = [" ".join(fields)]
        lines += [" ".join(_text(r.get(f)) for f in fields) for r in batch]
        data = ("\n".join(lines) + "\n").encode()
        path.write_bytes(gzip.compress(data) if gz else data)
        paths.append(path)
    return paths


def parquet_table(records: list[Record], fields: tuple[str, ...] = V5_FIELDS) -> pa.Table:
    """VPC Parquet layout: underscores for hyphens, INT_32/INT_64 per the AWS schema."""
    columns = {}
    for f in fields:
        kind = pa.int32() if f in INT_FIELDS else pa.int64() if f in LONG_FIELDS else pa.string()
        columns[f.replace("-", "_")] = pa.array([r.get(f) for r in records], type=kind)
    return pa.table(columns)


def write_vpc_parquet(scenario: Scenario, directory: Path, seed: int = 1) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, batch in enumerate(_batches(scenario.records, seed, file_seconds=1800)):
        path = directory / f"part-{number:04d}.parquet"
        pq.write_table(parquet_table(batch), path)
        paths.append(path)
    return paths
