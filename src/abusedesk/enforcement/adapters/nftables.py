"""An nftables adapter: blocks and port restrictions as elements of named sets.

Everything lives in one table of our own (``inet abusedesk``) with sets of addresses and
of address-port pairs and fixed rules that drop what the sets name, in the forward and
output hooks (routed customer traffic, and the host's own). Applying adds an element,
reverting deletes it; the table, sets and rules are created on first use. Never touches
any other table, so the host's own ruleset stays as it is.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Sequence
from typing import Any

from abusedesk.enforcement.adapters.base import ActionRequest, AdapterError, AdapterResult

SUPPORTED = frozenset({"block_ip", "restrict_port"})


class NftablesAdapter:
    name = "nftables"

    def __init__(self, *, command: Sequence[str] = ("nft",), table: str = "abusedesk", timeout: float = 10.0) -> None:
        self.command = tuple(command)
        self.table = table
        self.timeout = timeout

    def supports(self, kind: str) -> bool:
        return kind in SUPPORTED

    # ---------------------------------------------------------------- nft plumbing

    def _nft(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell; values are validated addresses
                [*self.command, *args], input=stdin, capture_output=True, text=True, timeout=self.timeout, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AdapterError(f"cannot run {' '.join(self.command)}: {exc}") from exc
        if done.returncode != 0:
            raise AdapterError(f"nft {' '.join(args)} failed: {done.stderr.strip()[:300]}")
        return done.stdout

    def _ensure(self) -> None:
        t = self.table
        script = f"""
table inet {t} {{
  set block4 {{ type ipv4_addr; }}
  set block6 {{ type ipv6_addr; }}
  set port4_tcp {{ type ipv4_addr . inet_service; }}
  set port4_udp {{ type ipv4_addr . inet_service; }}
  set port6_tcp {{ type ipv6_addr . inet_service; }}
  set port6_udp {{ type ipv6_addr . inet_service; }}
}}
"""
        self._nft("-f", "-", stdin=script)  # declaring existing objects again is a no-op
        chains = json.loads(self._nft("-j", "list", "table", "inet", t))
        have = {item["chain"]["name"] for item in chains.get("nftables", []) if "chain" in item}
        for hook in ("forward", "output"):
            if hook in have:
                continue
            rules = [
                "ip saddr @block4 drop", "ip6 saddr @block6 drop",
                "ip saddr . tcp dport @port4_tcp drop", "ip saddr . udp dport @port4_udp drop",
                "ip6 saddr . tcp dport @port6_tcp drop", "ip6 saddr . udp dport @port6_udp drop",
            ]
            body = "\n".join(f"    {rule}" for rule in rules)
            self._nft("-f", "-", stdin=f"table inet {t} {{\n  chain {hook} {{\n    type filter hook {hook} priority -10; policy accept;\n{body}\n  }}\n}}\n")

    def _element(self, request: ActionRequest) -> tuple[str, str]:
        """(set name, element) for the action; validates the address and port."""
        try:
            address = ipaddress.ip_address(request.target)
        except ValueError:
            raise AdapterError(f"nftables acts on IP addresses, not {request.target_kind}:{request.target}", retryable=False) from None
        family = "4" if address.version == 4 else "6"
        if request.kind == "block_ip":
            return f"block{family}", str(address)
        if request.kind == "restrict_port":
            proto, _, port = str(request.params.get("port", "")).partition("/")
            if proto not in ("tcp", "udp") or not port.isdigit() or not 0 < int(port) < 65536:
                raise AdapterError(f"invalid port {request.params.get('port')!r}; write tcp/25", retryable=False)
            return f"port{family}_{proto}", f"{address} . {int(port)}"
        raise AdapterError(f"the nftables adapter cannot {request.kind}", retryable=False)

    def _present(self, set_name: str, element: str) -> bool:
        try:
            data = json.loads(self._nft("-j", "list", "set", "inet", self.table, set_name))
        except AdapterError:
            return False
        for item in data.get("nftables", []):
            for elem in item.get("set", {}).get("elem", []):
                if _render(elem) == element:
                    return True
        return False

    # ---------------------------------------------------------------- the protocol

    def dry_run(self, request: ActionRequest) -> AdapterResult:
        set_name, element = self._element(request)
        return AdapterResult(True, f"would add {{ {element} }} to set inet {self.table} {set_name}")

    def apply(self, request: ActionRequest) -> AdapterResult:
        set_name, element = self._element(request)
        self._ensure()
        if self._present(set_name, element):
            return AdapterResult(False, f"{element} already in {set_name}")
        self._nft("add", "element", "inet", self.table, set_name, f"{{ {element} }}")
        return AdapterResult(True, f"added {element} to {set_name}", {"set": set_name, "element": element})

    def revert(self, request: ActionRequest) -> AdapterResult:
        set_name, element = self._element(request)
        if not self._present(set_name, element):
            return AdapterResult(False, f"{element} not in {set_name}")
        self._nft("delete", "element", "inet", self.table, set_name, f"{{ {element} }}")
        return AdapterResult(True, f"removed {element} from {set_name}")

    def elements(self, set_name: str) -> list[str]:
        """What a set holds now, as nft writes it (for tests and the console)."""
        try:
            data = json.loads(self._nft("-j", "list", "set", "inet", self.table, set_name))
        except AdapterError:
            return []
        return [_render(e) for item in data.get("nftables", []) for e in item.get("set", {}).get("elem", [])]


def _render(elem: Any) -> str:
    """An element from ``nft -j`` as ``addr`` or ``addr . port``."""
    if isinstance(elem, dict) and "concat" in elem:
        return " . ".join(str(part) for part in elem["concat"])
    return str(elem)
