"""Console sign-in: a valid API token buys a session (a random cookie value, stored only as its hash, with its own
CSRF token); a session ends at sign-out, after ``console_idle_minutes`` without use, or when its key is revoked or
expires. Each user's work-list choices are remembered per key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from core.admin_models import ApiKey
from core.columns import utcnow
from core.console_models import ConsolePref, ConsoleSession
from core.contracts import Actor, Role
from core.crypto import token_hash
from services.keys import actor_of_token, key_problem
from services.rules_store import RulesNotFound, active_version, load_engine


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in: the actor the REST routes would see, the key's name, the session's CSRF token."""

    actor: Actor
    name: str
    csrf: str
    session_hash: str
    department_name: str = ""  # a handler's department, as the active rules name it


class SignInRefused(Exception):
    """The token cannot sign in (the reason is the message)."""


def sign_in(session: Session, token: str) -> str:
    """A new session for a valid token; the cookie value."""
    actor, problem = actor_of_token(session, token.strip()) if token.strip() else (None, "enter your token")
    if actor is None:
        raise SignInRefused(problem or "invalid token")
    value = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id_hash=token_hash(value), key_id=actor.id, csrf=secrets.token_urlsafe(24)))
    session.commit()
    return value


def current_user(session: Session, cookie: str | None, idle: timedelta) -> ConsoleUser | None:
    """The signed-in user of a cookie (None: none, ended, idle too long, or its key no longer valid); using a
    session keeps it alive."""
    if not cookie:
        return None
    row = session.get(ConsoleSession, token_hash(cookie))
    now = utcnow()
    if row is None or row.ended_at is not None or row.last_seen_at + idle < now:
        return None
    key = session.get(ApiKey, row.key_id)
    if key is None or key_problem(key):
        return None
    if now - row.last_seen_at > timedelta(seconds=30):  # not a write on every request
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return ConsoleUser(actor=Actor(id=key.id, role=Role(key.role), department=key.department), name=key.name,
                       csrf=row.csrf, session_hash=row.id_hash, department_name=_department_name(session, key))


def _department_name(session: Session, key: ApiKey) -> str:
    """The name of the key's department in the active rules ('' without one or without active rules)."""
    if not key.department:
        return ""
    try:
        return load_engine(session, active_version(session)).department_name(key.department)
    except RulesNotFound:
        return ""


def sign_out(session: Session, session_hash: str) -> None:
    """End a session."""
    row = session.get(ConsoleSession, session_hash)
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        session.add(row)
        session.commit()


def pref(session: Session, key_id: str, name: str) -> dict:
    """A remembered choice (empty when none)."""
    row = session.exec(select(ConsolePref).where(ConsolePref.key_id == key_id, ConsolePref.name == name)).first()
    return dict(row.value) if row else {}


def remember(session: Session, key_id: str, name: str, value: dict) -> None:
    """Remember a choice for the next visit."""
    row = session.exec(select(ConsolePref).where(ConsolePref.key_id == key_id, ConsolePref.name == name)).first()
    row = row or ConsolePref(key_id=key_id, name=name)
    row.value = value
    session.add(row)
    session.commit()
