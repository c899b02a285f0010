"""Bearer-token authentication and role checks. Tokens are stored as SHA-256 hashes only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select

from api.deps import SessionDep
from api.errors import ApiError
from core.contracts import Actor, Role
from core.crypto import token_hash
from core.models import ApiKey, utcnow

bearer = HTTPBearer(auto_error=False, description="API token from `jiesu keys create`")


def authenticate(session: SessionDep,
                 creds: HTTPAuthorizationCredentials | None = Security(bearer)) -> Actor:
    """The caller behind a valid, unexpired, unrevoked bearer token."""
    if creds is None or not creds.credentials:
        raise ApiError(401, "unauthorized", "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    key = session.exec(select(ApiKey).where(ApiKey.token_hash == token_hash(creds.credentials))).first()
    if key is None or key.revoked_at is not None:
        raise ApiError(401, "unauthorized", "the token is invalid or revoked", {"WWW-Authenticate": "Bearer"})
    if key.expires_at is not None and key.expires_at.replace(tzinfo=key.expires_at.tzinfo or UTC) < utcnow():
        raise ApiError(401, "unauthorized", "the token has expired", {"WWW-Authenticate": "Bearer"})
    return Actor(id=key.id, role=Role(key.role), department=key.department)


CurrentActor = Annotated[Actor, Depends(authenticate)]


def require(*roles: Role) -> Callable[[Actor], Actor]:
    """A dependency that admits only the given roles."""

    def check(actor: CurrentActor) -> Actor:
        if actor.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise ApiError(403, "forbidden", f"role {actor.role.value} may not do this (allowed: {allowed})")
        return actor

    return check
