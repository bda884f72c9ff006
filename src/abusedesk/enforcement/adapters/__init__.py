"""Enforcement adapters by name; settings choose one per action kind (default: builtin).

Adapters are built per job, because the built-in one works in the job's session and the
external ones read their endpoints from the settings. ``ctx.adapter_overrides`` replaces
an adapter by name (tests, or a deployment wiring its own).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.enforcement.adapters.base import (
    ActionRequest,
    AdapterError,
    AdapterResult,
    EnforcementAdapter,
)
from abusedesk.enforcement.adapters.builtin import BuiltinAdapter

__all__ = ["ActionRequest", "AdapterError", "AdapterResult", "EnforcementAdapter", "adapter_for", "builtin_for"]


def builtin_for(session: Session) -> BuiltinAdapter:
    return BuiltinAdapter(session)


def _webhook(ctx: Context, session: Session) -> EnforcementAdapter:
    from abusedesk.enforcement.adapters.webhook import WebhookAdapter

    if not ctx.settings.webhook_url or not ctx.settings.webhook_secret:
        raise AdapterError("the webhook adapter needs ABUSEDESK_WEBHOOK_URL and ABUSEDESK_WEBHOOK_SECRET", retryable=False)
    return WebhookAdapter(
        ctx.settings.webhook_url, ctx.settings.webhook_secret, timeout=ctx.settings.webhook_timeout_seconds,
        attempts=ctx.settings.webhook_attempts,
    )


def _nftables(ctx: Context, session: Session) -> EnforcementAdapter:
    from abusedesk.enforcement.adapters.nftables import NftablesAdapter

    return NftablesAdapter(command=tuple(ctx.settings.nft_command), table=ctx.settings.nft_table)


def _libcloud(ctx: Context, session: Session) -> EnforcementAdapter:
    from abusedesk.enforcement.adapters.cloud import LibcloudAdapter

    if not ctx.settings.libcloud_provider:
        raise AdapterError("the libcloud adapter needs ABUSEDESK_LIBCLOUD_PROVIDER", retryable=False)
    return LibcloudAdapter.from_provider(ctx.settings.libcloud_provider, *ctx.settings.libcloud_args)


FACTORIES: dict[str, Callable[[Context, Session], EnforcementAdapter]] = {
    "builtin": lambda ctx, session: builtin_for(session),
    "webhook": _webhook,
    "nftables": _nftables,
    "libcloud": _libcloud,
}


def adapter_for(ctx: Context, session: Session, name: str) -> EnforcementAdapter:
    override = ctx.adapter_overrides.get(name)
    if override is not None:
        return override  # type: ignore[no-any-return]
    factory = FACTORIES.get(name)
    if factory is None:
        raise AdapterError(f"no enforcement adapter {name!r}; known: {', '.join(sorted(FACTORIES))}", retryable=False)
    return factory(ctx, session)
