"""Clock bookkeeping of a case (pure and deterministic: used by CaseWorkflow)."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.contracts import ClockPlan, ClockState, Reminder


def start_clock(plan: ClockPlan, round_: int) -> ClockState:
    """A running clock from its plan."""
    return ClockState(name=plan.name, label=plan.label, round=round_, started_at=plan.started_at,
                      due_at=plan.due_at, limit=plan.limit, working=plan.working, reminders=list(plan.reminders),
                      calendar_gaps=list(plan.calendar_gaps))


def due_alarms(clock: ClockState, now: datetime) -> tuple[list[Reminder], bool]:
    """Unfired reminders whose instant has come, and whether the breach has come (only for a running clock)."""
    if not clock.running:
        return [], False
    reminders = [r for r in clock.reminders if r.threshold not in clock.fired and r.at <= now]
    return reminders, clock.breached_at is None and clock.due_at <= now


def next_alarm(clocks: dict[str, ClockState]) -> datetime | None:
    """The earliest next alarm over all clocks."""
    times = [t for t in (c.next_alarm() for c in clocks.values()) if t is not None]
    return min(times) if times else None


def overdue(clocks: dict[str, ClockState]) -> bool:
    """A running (or paused) clock is past its due time."""
    return any(c.breached_at is not None and c.stopped_at is None for c in clocks.values())
