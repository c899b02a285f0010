"""The handler reaches the complainant: the full number for the lead department's handler (or a supervisor),
each reveal recorded (who, when, why) and limited per hour — or, with a privacy-number relay (隐私号, AXB binding)
configured, a temporary number that rings the complainant, so the real one is never shown."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from pydantic import BaseModel

from core.columns import utcnow
from core.contracts import Actor
from core.crypto import Cipher
from core.models import Case
from core.settings import Settings
from rules.engine import RulesEngine
from services.access import limit, record_access
from services.errors import ServiceError


class Binding(BaseModel):
    """A relay binding: dialling ``number`` from the handler's line rings the complainant until ``expires_at``."""

    number: str
    call_id: str
    expires_at: datetime


class PrivacyRelay(Protocol):
    """An AXB privacy-number provider (the handler's line A, the temporary X, the complainant's B)."""

    def bind(self, case_no: str, handler: Actor, phone: str) -> Binding:
        """Bind a temporary number for this handler and complainant."""
        ...


class FakeRelay:
    """A relay for development and tests: deterministic temporary numbers, nothing leaves the machine."""

    def bind(self, case_no: str, handler: Actor, phone: str) -> Binding:
        """A 170 number derived from the case and the handler, valid for 30 minutes."""
        digest = hashlib.sha256(f"{case_no}:{handler.id}".encode()).hexdigest()
        return Binding(number="170" + str(int(digest[:12], 16))[-8:].rjust(8, "0"), call_id=f"axb-{digest[:16]}",
                       expires_at=utcnow() + timedelta(minutes=30))


RELAYS: dict[str, type] = {"fake": FakeRelay}


class Revealed(BaseModel):
    """What the handler gets: the real name and number, or the relay's temporary number (then ``phone`` is null)."""

    case_no: str
    name: str
    phone: str | None = None
    relay: Binding | None = None


def reveal(engine: sa.Engine, settings: Settings, rules: RulesEngine, case: Case, actor: Actor,
           reason: str) -> Revealed:
    """The complainant's name and number (or a relay binding), recorded in the access log, limited per hour."""
    assert case.case_no is not None
    per_hour = rules.rules.privacy.reveals_per_hour
    limit("reveal", actor.id, per_hour, "revealed phone numbers", window=3600)
    cipher = Cipher(settings)
    try:
        name, phone = cipher.decrypt(case.name_enc), cipher.decrypt(case.phone_enc)
    except ValueError as exc:  # anonymised by retention, or a key that no longer fits
        raise ServiceError(409, "state_conflict", f"case {case.case_no}: the complainant's data is gone") from exc
    relay = RELAYS.get(settings.privacy_relay)
    binding = relay().bind(case.case_no, actor, phone) if relay else None
    record_access(engine, actor, "reveal_phone", case_no=case.case_no,
                  detail={"reason": reason, "relay": binding.call_id if binding else None})
    return Revealed(case_no=case.case_no, name=name, phone=None if binding else phone, relay=binding)
