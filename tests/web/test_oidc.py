"""OIDC login against a stub provider on 127.0.0.1 (discovery, authorize, token, JWKS)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey

from abusedesk.context import Context
from abusedesk.users.service import create_user
from abusedesk.web.app import create_app


class Provider:
    """Just enough of an OpenID provider: it 'authenticates' whoever ``subject`` names."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.subject = {"sub": "u-1", "preferred_username": "sso-analyst", "email": "sso@corp.example"}
        self.tamper = False
        self.url = ""
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def config() -> dict[str, str]:
            return {"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize", "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks"}

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            p = request.query_params
            code = f"code-{len(self.codes)}"
            self.codes[code] = {"nonce": p["nonce"], "challenge": p["code_challenge"], "client": p["client_id"]}
            return RedirectResponse(f"{p['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': p['state']})}", status_code=302)

        @app.post("/token")
        def token(code: str = Form(), client_id: str = Form(), code_verifier: str = Form()) -> JSONResponse:
            from authlib.oauth2.rfc7636 import create_s256_code_challenge

            grant = self.codes.pop(code, None)
            if grant is None or create_s256_code_challenge(code_verifier) != grant["challenge"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {"iss": self.url, "aud": client_id, "iat": now, "exp": now + 300, "nonce": "wrong" if self.tamper else grant["nonce"], **self.subject}
            return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)})

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        self.app = app


@pytest.fixture
def provider() -> Iterator[Provider]:
    import uvicorn

    stub = Provider()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stub.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(stub.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield stub
    server.should_exit = True
    thread.join(timeout=10)


def _sso(ctx: Context, provider: Provider) -> Any:
    settings = ctx.settings.model_copy(update={"oidc_issuer": provider.url, "oidc_client_id": "abusedesk", "oidc_client_secret": "s3cret"})
    ctx.settings = settings
    client = TestClient(create_app(ctx, background=False))
    start = client.get("/login/oidc", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{provider.url}/authorize?")
    back = httpx2.get(start.headers["location"], follow_redirects=False)  # the browser visits the provider
    callback = back.headers["location"].removeprefix(settings.public_base_url)
    return client, client.get(callback, follow_redirects=False)


def test_oidc_login_links_an_existing_user_and_keeps_the_local_role(ctx: Context, backend: str, provider: Provider) -> None:
    if backend != "sqlite":
        pytest.skip("login does not depend on the database; SQLite is enough")
    with ctx.transaction() as session:
        create_user(session, username="sso-analyst", role="analyst", password=None, actor="test")
    client, response = _sso(ctx, provider)
    assert response.status_code == 303 and response.headers["location"] == "/console", response.text
    assert client.get("/console", follow_redirects=False).status_code == 200
    client.close()


def test_oidc_refuses_unknown_users_and_bad_tokens(ctx: Context, backend: str, provider: Provider) -> None:
    if backend != "sqlite":
        pytest.skip("login does not depend on the database; SQLite is enough")
    client, response = _sso(ctx, provider)
    assert response.status_code == 403  # nobody called sso-analyst here
    client.close()
    with ctx.transaction() as session:
        create_user(session, username="sso-analyst", role="analyst", password=None, actor="test")
    provider.tamper = True
    client, response = _sso(ctx, provider)
    assert response.status_code == 403  # the nonce does not match
    assert client.get("/console", follow_redirects=False).status_code == 303
    client.close()
    client = TestClient(create_app(ctx, background=False))
    assert client.get("/login/oidc/callback?code=x&state=forged", follow_redirects=False).status_code == 400
