"""API tokens: random, shown once, stored as SHA-256, scoped, revocable."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.timeutil import utcnow
from abusedesk.users.models import ApiToken

TOKEN_PREFIX = "adk_"
SCOPES = ("read", "write")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, name: str, scopes: tuple[str, ...] = SCOPES, actor: str) -> tuple[str, ApiToken]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=hash_token(token), prefix=token[:10], scopes=" ".join(scopes), created_at=utcnow())
    session.add(row)
    session.flush()
    record(session, actor=actor, action="token.created", object_type="api_token", object_id=row.id, data={"name": name, "scopes": list(scopes)})
    return token, row


def authenticate(session: Session, token: str) -> ApiToken | None:
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_token(session: Session, token_id: int, *, actor: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise LookupError(f"no token {token_id}")
    row.revoked_at = utcnow()
    record(session, actor=actor, action="token.revoked", object_type="api_token", object_id=row.id, data={})
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(ApiToken.id)).scalars())
