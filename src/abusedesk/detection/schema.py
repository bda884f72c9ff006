"""The one normalized flow schema every reader produces and every detector reads.

Flow sources disagree on names (`start` vs `ts`), types (text vs INT_32) and what they
carry at all (v2 VPC logs have no `tcp-flags`). Detectors are written once against this
schema, so a reader's only job is to map its source onto it and put NULL where a field is
missing; a detector that needs a missing field then degrades instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    """A normalized column: its SQL type and the VPC Flow Logs field it comes from."""

    name: str
    sql_type: str
    vpc_field: str | None
    nfdump_field: str | None
    doc: str


#: Column order is the order of the normalized relation `flows`.
COLUMNS: tuple[Column, ...] = (
    Column("start_time", "BIGINT", "start", "ts", "Unix seconds of the first packet"),
    Column("end_time", "BIGINT", "end", "te", "Unix seconds of the last packet"),
    Column("srcaddr", "VARCHAR", "srcaddr", "sa", "source address as logged by the interface"),
    Column("dstaddr", "VARCHAR", "dstaddr", "da", "destination address"),
    Column("srcport", "INTEGER", "srcport", "sp", "source port (0 for ICMP in VPC logs)"),
    Column(
        "dstport",
        "INTEGER",
        "dstport",
        "dp",
        "destination port; nfdump puts ICMP type*256+code here",
    ),
    Column("protocol", "INTEGER", "protocol", "pr", "IANA protocol number (6 TCP, 17 UDP, 1 ICMP)"),
    Column("packets", "BIGINT", "packets", "ipkt", "packets in this record"),
    Column("bytes", "BIGINT", "bytes", "ibyt", "bytes in this record"),
    Column(
        "tcp_flags",
        "INTEGER",
        "tcp-flags",
        "flg",
        "OR of TCP flags; VPC logs only FIN, SYN, RST, SYN-ACK",
    ),
    Column("action", "VARCHAR", "action", None, "ACCEPT or REJECT (security group / NACL decision)"),
    Column(
        "flow_direction",
        "VARCHAR",
        "flow-direction",
        None,
        "ingress or egress at the logging interface",
    ),
    Column(
        "pkt_srcaddr",
        "VARCHAR",
        "pkt-srcaddr",
        None,
        "packet-level source; differs from srcaddr when forged",
    ),
    Column("pkt_dstaddr", "VARCHAR", "pkt-dstaddr", None, "packet-level destination"),
    Column("interface_id", "VARCHAR", "interface-id", None, "the logging interface (ENI)"),
    Column("instance_id", "VARCHAR", "instance-id", None, "'-' (NULL) on requester-managed interfaces"),
    Column("log_status", "VARCHAR", "log-status", None, "OK, NODATA or SKIPDATA"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

#: Fields without which no detector can run: a file lacking them is rejected with a clear error.
REQUIRED_VPC_FIELDS: tuple[str, ...] = ("srcaddr", "dstaddr", "start")

#: nfdump's `pr` is a name; these are the ones exporters print (anything else: try a number).
NFDUMP_PROTOCOLS: dict[str, int] = {
    "ICMP": 1,
    "IGMP": 2,
    "TCP": 6,
    "UDP": 17,
    "GRE": 47,
    "ESP": 50,
    "AH": 51,
    "ICMP6": 58,
    "SCTP": 132,
}

#: nfdump prints TCP flags as 8 characters in this order, `.` for unset (`......S.` = SYN).
NFDUMP_FLAG_ORDER = "CEUAPRSF"
TCP_FLAG_BITS: dict[str, int] = {
    "C": 128,
    "E": 64,
    "U": 32,
    "A": 16,
    "P": 8,
    "R": 4,
    "S": 2,
    "F": 1,
}

#: `nfdump -o csv` header of nfdump 1.7 (Debian 12), used for `-q` exports, which have none.
NFDUMP_CSV_FIELDS: tuple[str, ...] = (
    "ts", "te", "td", "sa", "da", "sp", "dp", "pr", "flg", "fwd", "stos", "ipkt", "ibyt",
    "opkt", "obyt", "in", "out", "sas", "das", "smk", "dmk", "dtos", "dir", "nh", "nhb",
    "svln", "dvln", "ismc", "odmc", "idmc", "osmc",
    "mpls1", "mpls2", "mpls3", "mpls4", "mpls5", "mpls6", "mpls7", "mpls8", "mpls9", "mpls10",
    "cl", "sl", "al", "ra", "eng", "exid", "tr",
)  # fmt: skip


def parquet_name(vpc_field: str) -> str:
    """VPC Parquet files spell hyphenated fields with underscores (`tcp-flags` → `tcp_flags`)."""
    return vpc_field.replace("-", "_")
