"""The detectors, each written once as SQL in DuckDB's dialect.

Every engine runs the same text: DuckDB directly, Spark after `sqlglot` translates it
(`engine.py`). That is why the SQL sticks to the portable core (CASE, FILTER, bitwise
`&`, `%`, `approx_count_distinct`, `count(DISTINCT ...)`) and returns only integers:
rates and confidence are computed in Python from those integers, so two engines cannot
disagree in the last decimal.

The raw flows are read twice (more only when a saturated sketch is refined). `hot_sql` reads the few columns that
tell which sources are busy enough to crawl or to flood, counted per hash bucket of the
source address; `prefilter_sql`, given those buckets, keeps in `cand` the records any
detector can use: small SYN probes, REJECTs, new connections to the watched ports, DNS,
forged packet sources, and the web and UDP/ICMP records of hot buckets only. Established
web and UDP traffic, the bulk of real traffic, never leaves the second read. Each
detector then reads `cand`, which is small.

Every detector returns `window_start, address, kind, score, threshold, <metrics...>`:
one row per (window, address, kind) where `score >= threshold` held exactly.

Requests versus replies (REFERENCE.md §4.3, the CTU-13 trap): a flood victim that answers
must not look like an attacker. Rules count only request-class records: TCP SYN probes
(SYN without ACK or FIN; SYN-ACK = 18 is a reply), UDP from an ephemeral to a service port,
ICMP echo/timestamp requests where the exporter gives the type. Traffic that cannot be
classified (both ports high, VPC ICMP without a type) counts only when the host sent more
packets to the peer than the peer sent back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from abusedesk.detection.config import DetectionConfig
from abusedesk.policy.taxonomy import Category

#: Records logged where the host sends (or where direction is unknown).
OUT = "(flow_direction IS NULL OR flow_direction = 'egress')"
#: Records logged where the host receives.
IN = "(flow_direction IS NULL OR flow_direction = 'ingress')"
#: nfdump ICMP type*256+code of requests: echo (8), timestamp (13), ICMPv6 echo (128).
ICMP_REQUEST_PORTS = "(2048, 3328, 32768)"
#: Protocols the volume floods count: UDP, ICMP, ICMPv6.
VOLUME = "(protocol IN (17, 1, 58))"
#: Hash buckets of the activity sketch (`hot_sql`), a power of two: small enough for the
#: group-by to stay in cache, large enough that an ordinary bucket stays far below the
#: crawl threshold (20 M flows an hour: ~230 web connections per bucket and window).
BUCKETS = 8192
#: When more than 1/`SATURATED` of the buckets are hot the sketch is too coarse for the
#: traffic; the activity read is repeated with 16 times the buckets, up to `MAX_BUCKETS`.
SATURATED = 8
MAX_BUCKETS = 131072
#: Up to this many hot buckets are tested as a literal IN list. DuckDB compares an IN list
#: element by element, so a longer set is looked up in a bitmap of 32-bit words instead.
SHORT_LIST = 32


def _window(seconds: int) -> str:
    return f"(start_time - start_time % {int(seconds)})"


def _ports(ports: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(p)) for p in ports) + ")"


def _syn_probe(c: DetectionConfig) -> str:
    """A small TCP record carrying SYN but no ACK or FIN: an attempt nobody completed."""
    s = c.scan
    return (
        f"(protocol = 6 AND packets <= {s.probe_max_packets} "
        f"AND bytes <= {s.probe_max_bytes_per_packet} * packets "
        "AND (tcp_flags IS NULL OR (tcp_flags & 2 = 2 AND tcp_flags & 17 = 0)))"
    )


def _new_connection() -> str:
    """The record that opened a connection (VPC logs never show ACK, so SYN is the signal)."""
    return "(tcp_flags IS NULL OR tcp_flags & 2 = 2)"


def _near(threshold: float, c: DetectionConfig) -> str:
    """Lower bound for the HLL candidate pass: a margin below the exact threshold."""
    return repr(float(threshold) * (1.0 - c.engine.approx_margin))


def _crawl_row(c: DetectionConfig) -> str:
    """A completed new connection to a web port, sent by the host."""
    return (
        f"(protocol = 6 AND dstport IN {_ports(c.crawl.ports)} AND {_new_connection()} "
        f"AND packets > {c.scan.probe_max_packets} AND {OUT})"
    )


def _bruteforce_row(c: DetectionConfig) -> str:
    """A short completed session to a login port: one guess."""
    b = c.bruteforce
    return (
        f"(protocol = 6 AND dstport IN {_ports(b.ssh_ports + b.rdp_ports)} AND {_new_connection()} "
        f"AND packets > {c.scan.probe_max_packets} AND bytes < {b.max_session_bytes})"
    )


def _spam_row(c: DetectionConfig) -> str:
    """A new connection to an SMTP port."""
    return f"(protocol = 6 AND dstport IN {_ports(c.spam.ports)} AND {_new_connection()})"


def _resolver_row(c: DetectionConfig) -> str:
    """A DNS query received, or an answer sent, by the host."""
    port = int(c.open_resolver.port)
    return (
        f"(protocol = 17 AND ((dstport = {port} AND {IN}) "
        f"OR (srcport = {port} AND dstport <> {port} AND {OUT})))"
    )


def _spoof_row() -> str:
    """An egress record of an instance whose packets carry another source address."""
    return f"(pkt_srcaddr IS NOT NULL AND pkt_srcaddr <> srcaddr AND instance_id IS NOT NULL AND {OUT})"


def _dos_limits(c: DetectionConfig) -> tuple[int, int, int]:
    """Packets, bytes and flows per DoS window that make a flood (FastNetMon rates x window)."""
    d = c.dos
    seconds = d.window_seconds
    return (
        int(d.packets_per_second * seconds),
        int(d.megabits_per_second * 1_000_000 / 8 * seconds),
        int(d.flows_per_second * seconds),
    )


def _bucket(column: str, buckets: int) -> str:
    """The sketch bucket of an address: a few bits of its hash, no parsing of the text.

    BIGINT, because DuckDB's hash is unsigned and unsigned plus signed is a 128-bit
    integer, which would make the sketch key slow to hash and compare."""
    return f"CAST(hash({column}) & {int(buckets) - 1} AS BIGINT)"


def _sketch_window(c: DetectionConfig) -> int:
    """One window for both sketched rules: a multiple of each rule's window, so every rule
    window lies inside one sketch window and its counts are at most the sketch's."""
    return math.lcm(int(c.crawl.window_seconds), int(c.dos.window_seconds))


