"""API keys (tokens): create, list, revoke. Only the SHA-256 of a token is stored."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from core.admin_models import ApiKey
from core.columns import utcnow
from core.contracts import Actor, Role
from core.crypto import ANONYMISED, Cipher, new_token, token_hash
from core.models import Case
from core.settings import Settings


def create_key(session: Session, *, role: Role, department: str | None, name: str = "",
               expires_at=None, max_days: int = Settings.model_fields["token_max_days"].default) -> tuple[ApiKey, str]:  # type: ignore[no-untyped-def]
    """Store a new key and return it with its token (shown once, never stored in clear). A key lives at most
    ``max_days`` (its default lifetime too)."""
    if (role is Role.HANDLER) != bool(department):
        raise ValueError("a handler key needs exactly one department; other roles take none")
    longest = utcnow() + timedelta(days=max_days)
    if expires_at is None:
        expires_at = longest
    elif expires_at <= utcnow():
        raise ValueError("a key must expire in the future")
    elif expires_at > longest:
        raise ValueError(f"a key may live at most {max_days} days")
    token = new_token("jsk")
    key = ApiKey(id=f"key_{secrets.token_hex(6)}", name=name, role=role.value,
                 department=department, token_hash=token_hash(token), expires_at=expires_at)
    session.add(key)
    session.flush()
    return key, token


def key_problem(key: ApiKey | None) -> str | None:
    """Why a token's key may not be used (None: it may)."""
    return _problem(key is not None, key.revoked_at if key else None, key.expires_at if key else None)


def _problem(found: bool, revoked_at: datetime | None, expires_at: datetime | None) -> str | None:
    if not found or revoked_at is not None:
        return "the token is invalid or revoked"
    if expires_at is not None and expires_at.replace(tzinfo=expires_at.tzinfo or UTC) < utcnow():
        return "the token has expired"
    return None


_K = ApiKey.__table__.c  # type: ignore[attr-defined]
_KEY_OF_HASH = sa.select(_K.id, _K.role, _K.department, _K.revoked_at, _K.expires_at).where(
    _K.token_hash == sa.bindparam("digest"))  # built once: every request runs it


def actor_of_token(session: Session, token: str) -> tuple[Actor | None, str | None]:
    """The actor a bearer token stands for, or why it may not be used: one narrow query, no key object (every
    request of the API and every console sign-in asks this)."""
    row = session.execute(_KEY_OF_HASH, {"digest": token_hash(token)}).first()
    problem = _problem(row is not None, row.revoked_at if row else None, row.expires_at if row else None)
    if row is None or problem:
        return None, problem
    return Actor(id=row.id, role=Role(row.role), department=row.department), None


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


def rotate_data_key(session: Session, cipher: Cipher, batch: int = 500) -> int:
    """Re-encrypt every case's name and phone under the current key (after it was rotated: the old key is among
    ``previous_encryption_keys``), in batches, each committed; returns how many cases. Anonymised rows skip."""
    done, last_id = 0, 0
    while True:
        rows = session.exec(select(Case).where(Case.id > last_id).order_by(Case.id).limit(batch)).all()  # type: ignore[arg-type,operator]
        if not rows:
            return done
        for case in rows:
            if case.name_enc != ANONYMISED:
                case.name_enc, case.phone_enc = cipher.rotate(case.name_enc), cipher.rotate(case.phone_enc)
                session.add(case)
                done += 1
        last_id = rows[-1].id or last_id
        session.commit()
