"""One contract, every adapter: dry run changes nothing; apply and revert take effect and
are idempotent; a kind the adapter cannot do is a clear, final error."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from libcloud.compute.drivers.dummy import DummyNodeDriver
from libcloud.compute.types import NodeState
from sqlalchemy.orm import Session

from abusedesk.config import Settings
from abusedesk.context import Context
from abusedesk.enforcement.adapters.base import ActionRequest, AdapterError, EnforcementAdapter
from abusedesk.enforcement.adapters.builtin import BuiltinAdapter
from abusedesk.enforcement.adapters.cloud import LibcloudAdapter
from abusedesk.enforcement.adapters.nftables import NftablesAdapter
from abusedesk.enforcement.adapters.webhook import SIGNATURE_HEADER, WebhookAdapter, verify
from abusedesk.inventory.models import InventoryResource
from abusedesk.migrate import upgrade
from tests.helpers import load_inventory

SECRET = "test-secret"


@dataclass
class Env:
    adapter: EnforcementAdapter
    request: ActionRequest
    applied: Callable[[], bool]
    unsupported: str


# ------------------------------------------------------------------------- webhook server


class Receiver:
    """A customer's webhook endpoint: verifies signatures, keeps applied actions."""

    def __init__(self) -> None:
        self.applied: set[int] = set()
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self._answer(503, {"error": "busy"})
                    return
                if not verify(SECRET, self.headers.get(SIGNATURE_HEADER, ""), body):
                    self._answer(401, {"error": "bad signature"})
                    return
                data = json.loads(body)
                receiver.requests.append(data)
                action_id = int(data["action"]["action_id"])
                before = action_id in receiver.applied
                if data["operation"] == "apply":
                    receiver.applied.add(action_id)
                else:
                    receiver.applied.discard(action_id)
                self._answer(200, {"changed": before != (action_id in receiver.applied)})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


# --------------------------------------------------------------------------- netns


def _root_with_nft() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    if not shutil.which("nft") or not shutil.which("ip"):
        return "needs nft and ip (apt-get install nftables iproute2)"
    return None


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth pair: (customer host 10.77.0.2, peer 10.77.0.1)."""
    reason = _root_with_nft()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    host, peer = f"adh_{tag}", f"adp_{tag}"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", host)
    ip("netns", "add", peer)
    try:
        ip("link", "add", f"vh{tag}", "type", "veth", "peer", "name", f"vp{tag}")
        ip("link", "set", f"vh{tag}", "netns", host)
        ip("link", "set", f"vp{tag}", "netns", peer)
        ip("netns", "exec", host, "ip", "addr", "add", "10.77.0.2/24", "dev", f"vh{tag}")
        ip("netns", "exec", peer, "ip", "addr", "add", "10.77.0.1/24", "dev", f"vp{tag}")
        for ns, dev in ((host, f"vh{tag}"), (peer, f"vp{tag}")):
            ip("netns", "exec", ns, "ip", "link", "set", dev, "up")
            ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield host, peer
    finally:
        subprocess.run(["ip", "netns", "del", host], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", peer], check=False, capture_output=True)


def _ping(ns: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", address], capture_output=True, check=False).returncode == 0


# --------------------------------------------------------------------------- libcloud


class StoppableDummy(DummyNodeDriver):
    """libcloud's Dummy driver with the stop/start calls real drivers have."""

    def stop_node(self, node: Any) -> bool:
        node.state = NodeState.STOPPED
        return True

    def start_node(self, node: Any) -> bool:
        node.state = NodeState.RUNNING
        return True


# --------------------------------------------------------------------------- the matrix


