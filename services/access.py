"""记录查阅: the access log of personal-data reads — who read what, when, with which filters and how many rows —
as one hash chain, and the rate limit on reads that filter by personal data."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict, deque
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.admin_models import AccessLog
from core.chain import GENESIS, canonical, iso_utc
from core.columns import utcnow
from core.contracts import Actor
from services.errors import ServiceError

_recent: dict[str, deque[float]] = defaultdict(deque)
_lock = threading.Lock()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the entry's canonical content."""
    return hashlib.sha256((prev_hash + "\n" + canonical(entry)).encode()).hexdigest()


def _content(row: AccessLog) -> dict[str, Any]:
    return {"at": iso_utc(row.at), "actor_id": row.actor_id, "role": row.role, "department": row.department,
            "action": row.action, "case_no": row.case_no, "rows": row.rows, "detail": row.detail}


def record_access(engine: sa.Engine, actor: Actor, action: str, *, case_no: str | None = None,
                  rows: int | None = None, detail: dict[str, Any] | None = None) -> AccessLog:
    """Append one entry to the chain (its own transaction; retried when another writer appended first)."""
    for _ in range(10):
        with Session(engine, expire_on_commit=False) as session:
            head = session.exec(select(AccessLog.hash).order_by(AccessLog.id.desc()).limit(1)).first()  # type: ignore[union-attr]
            row = AccessLog(at=utcnow(), actor_id=actor.id, role=actor.role.value, department=actor.department,
                            action=action, case_no=case_no, rows=rows, detail=detail or {},
                            prev_hash=head or GENESIS, hash="")
            row.hash = entry_hash(row.prev_hash, _content(row))
            session.add(row)
            try:
                session.commit()
                return row
            except sa.exc.IntegrityError:
                session.rollback()  # another writer took this head: append after it
    raise ServiceError(503, "unavailable", "the access log is busy, retry", {"Retry-After": "1"})


def verify_access_log(session: Session) -> list[str]:
    """Problems of the chain (altered, removed or reordered entries); empty when intact."""
    problems, prev = [], GENESIS
    for row in session.exec(select(AccessLog).order_by(AccessLog.id)).all():  # type: ignore[arg-type]
        if row.prev_hash != prev:
            problems.append(f"entry {row.id}: link to the previous entry is broken")
        if entry_hash(row.prev_hash, _content(row)) != row.hash:
            problems.append(f"entry {row.id}: content altered (hash mismatch)")
        prev = row.hash
    return problems


LOCKOUT_SECONDS = 15 * 60  # after too many failed authentications from one address
_locked: dict[str, float] = {}


def limit(bucket: str, who: str, per_minute: int, what: str, window: float = 60.0) -> None:
    """429 with Retry-After when ``who`` has used ``bucket`` ``per_minute`` times in the last ``window`` seconds
    (a minute unless given; per API process); else count this use."""
    now = time.monotonic()
    with _lock:
        recent = _recent[f"{bucket}:{who}"]
        while recent and now - recent[0] > window:
            recent.popleft()
        if len(recent) >= per_minute:
            span = "a minute" if window == 60 else f"in {int(window // 60)} minutes"
            raise ServiceError(429, "rate_limited", f"at most {per_minute} {what} {span}",
                               {"Retry-After": str(int(window - (now - recent[0])) + 1)})
        recent.append(now)


def limit_personal_reads(actor: Actor, per_minute: int) -> None:
    """429 when the actor has read personal data too often in the last minute (guessing a masked phone through
    a filter needs thousands of reads)."""
    limit("personal", actor.id, per_minute, "reads of personal data")


def refuse_locked_out(address: str) -> None:
    """429 while an address is locked out after too many failed authentications."""
    until = _locked.get(address)
    if until is not None and time.monotonic() < until:
        raise ServiceError(429, "locked_out", "too many failed authentications from this address: locked out",
                           {"Retry-After": str(int(until - time.monotonic()) + 1)})


def note_failed_auth(address: str, per_minute: int) -> None:
    """Count a failed authentication; past ``per_minute`` in a minute the address is locked out for 15 minutes."""
    try:
        limit("failed_auth", address, per_minute, "failed authentications")
    except ServiceError:
        _locked[address] = time.monotonic() + LOCKOUT_SECONDS
        raise
