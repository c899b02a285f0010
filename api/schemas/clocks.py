"""HTTP bodies and answers of the clock routes: clocks, extension (延期) and pause (挂起) requests, decisions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.contracts import ClockState
from core.contracts.case_io import Strict
from core.contracts.commands import DecisionFields, ExtensionFields, NoteFields, ReasonFields


class ReminderPublic(BaseModel):
    """A reminder threshold, its instant and whether it was sent."""

    threshold: float
    at: datetime
    sent: bool


class ClockPublic(BaseModel):
    """One clock: start, due, remaining, elapsed, paused, breached."""

    name: str
    label: str
    round: int
    limit: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    remaining_seconds: float = Field(description="until due (negative when overdue); at the stop if stopped")
    elapsed_seconds: float = Field(description="since start, less paused time; up to the stop if stopped")
    paused: bool
    paused_seconds: float
    breached: bool
    breached_at: datetime | None
    reminders: list[ReminderPublic]


def clock_public(c: ClockState, now: datetime) -> ClockPublic:
    """A clock as the API shows it, measured at ``now`` (or at its stop)."""
    end = c.stopped_at or c.paused_since or now
    return ClockPublic(
        name=c.name, label=c.label, round=c.round, limit=c.limit, started_at=c.started_at, due_at=c.due_at,
        stopped_at=c.stopped_at, remaining_seconds=(c.due_at - end).total_seconds(),
        elapsed_seconds=max((end - c.started_at).total_seconds() - c.paused_seconds, 0.0),
        paused=c.paused_since is not None, paused_seconds=c.paused_seconds,
        breached=c.breached_at is not None, breached_at=c.breached_at,
        reminders=[ReminderPublic(threshold=r.threshold, at=r.at, sent=r.threshold in c.fired) for r in c.reminders],
    )


class ExtensionIn(ExtensionFields, Strict):
    """延期申请."""


class PauseIn(ReasonFields, Strict):
    """挂起申请."""


class DecisionIn(DecisionFields, Strict):
    """A supervisor's decision."""


class ResumeIn(NoteFields, Strict):
    """End a pause."""
