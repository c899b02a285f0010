"""Clock maths of one rules version: due times (office hours, working days or natural hours, over the holiday
calendar), reminders (催办), extensions (延期), pauses (挂起). Pure functions, no IO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.contracts import WORKING_DAY_UNIT, ClockName, ClockPlan, ClockState, Reminder, Urgency
from rules.calendar import WorkCalendar, WorkingTime
from rules.errors import ExtensionNotAllowed, ExtensionTooLong, UnknownReference
from rules.schema import Limit, Rules


class Timing:
    """The clocks of one parsed rules version."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.calendar = WorkCalendar(rules.calendar, rules.timezone, rules.workday_end_hour)
        self.working_time = WorkingTime(self.calendar, rules.workday_start_hour)

    @property
    def version(self) -> str:
        """The rules version."""
        return self.rules.version

    def clock(self, name: str, start: datetime, limit: Limit) -> tuple[ClockPlan, set[int]]:
        """A clock started at ``start`` with its fixed due time and reminders (and the calendar gap years met)."""
        due, gaps = self._due(start, limit)
        working = limit.working
        if working:
            gaps |= self.calendar.gap_years(start, due)
        plan = ClockPlan(name=name, label=ClockName(name).label, started_at=start, due_at=due.astimezone(UTC),
                         limit=limit.label(), working=working, calendar_gaps=sorted(gaps))
        plan.reminders = self.reminders(start, plan.due_at, working)
        return plan, gaps

    def reminders(self, start: datetime, due: datetime, working: bool) -> list[Reminder]:
        """催办 instants: each threshold's fraction of the clock's (working) time after ``start``."""
        if not working:
            span = due - start
            return [Reminder(threshold=t, at=start + span * t) for t in self.rules.clocks.thresholds]
        total = self.working_time.seconds(start, due)
        return [Reminder(threshold=t, at=self.working_time.add(start, total * t).astimezone(UTC))
                for t in self.rules.clocks.thresholds]

    def extend(self, clock: ClockState, working_days: int, urgency: Urgency | None = None) -> ClockState:
        """延期: the clock with its due time N working days later and reminders re-placed; enforces the rules'
        urgencies (ExtensionNotAllowed) and the maximum (ExtensionTooLong)."""
        refused = self.rules.clocks.extension_refusal(urgency, self.version) if urgency else None
        if refused:
            raise ExtensionNotAllowed(refused)
        base = self.working_time.day_deadline(clock.due_at) if clock.counts_working_days else clock.due_at
        new_due, _ = self.calendar.extend_due(base, working_days)
        longest, _ = self.calendar.add_working_days(clock.started_at, self.rules.clocks.extension_max_working_days)
        if new_due > longest:
            raise ExtensionTooLong(
                f"the extended deadline would exceed {self.rules.clocks.extension_max_working_days} working days "
                f"from the start ({longest.astimezone(UTC).isoformat()})")
        due = new_due.astimezone(UTC)
        return clock.model_copy(update={"due_at": due, "reminders": self.reminders(clock.started_at, due, True),
                                        "limit": f"{clock.limit}，延期 {working_days} {WORKING_DAY_UNIT}",
                                        "extended_days": clock.extended_days + working_days,
                                        "calendar_gaps": sorted(self.calendar.gap_years(clock.started_at, due))})

    def shift(self, clock: ClockState, paused_from: datetime, paused_to: datetime) -> tuple[ClockState, float]:
        """挂起: the clock with due time and pending reminders moved by the paused (working) time."""
        if clock.working:
            # whole minutes: the latency of the resume request must not spill a deadline into the next day
            paused = float(int(self.working_time.seconds(paused_from, paused_to)) // 60 * 60)
        else:
            paused = (paused_to - paused_from).total_seconds()
        reminders = [r if r.threshold in clock.fired else
                     Reminder(threshold=r.threshold, at=self.moved(r.at, paused, clock.working))
                     for r in clock.reminders]
        due = self.moved(clock.due_at, paused, clock.working, deadline=clock.counts_working_days)
        gaps = set(clock.calendar_gaps)
        if clock.working:
            gaps |= self.calendar.gap_years(paused_from, paused_to) | self.calendar.gap_years(clock.started_at, due)
        return clock.model_copy(update={"due_at": due, "reminders": reminders, "calendar_gaps": sorted(gaps),
                                        "paused_seconds": clock.paused_seconds + paused}), paused

    def moved(self, t: datetime, paused: float, working: bool, deadline: bool = False) -> datetime:
        """``t`` moved by ``paused`` seconds (office time when ``working``, else natural time), in UTC;
        ``deadline``: a working-day deadline, which stays at the end of a working day."""
        out = self.working_time.add(t, paused) if working else t + timedelta(seconds=paused)
        if deadline:
            out = self.working_time.day_deadline(out)
        return out.astimezone(UTC)

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Office time between two instants, in working days (a full office day counts 1)."""
        day = (self.rules.workday_end_hour - self.rules.workday_start_hour) * 3600
        return self.working_time.seconds(start, end) / day

    def _due(self, start: datetime, limit: Limit) -> tuple[datetime, set[int]]:
        """Due time of a limit (office hours, working days or natural hours) and the calendar gap years met."""
        if limit.working_hours is not None:
            return self.working_time.add(start, limit.working_hours * 3600), set()
        return self.calendar.due(start, limit)

    def deadline(self, start: datetime, limit: Limit) -> datetime:
        """A plain deadline without reminders (for example the end of the return window), in UTC."""
        return self._due(start, limit)[0].astimezone(UTC)

    def limit(self, name: str, urgency: Urgency) -> Limit | None:
        """The limit of a clock for a case of ``urgency``: a case clock (review, 处置启动 …), the partner's reply
        (协办) or the return window (退单); None: the case has no such clock."""
        if name == "partner_reply":
            return self.rules.co_handling.reply.for_urgency(urgency)
        if name == "return_window":
            return self.rules.dispatch.return_window.for_urgency(urgency)
        return self.rules.clocks.limit(name, urgency)

    def _limit(self, name: str, urgency: Urgency) -> Limit:
        """The limit of a clock every case has (the schema checks each urgency has one)."""
        limit = self.limit(name, urgency)
        if limit is None:
            raise UnknownReference(f"rules {self.version} set no {name} limit for {urgency.value}")
        return limit
