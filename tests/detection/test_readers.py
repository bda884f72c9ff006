"""Readers: every supported layout lands in the one normalized schema."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from abusedesk.detection.config import ConfigError, DetectionConfig, config_from_mapping, load_config
from abusedesk.detection.engine import duckdb_connection
from abusedesk.detection.readers import FlowFileError, FlowFormat, flows_sql, sniff
from abusedesk.detection.schema import COLUMN_NAMES

V2_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
)


def rows(*paths: Path) -> list[dict[str, object]]:
    con = duckdb_connection(DetectionConfig())
    cursor = con.execute(f"SELECT * FROM ({flows_sql(list(paths), con)}) ORDER BY start_time, srcaddr")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_vpc_v2_default_format_gzip(tmp_path: Path) -> None:
    text = "\n".join([
        V2_HEADER,
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
        "1418530010 1418530070 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    ]) + "\n"  # fmt: skip
    path = tmp_path / "flows.log.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert sniff(path).format is FlowFormat.VPC_TEXT
    got = rows(path)
    assert list(got[0]) == list(COLUMN_NAMES)
    first = got[0]
    assert first["srcaddr"] == "172.31.16.139"
    assert first["dstport"] == 22
    assert first["packets"] == 20
    assert first["start_time"] == 1418530010
    assert first["tcp_flags"] is None  # v2 has no tcp-flags: NULL, not 0
    assert got[1]["srcaddr"] is None and got[1]["log_status"] == "NODATA"


def test_vpc_custom_order_and_subset(tmp_path: Path) -> None:
    path = tmp_path / "custom.log"
    path.write_text(
        "flow-direction start srcaddr tcp-flags dstaddr pkt-srcaddr dstport end\n"
        "egress 1700000000 10.0.0.5 2 198.18.0.1 198.18.9.9 443 1700000001\n"
        "flow-direction start srcaddr tcp-flags dstaddr pkt-srcaddr dstport end\n"
        "ingress 1700000002 198.18.0.1 18 10.0.0.5 - 5555 1700000003\n"
    )
    got = rows(path)
    assert len(got) == 2  # the repeated header of a concatenated file is skipped
    assert got[0]["flow_direction"] == "egress" and got[0]["tcp_flags"] == 2
    assert got[0]["pkt_srcaddr"] == "198.18.9.9"
    assert got[1]["pkt_srcaddr"] is None and got[1]["protocol"] is None


def test_vpc_parquet_underscores(tmp_path: Path) -> None:
    path = tmp_path / "flows.parquet"
    table = pa.table({
        "srcaddr": ["10.0.0.1"], "dstaddr": ["198.18.0.2"], "dstport": pa.array([25], pa.int32()),
        "protocol": pa.array([6], pa.int32()), "start": pa.array([1700000000], pa.int64()),
        "tcp_flags": pa.array([3], pa.int32()), "pkt_srcaddr": ["10.0.0.1"],
        "flow_direction": ["egress"],
    })  # fmt: skip
    pq.write_table(table, path)
    assert sniff(path).format is FlowFormat.VPC_PARQUET
    (row,) = rows(path)
    assert row["tcp_flags"] == 3 and row["dstport"] == 25 and row["bytes"] is None


NFDUMP_HEADER = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,"
    "nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,"
    "mpls9,mpls10,cl,sl,al,ra,eng,exid,tr"
)
NFDUMP_TAIL = (
    ",0,0,0,0,0,0,0,0,0,0,0.0.0.0,0.0.0.0,0,0,00:00:00:00:00:00,00:00:00:00:00:00,"
    "00:00:00:00:00:00,00:00:00:00:00:00,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,0-0-0,"
    "0-0-0,0-0-0,0.000,0.000,0.000,0.0.0.0,0/0,0,1970-01-01 00:00:00.000"
)
NFDUMP_ROWS = [
    "2026-01-01 10:00:01,2026-01-01 10:00:01,0.000,10.99.0.2,10.99.0.3,40001,80,TCP,......S.,0,0,1,40" + NFDUMP_TAIL,
    "2026-01-01 10:00:02.250,2026-01-01 10:00:03.000,1.000,10.99.0.3,10.99.0.2,80,40001,TCP,"
    "...A.R..,0,0,1,40" + NFDUMP_TAIL,
    "2026-01-01 10:00:04,2026-01-01 10:00:04,0.000,10.99.0.2,10.99.0.3,0,8.0,ICMP,........,0,0,3,252" + NFDUMP_TAIL,
]


def test_nfdump_csv_with_header_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "flows.csv"
    summary = ["", "Summary", "flows,bytes,packets,avg_bps,avg_pps,avg_bpp", "3,332,5,0,0,66"]
    path.write_text("\n".join([NFDUMP_HEADER, *NFDUMP_ROWS, *summary]) + "\n")
    got = rows(path)
    assert len(got) == 3  # the Summary block is not a flow
    syn, rst, icmp = got
    assert syn["start_time"] == 1767261601  # read as UTC (export with TZ=UTC)
    assert syn["protocol"] == 6 and syn["tcp_flags"] == 2
    assert rst["tcp_flags"] == 16 + 4 and rst["start_time"] == 1767261602
    assert icmp["protocol"] == 1 and icmp["dstport"] == 8 * 256  # echo request


def test_nfdump_quiet_has_no_header(tmp_path: Path) -> None:
    path = tmp_path / "quiet.csv"
    path.write_text("\n".join(NFDUMP_ROWS) + "\n")
    source = sniff(path)
    assert source.format is FlowFormat.NFDUMP_CSV
    assert len(rows(path)) == 3


@pytest.mark.parametrize(
    "content",
    ["", "hello world\n", "a,b,c\n1,2,3\n"],
)
def test_unreadable_files_are_clear_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(FlowFileError, match=str(path)):
        sniff(path)


def test_field_names_are_not_sql(tmp_path: Path) -> None:
    path = tmp_path / "evil.log"
    path.write_text('srcaddr dstaddr start x");DROP\n10.0.0.1 10.0.0.2 1 2\n')
    with pytest.raises(FlowFileError, match="identifier"):
        rows(path)


def test_config_overrides_and_rejects_unknown(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("[scan]\nhorizontal_targets = 10\n[crawl]\nports = [80]\n")
    config = load_config(path)
    assert config.scan.horizontal_targets == 10 and config.crawl.ports == (80,)
    assert config.scan.vertical_ports == 15  # untouched defaults stay published values
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_mapping({"scan": {"horizontal": 3}})
    with pytest.raises(ConfigError, match="non-negative"):
        config_from_mapping({"dos": {"packets_per_second": -1}})
