"""The per-case hash chain of timeline events (pure, deterministic: also used inside workflows)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
REDACTED = "_redacted"  # an event whose free text the retention sweep removed: its content can no longer be rehashed


def iso_utc(at: datetime) -> str:
    """Canonical UTC text of a time (naive times are taken as UTC, as SQLite returns them)."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text kept as is."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(
    prev_hash: str, *, case_no: str, seq: int, type: str, at: datetime, actor: dict | None, data: dict
) -> str:
    """SHA-256 over the previous hash and the event's canonical content."""
    body = canonical(
        {"case_no": case_no, "seq": seq, "type": type, "at": iso_utc(at), "actor": actor, "data": data}
    )
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    """One defect found when re-computing a chain."""

    seq: int
    problem: str


def verify_chain(case_no: str, events: Iterable[dict], head_hash: str | None = None) -> list[ChainProblem]:
    """Recompute a case's chain from stored events (dicts with seq, type, at, actor, data, prev_hash, hash).

    Reports altered events (hash mismatch), broken links, missing sequence numbers and a head that does not
    match the expected ``head_hash`` (events cut off at the end). An event the retention sweep redacted (its data
    carries ``_redacted``) keeps its hash: its link is checked, its content cannot be.
    """
    problems: list[ChainProblem] = []
    prev, expected_seq = GENESIS, 1
    for ev in sorted(events, key=lambda e: e["seq"]):
        if ev["seq"] != expected_seq:
            problems.append(ChainProblem(expected_seq, f"missing events {expected_seq}..{ev['seq'] - 1}"))
        if ev["prev_hash"] != prev:
            problems.append(ChainProblem(ev["seq"], "link to the previous event is broken"))
        fields = {k: ev[k] for k in ("seq", "type", "at", "actor", "data")}
        redacted = isinstance(ev["data"], dict) and REDACTED in ev["data"]
        if not redacted and event_hash(ev["prev_hash"], case_no=case_no, **fields) != ev["hash"]:
            problems.append(ChainProblem(ev["seq"], "content altered (hash mismatch)"))
        prev, expected_seq = ev["hash"], ev["seq"] + 1
    if head_hash is not None and prev != head_hash:
        problems.append(ChainProblem(expected_seq, "chain head differs from the recorded head (events missing)"))
    return problems
