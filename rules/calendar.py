"""Working-day calendar (工作日): State Council holiday data plus the rules' own overrides.

Source order for a date: the rules' ``calendar`` overrides, then the ``chinese-calendar`` package for the years it
covers, then a weekday fallback (Mon–Fri) that is reported as a calendar gap for that year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from rules.schema import CalendarOverrides, Limit


class WorkCalendar:
    """Answers "is this a working day?" and does deadline arithmetic in the rules' time zone."""

    def __init__(self, overrides: CalendarOverrides, tz: str = "Asia/Shanghai", end_hour: int = 18) -> None:
        self.tz = ZoneInfo(tz)
        self.end_hour = end_hour
        self._holidays = {date.fromisoformat(d) for d in overrides.holidays}
        self._workdays = {date.fromisoformat(d) for d in overrides.workdays}
        self._years = set(overrides.years)

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is a working day, the answer comes from real holiday data rather than the weekday fallback)."""
        if day in self._holidays:
            return False, True
        if day in self._workdays:
            return True, True
        if day.year in self._years:
            return day.weekday() < 5, True
        try:
            return chinese_calendar.is_workday(day), True
        except NotImplementedError:
            return day.weekday() < 5, False

    def has_year(self, year: int) -> bool:
        """Whether holiday data (package or overrides) exists for a year."""
        if year in self._years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            return True
        except NotImplementedError:
            return False

    def end_of_workday(self, day: date) -> datetime:
        """The end of a working day (the rules' end-of-day hour, local time), as an aware datetime."""
        if self.end_hour == 24:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        return datetime.combine(day, time(self.end_hour), tzinfo=self.tz)

    def add_working_days(self, start: datetime, n: int) -> tuple[datetime, set[int]]:
        """End of the Nth working day after the day of ``start``; also the years that fell back to weekdays."""
        day = start.astimezone(self.tz).date()
        gaps: set[int] = set()
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            workday, known = self.is_workday(day)
            if not known:
                gaps.add(day.year)
            counted += workday
        return self.end_of_workday(day), gaps

    def due(self, start: datetime, limit: Limit) -> tuple[datetime, set[int]]:
        """Due time of a limit started at ``start``: natural hours or working days."""
        if limit.hours is not None:
            return start + timedelta(hours=limit.hours), set()
        assert limit.working_days is not None
        return self.add_working_days(start, limit.working_days)
