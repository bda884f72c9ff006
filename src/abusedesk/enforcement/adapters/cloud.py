"""A cloud control-plane adapter through apache-libcloud: stop the instance that holds
the address (and start it again on revert).

Works with any libcloud compute driver that implements ``stop_node``/``start_node``;
the instance is found by its public or private IP, so the same inventory data that
attributed the report picks the machine. Stopping a stopped node is a no-op.
"""

from __future__ import annotations

from typing import Any

from abusedesk.enforcement.adapters.base import ActionRequest, AdapterError, AdapterResult

SUPPORTED = frozenset({"block_ip", "disable_resource"})


class LibcloudAdapter:
    name = "libcloud"

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    @classmethod
    def from_provider(cls, provider: str, *args: str) -> LibcloudAdapter:
        from libcloud.compute.providers import get_driver

        return cls(get_driver(provider)(*args))

    def supports(self, kind: str) -> bool:
        return kind in SUPPORTED

    def _node(self, request: ActionRequest) -> Any:
        if not self.supports(request.kind):
            raise AdapterError(f"the libcloud adapter cannot {request.kind}", retryable=False)
        if request.target_kind != "ip":
            raise AdapterError(f"the libcloud adapter finds instances by IP, not {request.target_kind}", retryable=False)
        try:
            nodes = self.driver.list_nodes()
        except Exception as exc:  # any driver error is a failed call to retry
            raise AdapterError(f"listing instances failed: {exc}") from exc
        for node in nodes:
            if request.target in (*node.public_ips, *node.private_ips):
                return node
        raise AdapterError(f"no instance holds {request.target}", retryable=False)

    @staticmethod
    def _state(node: Any) -> str:
        return str(getattr(node.state, "value", node.state)).lower()

    def dry_run(self, request: ActionRequest) -> AdapterResult:
        node = self._node(request)
        return AdapterResult(self._state(node) != "stopped", f"would stop instance {node.id} ({node.name}), now {self._state(node)}")

    def apply(self, request: ActionRequest) -> AdapterResult:
        node = self._node(request)
        if self._state(node) == "stopped":
            return AdapterResult(False, f"instance {node.id} already stopped")
        if not self.driver.stop_node(node):
            raise AdapterError(f"the control plane did not stop instance {node.id}")
        return AdapterResult(True, f"stopped instance {node.id}", {"node": str(node.id)})

    def revert(self, request: ActionRequest) -> AdapterResult:
        node = self._node(request)
        if self._state(node) != "stopped":
            return AdapterResult(False, f"instance {node.id} is {self._state(node)}")
        if not self.driver.start_node(node):
            raise AdapterError(f"the control plane did not start instance {node.id}")
        return AdapterResult(True, f"started instance {node.id}", {"node": str(node.id)})
