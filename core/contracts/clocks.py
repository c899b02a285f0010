"""Clock and plan value objects: a clock's due time and reminders, the handling plan, a dispatch plan."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.contracts.vocabulary import Urgency


class Reminder(BaseModel):
    """A warning threshold of a clock (催办) and the instant it is reached."""

    threshold: float
    at: datetime


# The unit of a working-day limit in a clock's ``limit`` text ("5 个工作日", "5 个工作日，延期 3 个工作日"); a clock
# counted in working days has its deadline at the end of a working day, whatever moves it.
WORKING_DAY_UNIT = "个工作日"


class ClockPlan(BaseModel):
    """One named clock of a case with its due time fixed when it starts and its reminder instants."""

    name: str
    label: str
    started_at: datetime
    due_at: datetime
    limit: str  # human-readable limit, e.g. "5 个工作日" or "24 小时"
    working: bool = False  # counted in working days (reminders and pauses use working time)
    reminders: list[Reminder] = Field(default_factory=list)
    calendar_gaps: list[int] = Field(default_factory=list)  # years without holiday data: the due time is provisional


class ClockState(BaseModel):
    """A running or stopped clock as the workflow keeps it (also projected to the case row)."""

    name: str
    label: str
    round: int = 1
    started_at: datetime
    due_at: datetime
    limit: str
    working: bool = False
    reminders: list[Reminder] = Field(default_factory=list)
    fired: list[float] = Field(default_factory=list)
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    paused_since: datetime | None = None
    paused_seconds: float = 0.0
    extended_days: int = 0  # 延期 granted so far (working days), kept when a rules migration re-computes the clock
    calendar_gaps: list[int] = Field(default_factory=list)  # years without holiday data: the due time is provisional

    @property
    def provisional(self) -> bool:
        """The due time was computed with the fallback calendar for a year without holiday data."""
        return bool(self.calendar_gaps)

    @property
    def counts_working_days(self) -> bool:
        """The limit is N working days (not natural or office hours): the deadline is the end of a working day."""
        return self.limit.split("，")[0].endswith(WORKING_DAY_UNIT)

    @property
    def running(self) -> bool:
        """Not stopped and not paused."""
        return self.stopped_at is None and self.paused_since is None

    def next_alarm(self) -> datetime | None:
        """The next unfired reminder or the breach, if the clock runs."""
        if not self.running:
            return None
        times = [r.at for r in self.reminders if r.threshold not in self.fired]
        if self.breached_at is None:
            times.append(self.due_at)
        return min(times) if times else None


class Screening(BaseModel):
    """A screening rule that matched: the complaint is transferred, pointed to a legal channel or not accepted."""

    code: str
    name: str = ""
    action: Literal["transfer", "legal_channel", "not_accepted"]
    target: str | None = None  # transfer: 110 / 119 / 120 / 122
    reply: str
    matched: str  # the keyword or category that matched


class HandlingPlan(BaseModel):
    """What the rules say about a case: lead department and clocks (computed in an activity)."""

    rules_version: str
    urgency: Urgency
    lead_department: str
    lead_department_name: str
    candidates: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)
    clocks: dict[str, ClockPlan] = Field(default_factory=dict)
    calendar_gaps: list[int] = Field(default_factory=list)  # years any due time here had no holiday data for
    return_due: datetime | None = None
    return_limit: int = 2
    partner_question: str = ""
    max_rounds: int = 2
    priority: int = 0  # special groups (绿色通道) raise it
    urgency_reason: str | None = None  # e.g. 关键词「燃气泄漏」
    screening: Screening | None = None  # routed away instead of handled

    def due(self, clock: str) -> datetime | None:
        """The due time of a clock, if the plan has it."""
        plan = self.clocks.get(clock)
        return plan.due_at if plan else None


class DispatchPlan(BaseModel):
    """A (re-)dispatch to a department: its sign-for clock and the end of its return window."""

    department: str
    department_name: str
    sign_for: ClockPlan
    return_due: datetime
    restarted: dict[str, ClockPlan] = Field(default_factory=dict)  # clocks that start anew with the new lead
    calendar_gaps: list[int] = Field(default_factory=list)


class ClockChange(BaseModel):
    """A clock whose due time a migration moves."""

    name: str
    round: int = 1
    old_due: datetime
    new_due: datetime
