"""API tokens (random, shown once, stored as SHA-256, scoped, revocable) and users (argon2id)."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from abusedesk.audit.service import record
from abusedesk.timeutil import utcnow
from abusedesk.users.models import ApiToken, User

TOKEN_PREFIX = "adk_"  # noqa: S105 - a prefix, not a secret
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


# ------------------------------------------------------------------------------ users

STAFF_ROLES = ("admin", "analyst", "legal", "auditor")
ROLES = (*STAFF_ROLES, "customer")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
#: compared against when the user does not exist, so timing does not reveal usernames
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class UserError(ValueError):
    """A user change that cannot be made; the message says why."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session, *, username: str, role: str, password: str | None, actor: str,
    account_id: str | None = None, display_name: str = "", email: str = "", oidc_subject: str | None = None,
) -> User:
    """Customers must name their account; staff must not (a staff user sees every account)."""
    if not _USERNAME.match(username):
        raise UserError("username: 1-128 of letters, digits and _ . @ -")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
    if role == "customer" and not account_id:
        raise UserError("a customer user needs --account")
    if role != "customer" and account_id:
        raise UserError("only customer users belong to an account")
    if password is not None and len(password) < 10:
        raise UserError("password: at least 10 characters")
    if session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise UserError(f"user {username!r} exists")
    user = User(
        username=username, role=role, password_hash=hash_password(password) if password else None,
        account_id=account_id, display_name=display_name or username, email=email, oidc_subject=oidc_subject,
        session_version=1, created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    record(session, actor=actor, action="user.created", object_type="user", object_id=user.id, data={"username": username, "role": role, "account": account_id})
    return user


def get_user(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def check_password(session: Session, username: str, password: str) -> User | None:
    """The user if the password is right and the user is enabled; rehashes on parameter change."""
    user = get_user(session, username)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None or user.password_hash is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def disable_user(session: Session, username: str, *, actor: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        user.session_version += 1  # ends every open session of this user
        record(session, actor=actor, action="user.disabled", object_type="user", object_id=user.id, data={"username": username})
    return user


def list_users(session: Session) -> list[User]:
    return list(session.execute(select(User).order_by(User.username)).scalars())
