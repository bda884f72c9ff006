"""Real traffic: nmap, hping3, swaks and iperf3 between network namespaces, captured by
fprobe → nfcapd → nfdump CSV, then `detect` (REFERENCE.md §5.2 recipe, §5.3 gotchas).

The test builds everything itself with unique names, sends traffic only between the
namespaces it created, bounds every tool in count and time, stops daemons by their own
pid only, and deletes the namespaces in `finally`. Lab volumes are tiny (a few thousand
packets), so the DoS and spam thresholds are scaled in LAB_CONFIG; scans use the
published defaults. Spam needs 10 of the 30 mail hosts, so a run straddling a window
boundary still shows one window over the threshold.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from abusedesk.detection.config import config_from_mapping
from abusedesk.detection.run import detect_flows
from abusedesk.inventory.csvfiles import parse_resources
from abusedesk.inventory.index import AttributionIndex

TOOLS = ("ip", "ss", "nfcapd", "nfdump", "fprobe", "nmap", "hping3", "swaks", "iperf3", "timeout")
CUSTOMER, VICTIM, BENIGN = "10.99.0.2", "10.99.0.3", "10.99.0.4"
MAIL_HOSTS = [f"10.99.0.{n}" for n in range(10, 40)]  # extra addresses of the victim
LAB_CONFIG = """
[dos]
flows_per_second = 20.0
packets_per_second = 200.0
megabits_per_second = 10.0
[spam]
distinct_servers = 10
"""

pytestmark = pytest.mark.root


def _skip_reason() -> str | None:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux to create network namespaces (run the root-marked tests as root)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools {', '.join(missing)}: apt-get install $(cat .ci/apt-packages.txt)"
    return None


def run(*args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=check)


def ns(name: str, *args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", name, *args, timeout=timeout, check=check)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Our own child, by its pid: SIGTERM (fprobe flushes its cache), then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for_port(namespace: str, port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        listening = ns(namespace, "ss", "-ltn", f"sport = :{port}", check=False).stdout
        if f":{port}" in listening:
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} in {namespace}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Path]:
    """Runs the traffic, yields the nfdump CSV; always tears everything down."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    uid = secrets.token_hex(3)
    a, v, b = f"lab_a_{uid}", f"lab_v_{uid}", f"lab_b_{uid}"
    spool = tmp_path / "nf"
    spool.mkdir()
    pidfile = tmp_path / "nfcapd.pid"
    children: list[subprocess.Popen[bytes]] = []
    created: list[str] = []
    try:
        for name in (a, v, b):
            run("ip", "netns", "add", name)
            created.append(name)
        run("ip", "link", "add", f"la{uid}", "type", "veth", "peer", "name", f"va{uid}")
        run("ip", "link", "add", f"lb{uid}", "type", "veth", "peer", "name", f"vb{uid}")
        run("ip", "link", "set", f"la{uid}", "netns", a)
        run("ip", "link", "set", f"lb{uid}", "netns", b)
        run("ip", "link", "set", f"va{uid}", "netns", v)
        run("ip", "link", "set", f"vb{uid}", "netns", v)
        bridge = f"br{uid}"
        ns(v, "ip", "link", "add", bridge, "type", "bridge")
        for link in (f"va{uid}", f"vb{uid}"):
            ns(v, "ip", "link", "set", link, "master", bridge)
            ns(v, "ip", "link", "set", link, "up")
        ns(v, "ip", "link", "set", bridge, "up")
        ns(v, "ip", "link", "set", "lo", "up")
        for address in (VICTIM, *MAIL_HOSTS):
            ns(v, "ip", "addr", "add", f"{address}/24", "dev", bridge)
        ns(a, "ip", "addr", "add", f"{CUSTOMER}/24", "dev", f"la{uid}")
        ns(a, "ip", "link", "set", f"la{uid}", "up")
        ns(b, "ip", "addr", "add", f"{BENIGN}/24", "dev", f"lb{uid}")
        ns(b, "ip", "link", "set", f"lb{uid}", "up")
        # collector first (v9/IPFIX data before its template is lost), big socket buffer
        ns(v, "nfcapd", "-D", "-p", "9995", "-b", "127.0.0.1", "-w", str(spool), "-t", "60",
           "-B", "16777216", "-S", "0", "-P", str(pidfile))  # fmt: skip
        fprobe = subprocess.Popen(
            ["ip", "netns", "exec", v, "fprobe", "-l", "2", "-q", "100000", "-d", "2", "-e", "5",
             "-n", "5", "-i", bridge, "127.0.0.1:9995"],
            stdout=(tmp_path / "fprobe.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        children.append(fprobe)
        smtp = subprocess.Popen(
            ["ip", "netns", "exec", v, sys.executable, "-m", "aiosmtpd", "-n", "-l", "0.0.0.0:25",
             "-c", "aiosmtpd.handlers.Sink"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        children.append(smtp)
        iperf = subprocess.Popen(
            ["ip", "netns", "exec", v, "iperf3", "-s", "-1", "-p", "5201"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        children.append(iperf)
        wait_for_port(v, 25)
        wait_for_port(v, 5201)
        time.sleep(2)  # fprobe opens its capture
        ns(b, "timeout", "30", "iperf3", "-c", VICTIM, "-p", "5201", "-t", "3", "-b", "200M",
           timeout=40)  # fmt: skip
        ns(a, "timeout", "60", "nmap", "-sS", "-Pn", "-n", "--top-ports", "300", "-T4", VICTIM,
           timeout=70)  # fmt: skip
        ns(
            a, "timeout", "30", "hping3", "-S", "-p", "80", "-c", "3000", "-i", "u200", VICTIM, timeout=40, check=False
        )  # fmt: skip  (hping3 exits 1 when replies are missing)
        for n, host in enumerate(MAIL_HOSTS):
            ns(a, "timeout", "10", "swaks", "--server", host, "--to", f"user{n}@example.test",
               "--from", "sender@example.test", "--silent", "2", timeout=15)  # fmt: skip
        time.sleep(10)  # longer than fprobe's idle timer and scan interval
        stop(fprobe)
        time.sleep(3)
        if pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
            for _ in range(50):
                if not pidfile.exists():
                    break
                time.sleep(0.1)
        csv = tmp_path / "flows.csv"
        exported = subprocess.run(
            ["nfdump", "-R", str(spool), "-o", "csv"], capture_output=True, timeout=60,
            check=True, env={**os.environ, "TZ": "UTC"},
        )  # fmt: skip
        csv.write_bytes(exported.stdout)
        yield csv
    finally:
        for child in children:
            stop(child)
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        for name in created:
            run("ip", "netns", "del", name, check=False)


def test_lab_traffic_is_detected(lab: Path, tmp_path: Path) -> None:
    inventory = "\n".join([
        "account,kind,value,valid_from,valid_to",
        f"acct-customer,ip,{CUSTOMER},2020-01-01T00:00:00Z,",
        f"acct-victim,ip,{VICTIM},2020-01-01T00:00:00Z,",
        f"acct-benign,ip,{BENIGN},2020-01-01T00:00:00Z,",
        *(f"acct-victim,ip,{host},2020-01-01T00:00:00Z," for host in MAIL_HOSTS),
    ]) + "\n"  # fmt: skip
    index = AttributionIndex(parse_resources(inventory))
    config = config_from_mapping(tomllib.loads(LAB_CONFIG))
    findings = detect_flows([lab], index, config)
    by_host: dict[str, set[str]] = {}
    for finding in findings:
        by_host.setdefault(finding.address, set()).add(finding.rule)
    customer = by_host.get(CUSTOMER, set())
    assert "scan.vertical" in customer, by_host
    assert "dos.syn_flood" in customer, by_host
    assert "spam.smtp_fanout" in customer, by_host
    assert all(f.account == "acct-customer" for f in findings if f.address == CUSTOMER)
    quiet = {VICTIM, BENIGN, *MAIL_HOSTS}
    assert not (quiet & set(by_host)), by_host
