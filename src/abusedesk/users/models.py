"""API tokens (hashed at rest) and the people who use the console and the portal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from abusedesk.db import Base
from abusedesk.timeutil import utcnow


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the token; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    scopes: Mapped[str] = mapped_column(String(300), default="read write")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class User(Base):
    """A local (or OIDC-linked) user with exactly one role.

    Staff roles are admin, analyst, legal and auditor; ``customer`` users are bound to one
    account and only ever see the portal. ``session_version`` is part of every session
    cookie: bumping it (disable, password change) ends all of the user's sessions at once,
    which stateless signed cookies could not do otherwise.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    role: Mapped[str] = mapped_column(String(20))
    #: argon2id hash; None for users who only log in through OIDC
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: for role ``customer``: the one account whose cases this user sees
    account_id: Mapped[str | None] = mapped_column(String(128))
    oidc_subject: Mapped[str | None] = mapped_column(String(300), unique=True)
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
