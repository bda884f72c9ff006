"""The built-in adapter: enforcement as state in our own inventory.

It marks the inventory resource (``state``) or the account (``status``) so the console,
the API and provisioning systems that read the inventory see the restriction. It works in
the caller's session, so the state change commits with the action's own state.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.enforcement.adapters.base import ActionRequest, AdapterError, AdapterResult
from abusedesk.inventory.models import Account, InventoryResource
from abusedesk.timeutil import utcnow

#: action kind → (state it sets on the resource, on the account)
RESOURCE_STATE = {
    "restrict_port": "restricted",
    "block_ip": "blocked",
    "disable_url": "disabled",
    "disable_resource": "disabled",
    "remove_content": "removed",
}
ACCOUNT_STATUS = {"suspend_account": "suspended", "terminate_account": "terminated"}


class BuiltinAdapter:
    name = "builtin"

    def __init__(self, session: Session) -> None:
        self.session = session

    def supports(self, kind: str) -> bool:
        return kind in RESOURCE_STATE or kind in ACCOUNT_STATUS

    def _account(self, request: ActionRequest) -> Account:
        account = self.session.get(Account, request.account_id)
        if account is None:
            raise AdapterError(f"no account {request.account_id!r}", retryable=False)
        return account

    def _resource(self, request: ActionRequest) -> InventoryResource:
        holding_id = request.params.get("inventory_resource_id")
        resource = self.session.get(InventoryResource, int(holding_id)) if holding_id is not None else None
        if resource is None:
            now = utcnow()
            resource = self.session.execute(
                select(InventoryResource).where(
                    InventoryResource.account_id == request.account_id,
                    InventoryResource.value == request.target,
                    InventoryResource.valid_from <= now,
                    (InventoryResource.valid_to.is_(None)) | (InventoryResource.valid_to > now),
                )
            ).scalars().first()
        if resource is None:
            raise AdapterError(f"no inventory holding of {request.account_id} for {request.target}", retryable=False)
        return resource

    def _want(self, request: ActionRequest) -> tuple[str, str]:
        if request.kind in ACCOUNT_STATUS:
            return "account", ACCOUNT_STATUS[request.kind]
        if request.kind in RESOURCE_STATE:
            return "resource", RESOURCE_STATE[request.kind]
        raise AdapterError(f"the built-in adapter cannot {request.kind}", retryable=False)

    def dry_run(self, request: ActionRequest) -> AdapterResult:
        where, state = self._want(request)
        if where == "account":
            account = self._account(request)
            return AdapterResult(account.status != state, f"would set account {account.id} {account.status} → {state}")
        resource = self._resource(request)
        return AdapterResult(resource.state != state, f"would set {resource.kind}:{resource.value} {resource.state} → {state}")

    def apply(self, request: ActionRequest) -> AdapterResult:
        where, state = self._want(request)
        if where == "account":
            account = self._account(request)
            changed = account.status != state
            account.status = state
            return AdapterResult(changed, f"account {account.id} {state}", {"account_status": state})
        resource = self._resource(request)
        changed = resource.state != state
        resource.state = state
        return AdapterResult(changed, f"{resource.kind}:{resource.value} {state}", {"inventory_resource_id": resource.id})

    def revert(self, request: ActionRequest) -> AdapterResult:
        where, _state = self._want(request)
        if where == "account":
            account = self._account(request)
            changed = account.status != "active"
            account.status = "active"
            return AdapterResult(changed, f"account {account.id} active")
        resource = self._resource(request)
        changed = resource.state != "active"
        resource.state = "active"
        return AdapterResult(changed, f"{resource.kind}:{resource.value} active")
