"""API keys (tokens): create, list, revoke. Only the SHA-256 of a token is stored."""

from __future__ import annotations

import secrets

from sqlmodel import Session, select

from core.contracts import Role
from core.crypto import new_token, token_hash
from core.models import ApiKey, utcnow


def create_key(session: Session, *, role: Role, department: str | None, name: str = "",
               expires_at=None) -> tuple[ApiKey, str]:  # type: ignore[no-untyped-def]
    """Store a new key and return it with its token (shown once, never stored in clear)."""
    if (role is Role.HANDLER) != bool(department):
        raise ValueError("a handler key needs exactly one department; other roles take none")
    token = new_token("jsk")
    key = ApiKey(id=f"key_{secrets.token_hex(6)}", name=name, role=role.value,
                 department=department, token_hash=token_hash(token), expires_at=expires_at)
    session.add(key)
    session.flush()
    return key, token


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (never the tokens: only their hashes are stored)."""
    return list(session.exec(select(ApiKey).order_by(ApiKey.created_at)).all())  # type: ignore[arg-type]


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    """Revoke a key at once (None: no such key)."""
    key = session.get(ApiKey, key_id)
    if key is not None:
        key.revoked_at = utcnow()
        session.add(key)
    return key