@pytest.fixture(params=["builtin", "webhook", pytest.param("nftables", marks=pytest.mark.root), "libcloud"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    name = request.param
    if name == "builtin":
        ctx = Context.create(Settings(data_dir=tmp_path / "var", run_worker=False))
        upgrade(ctx.engine)
        load_inventory(ctx)
        session: Session = ctx.sessions()
        holding = session.query(InventoryResource).filter_by(account_id="acme").one()
        req = ActionRequest(1, "block_ip", "ip", "192.0.2.10", "acme", {"inventory_resource_id": holding.id})
        yield Env(BuiltinAdapter(session), req, lambda: holding.state == "blocked", "notify")
        session.rollback()
        session.close()
        ctx.close()
    elif name == "webhook":
        server = request.getfixturevalue("receiver")
        req = ActionRequest(7, "disable_url", "url", "http://shop.example/x", "shop")
        yield Env(WebhookAdapter(server.url, SECRET, sleep=lambda _s: None), req, lambda: 7 in server.applied, "notify")
    elif name == "nftables":
        host, _peer = request.getfixturevalue("netns")
        adapter = NftablesAdapter(command=("ip", "netns", "exec", host, "nft"))
        req = ActionRequest(3, "restrict_port", "ip", "10.77.0.2", "acme", {"port": "tcp/25"})
        yield Env(adapter, req, lambda: "10.77.0.2 . 25" in adapter.elements("port4_tcp"), "suspend_account")
    else:
        driver = StoppableDummy(3)  # type: ignore[no-untyped-call]
        node = driver.list_nodes()[1]  # type: ignore[no-untyped-call]
        req = ActionRequest(4, "disable_resource", "ip", node.public_ips[0], "acme")
        yield Env(LibcloudAdapter(driver), req, lambda: node.state == NodeState.STOPPED, "restrict_port")


def test_dry_run_changes_nothing(env: Env) -> None:
    result = env.adapter.dry_run(env.request)
    assert result.changed is True and result.detail.startswith("would")
    assert env.applied() is False


def test_apply_and_revert_take_effect_and_repeat_safely(env: Env) -> None:
    first = env.adapter.apply(env.request)
    assert first.changed is True and env.applied() is True
    again = env.adapter.apply(env.request)
    assert again.changed is False and env.applied() is True
    undone = env.adapter.revert(env.request)
    assert undone.changed is True and env.applied() is False
    assert env.adapter.revert(env.request).changed is False
    assert env.applied() is False


def test_an_unsupported_kind_is_a_final_error(env: Env) -> None:
    assert env.adapter.supports(env.unsupported) is False
    bad = ActionRequest(9, env.unsupported, env.request.target_kind, env.request.target, env.request.account_id, dict(env.request.params))
    with pytest.raises(AdapterError) as caught:
        env.adapter.apply(bad)
    assert caught.value.retryable is False


# ----------------------------------------------------------------- adapter-specific tests


def test_webhook_retries_with_backoff_then_succeeds(receiver: Receiver) -> None:
    waits: list[float] = []
    receiver.fail_next = 2
    adapter = WebhookAdapter(receiver.url, SECRET, attempts=4, backoff=0.5, sleep=waits.append)
    result = adapter.apply(ActionRequest(11, "block_ip", "ip", "192.0.2.10", "acme"))
    assert result.changed is True and 11 in receiver.applied
    assert waits == [0.5, 1.0]
    [sent] = receiver.requests
    assert sent["idempotency_key"] == "abusedesk-action-11-apply" and sent["action"]["target"] == "192.0.2.10"


def test_webhook_gives_up_after_its_attempts_and_a_bad_secret_is_final(receiver: Receiver) -> None:
    receiver.fail_next = 10
    adapter = WebhookAdapter(receiver.url, SECRET, attempts=3, sleep=lambda _s: None)
    with pytest.raises(AdapterError, match="after 3 attempts") as caught:
        adapter.apply(ActionRequest(12, "block_ip", "ip", "192.0.2.10", "acme"))
    assert caught.value.retryable is True
    receiver.fail_next = 0
    with pytest.raises(AdapterError, match="401") as refused:
        WebhookAdapter(receiver.url, "wrong", sleep=lambda _s: None).apply(ActionRequest(13, "block_ip", "ip", "192.0.2.10", "acme"))
    assert refused.value.retryable is False and 13 not in receiver.applied


def test_webhook_signature_rejects_tampering() -> None:
    from abusedesk.enforcement.adapters.webhook import sign

    header = sign(SECRET, 1_800_000_000, b'{"a":1}')
    assert verify(SECRET, header, b'{"a":1}', now=1_800_000_010)
    assert not verify(SECRET, header, b'{"a":2}', now=1_800_000_010)
    assert not verify(SECRET, header, b'{"a":1}', now=1_800_001_000)  # stale


@pytest.mark.root
def test_nftables_block_really_drops_traffic_and_revert_restores_it(netns: tuple[str, str]) -> None:
    host, _peer = netns
    adapter = NftablesAdapter(command=("ip", "netns", "exec", host, "nft"))
    request = ActionRequest(21, "block_ip", "ip", "10.77.0.2", "acme")
    assert _ping(host, "10.77.0.1") is True
    adapter.apply(request)
    assert adapter.elements("block4") == ["10.77.0.2"]
    assert _ping(host, "10.77.0.1") is False
    adapter.revert(request)
    assert _ping(host, "10.77.0.1") is True
    # the host's (here: the default namespace's) ruleset was never touched
    assert "abusedesk" not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout


def test_nftables_rejects_what_is_not_an_address() -> None:
    adapter = NftablesAdapter(command=("false",))
    with pytest.raises(AdapterError, match="IP addresses") as caught:
        adapter.apply(ActionRequest(22, "block_ip", "domain", "shop.example", "shop"))
    assert caught.value.retryable is False
    with pytest.raises(AdapterError, match="invalid port"):
        adapter.dry_run(ActionRequest(23, "restrict_port", "ip", "192.0.2.1", "acme", {"port": "tcp/99999"}))


def test_libcloud_unknown_address_is_refused() -> None:
    adapter = LibcloudAdapter(StoppableDummy(2))  # type: ignore[no-untyped-call]
    with pytest.raises(AdapterError, match="no instance holds"):
        adapter.apply(ActionRequest(31, "block_ip", "ip", "203.0.113.9", "acme"))


def _connects(ns: str, address: str, port: int) -> bool:
    code = f"import socket\ntry:\n    socket.create_connection(({address!r}, {port}), timeout=1).close()\nexcept OSError:\n    raise SystemExit(1)\n"
    return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True, check=False).returncode == 0


@pytest.mark.root
def test_nftables_port_restriction_drops_only_that_port(netns: tuple[str, str]) -> None:
    host, peer = netns
    server = subprocess.Popen(  # a mail server on the peer, on two ports
        ["ip", "netns", "exec", peer, sys.executable, "-c",
         "import socket, time\nsocks = []\nfor port in (2525, 2526):\n    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "    s.bind(('10.77.0.1', port)); s.listen(16); socks.append(s)\ntime.sleep(30)\n"],
    )
    try:
        for _ in range(50):
            if _connects(host, "10.77.0.1", 2525):
                break
        adapter = NftablesAdapter(command=("ip", "netns", "exec", host, "nft"))
        request = ActionRequest(24, "restrict_port", "ip", "10.77.0.2", "acme", {"port": "tcp/2525"})
        assert _connects(host, "10.77.0.1", 2525) is True
        adapter.apply(request)
        assert _connects(host, "10.77.0.1", 2525) is False
        assert _connects(host, "10.77.0.1", 2526) is True  # other ports untouched
        adapter.revert(request)
        assert _connects(host, "10.77.0.1", 2525) is True
    finally:
        server.kill()
        server.wait(timeout=5)


def test_mandated_report_adapter_state_is_recorded(ctx: Context) -> None:
    from sqlalchemy import select

    from abusedesk.enforcement.adapters.mandated import Submission
    from abusedesk.enforcement.models import MandatedReport
    from tests.enforcement.support import ingest, report, setup, work

    class Tipline:
        name = "cybertipline-test"

        def __init__(self) -> None:
            self.payloads: list[dict[str, Any]] = []

        def submit(self, payload: dict[str, Any]) -> Submission:
            self.payloads.append(payload)
            return Submission("submitted", "CT-123456", "accepted")

    setup(ctx)
    tipline = Tipline()
    ctx.adapter_overrides["mandated_report"] = tipline
    case_id = ingest(ctx, report("content.csam", source="http://shop.example/u/y.jpg"))
    work(ctx)
    with ctx.transaction() as session:
        mandated = session.execute(select(MandatedReport)).scalar_one()
        assert (mandated.state, mandated.external_id, mandated.adapter) == ("submitted", "CT-123456", "cybertipline-test")
        assert mandated.submitted_at is not None
    assert [p["case"] for p in tipline.payloads] == [case_id]
