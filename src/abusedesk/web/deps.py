"""FastAPI dependencies: the context, a transaction per request, token authentication."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from abusedesk.context import Context
from abusedesk.users.models import ApiToken
from abusedesk.users.service import authenticate


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


AppContext = Annotated[Context, Depends(get_context)]


def get_session(ctx: AppContext) -> Iterator[Session]:
    with ctx.transaction() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="API token from `abusedesk tokens create`")


def require_token(session: DbSession, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiToken:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "an API token is required (Authorization: Bearer ...)", headers={"WWW-Authenticate": "Bearer"})
    token = authenticate(session, credentials.credentials)
    if token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked API token", headers={"WWW-Authenticate": "Bearer"})
    return token


def require_write(token: Annotated[ApiToken, Depends(require_token)]) -> ApiToken:
    if "write" not in token.scopes.split():
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token lacks the 'write' scope")
    return token


ReadToken = Annotated[ApiToken, Depends(require_token)]
WriteToken = Annotated[ApiToken, Depends(require_write)]
