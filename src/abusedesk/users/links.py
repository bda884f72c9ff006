"""Signed, expiring links that let a customer open one case in the portal.

Kept outside the web layer because notices (sent by the worker) carry them too.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from abusedesk.context import Context


def _serializer(ctx: Context) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.settings.secret_key, salt="abusedesk-portal-link")


def portal_token(ctx: Context, account_id: str, case_id: int) -> str:
    return _serializer(ctx).dumps({"a": account_id, "c": case_id})


def portal_link(ctx: Context, account_id: str, case_id: int) -> str:
    """The absolute link a notice carries; valid for ``portal_link_max_age_days``."""
    return f"{ctx.settings.public_base_url.rstrip('/')}/portal/l/{portal_token(ctx, account_id, case_id)}"


def read_token(ctx: Context, token: str) -> tuple[str, int] | None:
    try:
        data = _serializer(ctx).loads(token, max_age=ctx.settings.portal_link_max_age_days * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str) or not isinstance(data.get("c"), int):
        return None
    return data["a"], data["c"]
