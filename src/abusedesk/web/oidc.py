"""Optional single sign-on with OpenID Connect (authorization code flow with PKCE).

Off unless ``oidc_issuer`` is set. authlib builds the authorization request and the PKCE
challenge; joserfc (authlib's JOSE successor) checks the ID token's signature against the
provider's JWKS and its ``iss``/``aud``/``exp``/``nonce`` claims. The provider only
proves who someone is: roles stay local. A person may log in only if a local user with
that OIDC subject exists, or one whose username equals the token's
``preferred_username`` or ``email`` and is not yet linked (the first login links it).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
import urllib.request
from typing import Any

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from abusedesk.audit.service import record
from abusedesk.config import Settings
from abusedesk.users.models import User
from abusedesk.web.auth import actor_of, home_for, start_session
from abusedesk.web.deps import AppContext, DbSession
from abusedesk.web.security import get_session

router = APIRouter(include_in_schema=False)
TIMEOUT = 10
_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class OIDCError(Exception):
    """The provider's answer cannot be trusted or used; the message says why."""


def _fetch_json(url: str, data: dict[str, str] | None = None) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise OIDCError(f"refusing a non-HTTP URL from the provider: {url[:80]}")
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked above
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        loaded = json.loads(response.read(1_000_000))
    if not isinstance(loaded, dict):
        raise OIDCError(f"{url}: expected a JSON object")
    return loaded


def discovery(settings: Settings) -> dict[str, Any]:
    issuer = (settings.oidc_issuer or "").rstrip("/")
    cached = _discovery_cache.get(issuer)
    if cached and time.monotonic() - cached[0] < 3600:
        return cached[1]
    document = _fetch_json(f"{issuer}/.well-known/openid-configuration")
    if document.get("issuer", "").rstrip("/") != issuer:
        raise OIDCError("the discovery document names another issuer")
    _discovery_cache[issuer] = (time.monotonic(), document)
    return document


def _redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url.rstrip('/')}/login/oidc/callback"


def _enabled(settings: Settings) -> None:
    if not (settings.oidc_issuer and settings.oidc_client_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "single sign-on is not configured")


@router.get("/login/oidc", response_model=None)
def oidc_start(request: Request, ctx: AppContext) -> Response:
    settings = ctx.settings
    _enabled(settings)
    try:
        config = discovery(settings)
    except (OIDCError, OSError, ValueError) as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"the identity provider is not reachable: {exc}") from None
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    session = get_session(request)
    session.set("oidc", {"state": state, "nonce": nonce, "verifier": verifier, "at": int(time.time())})
    url = prepare_grant_uri(
        config["authorization_endpoint"], settings.oidc_client_id, "code", redirect_uri=_redirect_uri(settings),
        scope=settings.oidc_scope, state=state, nonce=nonce, code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256",
    )
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def verify_id_token(settings: Settings, config: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(_fetch_json(config["jwks_uri"]))  # type: ignore[arg-type]
    try:
        token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": config["issuer"]}, aud={"essential": True, "value": settings.oidc_client_id or ""},
            sub={"essential": True}, nonce={"essential": True, "value": nonce}, exp={"essential": True},
        )
        claims.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise OIDCError(f"the ID token does not check out: {exc}") from None
    return dict(token.claims)


def _find_user(session: DbSession, claims: dict[str, Any]) -> User | None:
    subject = f"{claims.get('iss')}|{claims['sub']}"
    user = session.execute(select(User).where(User.oidc_subject == subject)).scalar_one_or_none()
    if user is None:
        names = [str(n) for n in (claims.get("preferred_username"), claims.get("email")) if n]
        for name in names:
            candidate = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
            if candidate is not None and candidate.oidc_subject is None:
                candidate.oidc_subject = subject  # first login links the account
                user = candidate
                break
    if user is None or user.disabled_at is not None:
        return None
    return user


@router.get("/login/oidc/callback", response_model=None)
def oidc_callback(request: Request, ctx: AppContext, session: DbSession, code: str = "", state: str = "") -> Response:
    settings = ctx.settings
    _enabled(settings)
    data = get_session(request)
    pending = data.get("oidc")
    data.drop("oidc")
    if not isinstance(pending, dict) or not state or not secrets.compare_digest(state, str(pending.get("state", ""))) or time.time() - int(pending.get("at", 0)) > 600:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the sign-on attempt expired or did not start here; try again")
    try:
        config = discovery(settings)
        tokens = _fetch_json(config["token_endpoint"], {
            "grant_type": "authorization_code", "code": code, "redirect_uri": _redirect_uri(settings),
            "client_id": settings.oidc_client_id or "", "client_secret": settings.oidc_client_secret or "",
            "code_verifier": str(pending["verifier"]),
        })
        claims = verify_id_token(settings, config, str(tokens.get("id_token", "")), str(pending["nonce"]))
    except (OIDCError, OSError, ValueError, KeyError) as exc:
        record(session, actor="oidc", action="user.login_failed", object_type="user", object_id="oidc", data={"reason": str(exc)[:300]})
        raise HTTPException(status.HTTP_403_FORBIDDEN, "single sign-on failed") from None
    user = _find_user(session, claims)
    if user is None:
        record(session, actor="oidc", action="user.login_failed", object_type="user", object_id=str(claims.get("sub"))[:128], data={"reason": "no local user"})
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you have no account here; ask an administrator")
    start_session(request, user)
    record(session, actor=actor_of(user), action="user.login", object_type="user", object_id=user.id, data={"method": "oidc"})
    return RedirectResponse(home_for(user), status_code=status.HTTP_303_SEE_OTHER)