def hot_sql(c: DetectionConfig, buckets: int = BUCKETS, source: str = "flows") -> str:
    """First read: the source buckets busy enough, in some window, to crawl or to flood.

    Web connections and UDP are most of all traffic, so `cand` cannot keep them. This read
    takes only the columns it needs (no destination, no packet source; its filters go into
    the Parquet scan), hashes the source into one of `buckets` buckets and counts per
    (sketch window, bucket): tens of thousands of groups instead of one per address, so
    the group-by stays in cache. A bucket's count in a sketch window is at least any of
    its sources' counts in any rule window inside it, so every source that can reach a
    threshold is in a hot bucket (exact: never a miss); a cold source stays below the
    threshold, and so does every part of its traffic. Returns `kind` (1 crawl, 2 volume)
    and `b`, one row per hot bucket.
    """
    k = c.crawl
    need = int(k.connections_per_second * k.window_seconds)
    pkts, byts, flows = _dos_limits(c)
    b = int(buckets)
    # One integer key per (window, kind, bucket): a single key column is what makes the
    # group-by cheap; `key % 2b` is the kind (below b: web) and the bucket.
    return f"""
SELECT CASE WHEN key % {2 * b} < {b} THEN 1 ELSE 2 END AS kind, key % {b} AS b FROM (
  SELECT {_window(_sketch_window(c))} * {2 * b} + CASE WHEN protocol = 6 THEN 0 ELSE {b} END
         + {_bucket("srcaddr", b)} AS key,
         count(*) AS flows, sum(packets) AS packets, sum(bytes) AS bytes
  FROM {source}
  WHERE {_crawl_row(c)} OR ({VOLUME} AND {OUT})
  GROUP BY 1
) activity
WHERE (key % {2 * b} < {b} AND flows >= {need})
   OR (key % {2 * b} >= {b} AND (flows >= {flows} OR packets >= {pkts} OR bytes >= {byts}))
GROUP BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class HotBuckets:
    """The result of `hot_sql`: which buckets' web and volume records `cand` must keep.

    They go into the second read as constants (`_in_buckets`: a short IN list, else a
    bitmap), tested inside its filter; an IN over a table would be a join that every
    record of the read must pass through.
    """

    buckets: int = BUCKETS
    crawl: frozenset[int] = frozenset()
    volume: frozenset[int] = frozenset()

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]], buckets: int = BUCKETS) -> HotBuckets:
        """From `(kind, b)` rows as either engine returns them."""
        crawl: set[int] = set()
        volume: set[int] = set()
        for kind, bucket in rows:
            (crawl if int(kind) == 1 else volume).add(int(bucket))
        return cls(buckets, frozenset(crawl), frozenset(volume))

    @property
    def saturated(self) -> bool:
        """Too many hot buckets: `cand` would keep most web or UDP records; sketch finer."""
        limit = self.buckets // SATURATED
        return self.buckets < MAX_BUCKETS and (len(self.crawl) > limit or len(self.volume) > limit)


def initial_buckets(rows: int | None) -> int:
    """About one bucket per 2,500 records when the input's size is known (20 M: 8,192), so a
    big input does not first fill a small sketch and read everything a second time."""
    buckets = BUCKETS
    while rows is not None and buckets < MAX_BUCKETS and rows > buckets * 2500:
        buckets *= 2
    return buckets


def find_hot(
    query: Callable[[str], Iterable[Sequence[Any]]], c: DetectionConfig, rows: int | None = None
) -> HotBuckets:
    """Run `hot_sql` through `query` (an engine's "rows of this SQL"), finer until not saturated."""
    buckets = initial_buckets(rows)
    while True:
        hot = HotBuckets.from_rows(query(hot_sql(c, buckets)), buckets)
        if not hot.saturated:
            return hot
        buckets *= 16


def _in_buckets(column: str, hot: HotBuckets, chosen: frozenset[int]) -> str:
    """Whether the record's bucket is one of `chosen`, at a cost that does not grow with them."""
    if not chosen:
        return "FALSE"
    bucket = _bucket(column, hot.buckets)
    if len(chosen) <= SHORT_LIST:
        return f"{bucket} IN ({', '.join(str(b) for b in sorted(chosen))})"
    words = [0] * ((hot.buckets + 31) // 32)
    for b in chosen:
        words[b >> 5] |= 1 << (b & 31)
    bitmap = "[" + ", ".join(str(w) for w in words) + "]"
    # Explicit casts: Spark shifts an INT by the amount modulo 32 and takes INT positions.
    word = f"CAST({bitmap}[CAST(({bucket} >> 5) + 1 AS INTEGER)] AS BIGINT)"
    return f"(({word} >> CAST({bucket} & 31 AS INTEGER)) & 1) = 1"


def prefilter_sql(c: DetectionConfig, hot: HotBuckets, source: str = "flows") -> str:
    """Second and last read: every record a detector can use, nothing else (`cand`).

    Cheap integer tests decide almost every row; the packet source is compared only on
    egress records (spoofing), and an address is hashed only for web and volume records,
    whose source (or, for the replies `dos_sql` weighs, destination) must be in a hot bucket.
    """
    return f"""
SELECT start_time, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes,
       tcp_flags, action, flow_direction, pkt_srcaddr, instance_id
FROM {source}
WHERE srcaddr IS NOT NULL AND dstaddr IS NOT NULL AND start_time IS NOT NULL
  AND packets IS NOT NULL AND bytes IS NOT NULL
  AND (
       action = 'REJECT'
    OR {_syn_probe(c)}
    OR {_bruteforce_row(c)}
    OR {_spam_row(c)}
    OR {_resolver_row(c)}
    OR {_spoof_row()}
    OR ({_crawl_row(c)} AND {_in_buckets("srcaddr", hot, hot.crawl)})
    OR ({VOLUME} AND {OUT} AND {_in_buckets("srcaddr", hot, hot.volume)})
    OR ({VOLUME} AND {IN} AND {_in_buckets("dstaddr", hot, hot.volume)})
  )
"""


def scan_sql(c: DetectionConfig) -> str:
    s = c.scan
    return f"""
WITH p AS (
  SELECT {_window(s.window_seconds)} AS w, srcaddr, dstaddr, dstport
  FROM cand
  WHERE {_syn_probe(c)} OR action = 'REJECT'
),
h_approx AS (
  SELECT w, srcaddr, dstport FROM p GROUP BY w, srcaddr, dstport
  HAVING approx_count_distinct(dstaddr) >= {_near(s.horizontal_targets, c)}
),
h AS (
  SELECT p.w, p.srcaddr, p.dstport, count(DISTINCT p.dstaddr) AS n
  FROM p JOIN h_approx a ON p.w = a.w AND p.srcaddr = a.srcaddr AND p.dstport = a.dstport
  GROUP BY p.w, p.srcaddr, p.dstport
  HAVING count(DISTINCT p.dstaddr) >= {s.horizontal_targets}
),
v_approx AS (
  SELECT w, srcaddr, dstaddr FROM p GROUP BY w, srcaddr, dstaddr
  HAVING approx_count_distinct(dstport) >= {_near(s.vertical_ports, c)}
),
v AS (
  SELECT p.w, p.srcaddr, p.dstaddr, count(DISTINCT p.dstport) AS n
  FROM p JOIN v_approx a ON p.w = a.w AND p.srcaddr = a.srcaddr AND p.dstaddr = a.dstaddr
  GROUP BY p.w, p.srcaddr, p.dstaddr
  HAVING count(DISTINCT p.dstport) >= {s.vertical_ports}
)
SELECT w AS window_start, srcaddr AS address, 'horizontal' AS kind, max(n) AS score,
       {s.horizontal_targets} AS threshold, count(*) AS ports_scanned, sum(n) AS probed_targets,
       CAST(NULL AS BIGINT) AS hosts_scanned, CAST(NULL AS BIGINT) AS probed_ports
FROM h GROUP BY w, srcaddr
UNION ALL
SELECT w AS window_start, srcaddr AS address, 'vertical' AS kind, max(n) AS score,
       {s.vertical_ports} AS threshold, CAST(NULL AS BIGINT) AS ports_scanned,
       CAST(NULL AS BIGINT) AS probed_targets, count(*) AS hosts_scanned, sum(n) AS probed_ports
FROM v GROUP BY w, srcaddr
"""


def bruteforce_sql(c: DetectionConfig) -> str:
    b = c.bruteforce
    return f"""
WITH s AS (
  SELECT {_window(b.window_seconds)} AS w, srcaddr, dstaddr, dstport, srcport
  FROM cand
  WHERE {_bruteforce_row(c)}
)
SELECT w AS window_start, srcaddr AS address, CAST(dstport AS VARCHAR) AS kind,
       count(DISTINCT dstaddr || ':' || CAST(srcport AS VARCHAR)) AS score,
       {b.sessions} AS threshold, count(DISTINCT dstaddr) AS targets
FROM s GROUP BY w, srcaddr, dstport
HAVING count(DISTINCT dstaddr || ':' || CAST(srcport AS VARCHAR)) >= {b.sessions}
"""


def _triple(prefix: str, condition: str) -> str:
    """Flows, packets and bytes of the records matching `condition`, as three columns."""
    return (
        f"count(*) FILTER (WHERE {condition}) AS {prefix}_flows, "
        f"coalesce(sum(packets) FILTER (WHERE {condition}), 0) AS {prefix}_packets, "
        f"coalesce(sum(bytes) FILTER (WHERE {condition}), 0) AS {prefix}_bytes"
    )


def dos_sql(c: DetectionConfig) -> str:
    """Floods per target. What the peer sent back (`rev`) is its UDP/ICMP records only:
    `cand` holds all of those towards hot sources, so the sum never depends on what else
    `cand` keeps for other detectors."""
    seconds = c.dos.window_seconds
    pkts, byts, flows = _dos_limits(c)
    over = f"(packets >= {pkts} OR bytes >= {byts} OR flows >= {flows})"
    request_udp = "(srcport >= 1024 AND dstport < 1024)"
    reply_udp = "(srcport < 1024 AND dstport >= 1024)"
    return f"""
WITH base AS (
  SELECT {_window(seconds)} AS w, srcaddr, dstaddr, srcport, dstport, protocol,
         packets, bytes, tcp_flags, action
  FROM cand WHERE {OUT}
),
syn AS (
  SELECT w, srcaddr, dstaddr, count(*) AS flows, sum(packets) AS packets, sum(bytes) AS bytes
  FROM base WHERE {_syn_probe(c)}
  GROUP BY w, srcaddr, dstaddr, dstport
),
busy AS (
  SELECT w, srcaddr FROM base WHERE {VOLUME}
  GROUP BY w, srcaddr
  HAVING count(*) >= {flows} OR sum(packets) >= {pkts} OR sum(bytes) >= {byts}
),
pairs AS (
  SELECT base.w, base.srcaddr, dstaddr,
    {_triple("udp_req", f"protocol = 17 AND {request_udp}")},
    {_triple("udp_amb", f"protocol = 17 AND NOT {request_udp} AND NOT {reply_udp}")},
    {_triple("icmp_req", f"protocol IN (1, 58) AND dstport IN {ICMP_REQUEST_PORTS}")},
    {_triple("icmp_amb", "protocol IN (1, 58) AND (dstport IS NULL OR dstport = 0)")}
  FROM base JOIN busy ON base.w = busy.w AND base.srcaddr = busy.srcaddr
  WHERE {VOLUME}
  GROUP BY base.w, base.srcaddr, dstaddr
  HAVING count(*) >= {flows} OR sum(packets) >= {pkts} OR sum(bytes) >= {byts}
),
rev AS (
  SELECT p.w, p.srcaddr, p.dstaddr, sum(r.packets) AS packets
  FROM cand r JOIN pairs p
    ON r.srcaddr = p.dstaddr AND r.dstaddr = p.srcaddr
   AND (r.start_time - r.start_time % {int(seconds)}) = p.w
  WHERE {IN.replace("flow_direction", "r.flow_direction")}
    AND {VOLUME.replace("protocol", "r.protocol")}
  GROUP BY p.w, p.srcaddr, p.dstaddr
),
counted AS (
  SELECT p.w, p.srcaddr, p.dstaddr, coalesce(r.packets, 0) AS reverse_packets,
    p.udp_req_flows + CASE WHEN p.udp_amb_packets > coalesce(r.packets, 0)
                           THEN p.udp_amb_flows ELSE 0 END AS udp_flows,
    p.udp_req_packets + CASE WHEN p.udp_amb_packets > coalesce(r.packets, 0)
                             THEN p.udp_amb_packets ELSE 0 END AS udp_packets,
    p.udp_req_bytes + CASE WHEN p.udp_amb_packets > coalesce(r.packets, 0)
                           THEN p.udp_amb_bytes ELSE 0 END AS udp_bytes,
    p.icmp_req_flows + CASE WHEN p.icmp_amb_packets > coalesce(r.packets, 0)
                            THEN p.icmp_amb_flows ELSE 0 END AS icmp_flows,
    p.icmp_req_packets + CASE WHEN p.icmp_amb_packets > coalesce(r.packets, 0)
                              THEN p.icmp_amb_packets ELSE 0 END AS icmp_packets,
    p.icmp_req_bytes + CASE WHEN p.icmp_amb_packets > coalesce(r.packets, 0)
                            THEN p.icmp_amb_bytes ELSE 0 END AS icmp_bytes
  FROM pairs p LEFT JOIN rev r
    ON p.w = r.w AND p.srcaddr = r.srcaddr AND p.dstaddr = r.dstaddr
),
hits AS (
  SELECT w, srcaddr, dstaddr, 'syn' AS kind, flows, packets, bytes FROM syn WHERE {over}
  UNION ALL
  SELECT w, srcaddr, dstaddr, 'udp' AS kind, udp_flows AS flows, udp_packets AS packets,
         udp_bytes AS bytes FROM counted
  WHERE udp_flows >= {flows} OR udp_packets >= {pkts} OR udp_bytes >= {byts}
  UNION ALL
  SELECT w, srcaddr, dstaddr, 'icmp' AS kind, icmp_flows AS flows, icmp_packets AS packets,
         icmp_bytes AS bytes FROM counted
  WHERE icmp_flows >= {flows} OR icmp_packets >= {pkts} OR icmp_bytes >= {byts}
)
SELECT w AS window_start, srcaddr AS address, kind,
       max(greatest(CAST(packets AS DOUBLE) / {pkts if pkts else 1},
                    CAST(bytes AS DOUBLE) / {byts if byts else 1},
                    CAST(flows AS DOUBLE) / {flows if flows else 1})) AS score,
       1 AS threshold, count(DISTINCT dstaddr) AS targets, sum(flows) AS flows,
       sum(packets) AS packets, sum(bytes) AS bytes, max(packets) AS max_target_packets,
       max(flows) AS max_target_flows
FROM hits GROUP BY w, srcaddr, kind
"""


def spam_sql(c: DetectionConfig) -> str:
    s = c.spam
    return f"""
WITH m AS (
  SELECT {_window(s.window_seconds)} AS w, srcaddr, dstaddr
  FROM cand WHERE {_spam_row(c)}
),
a AS (
  SELECT w, srcaddr FROM m GROUP BY w, srcaddr
  HAVING approx_count_distinct(dstaddr) >= {_near(s.distinct_servers, c)}
)
SELECT m.w AS window_start, m.srcaddr AS address, 'smtp' AS kind,
       count(DISTINCT m.dstaddr) AS score, {s.distinct_servers} AS threshold,
       count(*) AS connections
FROM m JOIN a ON m.w = a.w AND m.srcaddr = a.srcaddr
GROUP BY m.w, m.srcaddr
HAVING count(DISTINCT m.dstaddr) >= {s.distinct_servers}
"""


def crawl_sql(c: DetectionConfig) -> str:
    k = c.crawl
    need = int(k.connections_per_second * k.window_seconds)
    # `cand` holds the web records of hot source buckets only (hot_sql): every source that
    # can reach `need` is there with all its records. Connections are distinct source
    # ports: split records of one long flow share theirs.
    return f"""
WITH x AS (
  SELECT {_window(k.window_seconds)} AS w, srcaddr, dstaddr, srcport,
         start_time - start_time % 60 AS minute
  FROM cand WHERE {_crawl_row(c)}
),
e AS (
  SELECT w, srcaddr, dstaddr, count(DISTINCT srcport) AS n, count(DISTINCT minute) AS minutes
  FROM x GROUP BY w, srcaddr, dstaddr
  HAVING count(DISTINCT srcport) >= {need} AND count(DISTINCT minute) >= {k.min_active_minutes}
)
SELECT w AS window_start, srcaddr AS address, 'http' AS kind, max(n) AS score,
       {need} AS threshold, count(*) AS targets, sum(n) AS connections,
       min(minutes) AS active_minutes
FROM e GROUP BY w, srcaddr
"""


def open_resolver_sql(c: DetectionConfig) -> str:
    r = c.open_resolver
    port = int(r.port)
    return f"""
WITH d AS (
  SELECT {_window(r.window_seconds)} AS w,
         CASE WHEN dstport = {port} THEN dstaddr ELSE srcaddr END AS host,
         CASE WHEN dstport = {port} THEN srcaddr END AS asker,
         CASE WHEN dstport = {port} THEN bytes ELSE 0 END AS query_bytes,
         CASE WHEN dstport = {port} THEN 0 ELSE bytes END AS answer_bytes
  FROM cand
  WHERE {_resolver_row(c)}
),
a AS (
  SELECT w, host FROM d GROUP BY w, host
  HAVING approx_count_distinct(asker) >= {_near(r.distinct_sources, c)}
     AND sum(query_bytes) > 0
     AND sum(answer_bytes) >= {float(r.amplification)} * sum(query_bytes)
)
SELECT d.w AS window_start, d.host AS address, 'dns' AS kind,
       count(DISTINCT d.asker) AS score, {r.distinct_sources} AS threshold,
       sum(d.query_bytes) AS query_bytes, sum(d.answer_bytes) AS answer_bytes
FROM d JOIN a ON d.w = a.w AND d.host = a.host
GROUP BY d.w, d.host
HAVING count(DISTINCT d.asker) >= {r.distinct_sources}
"""


def spoofing_sql(c: DetectionConfig) -> str:
    s = c.spoofing
    return f"""
WITH f AS (
  SELECT {_window(s.window_seconds)} AS w, srcaddr, pkt_srcaddr, count(*) AS flows,
         sum(packets) AS packets
  FROM cand
  WHERE {_spoof_row()}
  GROUP BY 1, 2, 3
),
per AS (
  SELECT w, srcaddr, count(*) AS forged_sources, sum(flows) AS flows, sum(packets) AS packets
  FROM f GROUP BY w, srcaddr HAVING sum(packets) >= {s.min_packets}
)
SELECT per.w AS window_start, per.srcaddr AS address, 'source' AS kind,
       per.packets AS score, {s.min_packets} AS threshold, per.forged_sources, per.flows,
       per.packets, f.pkt_srcaddr AS forged, f.packets AS forged_packets
FROM per JOIN f ON per.w = f.w AND per.srcaddr = f.srcaddr
WHERE per.forged_sources <= {s.list_limit}
UNION ALL
SELECT w AS window_start, srcaddr AS address, 'source' AS kind, packets AS score,
       {s.min_packets} AS threshold, forged_sources, flows, packets,
       CAST(NULL AS VARCHAR) AS forged, CAST(NULL AS BIGINT) AS forged_packets
FROM per WHERE forged_sources > {s.list_limit}
"""


@dataclass(frozen=True, slots=True)
class Detector:
    """A detector: its SQL, its window, and how its `kind` values name rules."""

    name: str
    sql: Callable[[DetectionConfig], str]
    window: Callable[[DetectionConfig], int]
    rules: Callable[[str, DetectionConfig], tuple[str, Category]]


def _bruteforce_rule(kind: str, c: DetectionConfig) -> tuple[str, Category]:
    port = int(kind)
    service = "ssh" if port in c.bruteforce.ssh_ports else "rdp"
    return f"bruteforce.{service}", Category.SECURITY_BRUTEFORCE


DETECTORS: tuple[Detector, ...] = (
    Detector("scan", scan_sql, lambda c: c.scan.window_seconds,
             lambda k, c: (f"scan.{k}", Category.SECURITY_SCAN)),
    Detector("bruteforce", bruteforce_sql, lambda c: c.bruteforce.window_seconds, _bruteforce_rule),
    Detector("dos", dos_sql, lambda c: c.dos.window_seconds,
             lambda k, c: (f"dos.{k}_flood", Category.NETWORK_DOS)),
    Detector("spam", spam_sql, lambda c: c.spam.window_seconds,
             lambda k, c: ("spam.smtp_fanout", Category.EMAIL_SPAM)),
    Detector("crawl", crawl_sql, lambda c: c.crawl.window_seconds,
             lambda k, c: ("crawl.http", Category.NETWORK_CRAWLING)),
    Detector("open_resolver", open_resolver_sql, lambda c: c.open_resolver.window_seconds,
             lambda k, c: ("open_resolver.dns", Category.NETWORK_OPEN_RESOLVER)),
    Detector("spoofing", spoofing_sql, lambda c: c.spoofing.window_seconds,
             lambda k, c: ("spoofing.source", Category.SECURITY_SPOOFING)),
)  # fmt: skip
