"""A webhook adapter: the provider's own automation receives signed JSON and acts.

Each request is ``POST <url>`` with ``{"operation": "apply"|"revert", "action": {...},
"idempotency_key": ...}``, signed with HMAC-SHA256 over ``<timestamp>.<body>`` in
``X-Abusedesk-Signature: t=<timestamp>,v1=<hex>`` (the timestamp stops replays). The
receiver must treat a repeated idempotency key as done. Connection errors and 5xx/429
answers are retried with exponential backoff inside one attempt of the job; a 4xx is a
refusal that no retry will change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx2

from abusedesk.enforcement.adapters.base import ActionRequest, AdapterError, AdapterResult

SIGNATURE_HEADER = "X-Abusedesk-Signature"
SUPPORTED = frozenset({
    "restrict_port", "block_ip", "disable_url", "disable_resource", "suspend_account", "terminate_account", "remove_content",
})


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: int = 300) -> bool:
    """The receiver's check (also used by our tests): signature and freshness."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


class WebhookAdapter:
    name = "webhook"

    def __init__(
        self, url: str, secret: str, *, timeout: float = 10.0, attempts: int = 4, backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep

    def supports(self, kind: str) -> bool:
        return kind in SUPPORTED

    def _body(self, operation: str, request: ActionRequest) -> bytes:
        payload: dict[str, Any] = {
            "operation": operation, "action": request.as_dict(),
            "idempotency_key": f"abusedesk-action-{request.action_id}-{operation}",
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    def dry_run(self, request: ActionRequest) -> AdapterResult:
        if not self.supports(request.kind):
            raise AdapterError(f"the webhook adapter cannot {request.kind}", retryable=False)
        body = self._body("apply", request)
        return AdapterResult(True, f"would POST {len(body)} signed bytes to {self.url}", {"body": body.decode()})

    def apply(self, request: ActionRequest) -> AdapterResult:
        return self._send("apply", request)

    def revert(self, request: ActionRequest) -> AdapterResult:
        return self._send("revert", request)

    def _send(self, operation: str, request: ActionRequest) -> AdapterResult:
        if not self.supports(request.kind):
            raise AdapterError(f"the webhook adapter cannot {request.kind}", retryable=False)
        body = self._body(operation, request)
        last = ""
        with httpx2.Client(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, int(time.time()), body)}
                try:
                    response = client.post(self.url, content=body, headers=headers)
                except httpx2.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code < 300:
                        data = _json(response)
                        return AdapterResult(bool(data.get("changed", True)), f"{operation} accepted by webhook ({response.status_code})", {"webhook": data})
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                        raise AdapterError(f"webhook refused {operation}: {last}", retryable=False)
                if attempt < self.attempts:
                    self.sleep(self.backoff * 2 ** (attempt - 1))
        raise AdapterError(f"webhook {operation} failed after {self.attempts} attempts: {last}")


def _json(response: httpx2.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
