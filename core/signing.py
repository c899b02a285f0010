"""Signed actors: the workflow believes an Update's actor only when the API signed it.

The trusted clients (API, CLI, benches, tests) connect with ``ActorSigner``: it signs the actor of every Update
it sends — an HMAC over the workflow id, the Update's name, the actor and the Update's other arguments — with a key
derived from the settings (never in a payload). The worker runs ``ActorCheck``: every Update validator refuses
(403) an Update whose actor is missing, unsigned or badly signed, before anything is recorded. Validators do not
run on replay, so rotating the key never breaks a replay. Anyone who reaches the Temporal frontend with a plain
client (``temporal workflow update execute …``) can no longer act as a supervisor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import BaseModel

UNSIGNED_UPDATES = frozenset({"await_plan"})  # no actor, changes nothing


def signing_key(secret: bytes) -> bytes:
    """The actor-signing key derived from the settings' encryption key (its own label)."""
    return hashlib.sha256(b"jiesu actor signatures:" + secret).digest()


def _message(workflow_id: str, update: str, arg: BaseModel) -> bytes:
    actor = getattr(arg, "actor", None)
    body = {"workflow": workflow_id, "update": update,
            "actor": actor.model_dump(mode="json", exclude={"signature"}) if actor is not None else None,
            "arg": arg.model_dump(mode="json", exclude={"actor"})}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def signature(key: bytes, workflow_id: str, update: str, arg: BaseModel) -> str:
    """The HMAC-SHA256 of an Update's actor and arguments, hex."""
    return hmac.new(key, _message(workflow_id, update, arg), hashlib.sha256).hexdigest()


def sign(key: bytes, workflow_id: str, update: str, arg: Any) -> Any:
    """``arg`` with its actor signed (unchanged when it carries no actor)."""
    actor = getattr(arg, "actor", None)
    if not isinstance(arg, BaseModel) or actor is None:
        return arg
    unsigned = arg.model_copy(update={"actor": actor.model_copy(update={"signature": None})})
    return arg.model_copy(update={"actor": actor.model_copy(
        update={"signature": signature(key, workflow_id, update, unsigned)})})


def refusal(key: bytes, workflow_id: str, update: str, args: list[Any]) -> str | None:
    """Why an Update's actor is not to be believed (None: it is signed by the API)."""
    if update in UNSIGNED_UPDATES:
        return None
    arg = args[0] if args else None
    actor = getattr(arg, "actor", None)
    if not isinstance(arg, BaseModel) or actor is None:
        return f"{update}: no actor (every action names who does it)"
    given = actor.signature
    if not given:
        return f"{update}: the actor is not signed (actions come through the jiesu API)"
    unsigned = arg.model_copy(update={"actor": actor.model_copy(update={"signature": None})})
    if not hmac.compare_digest(given, signature(key, workflow_id, update, unsigned)):
        return f"{update}: the actor's signature does not match"
    return None
