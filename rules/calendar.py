"""Working-day calendar (工作日): State Council holiday data plus the rules' own overrides.

Source order for a date: the rules' ``calendar`` overrides, then the ``chinese-calendar`` package for the years it
covers, then a fallback that is reported as a calendar gap for that year: the statutory holidays without 调休
(``calendar.fallback: statutory``, rules/holidays.py) or plain Monday–Friday (``weekdays``, versions before 2026.3).
A deadline computed with the fallback is provisional until a rules version with the year's notice re-plans it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from rules.holidays import statutory_holidays
from rules.schema import CalendarOverrides, Limit


class WorkCalendar:
    """Answers "is this a working day?" and does deadline arithmetic in the rules' time zone."""

    def __init__(self, overrides: CalendarOverrides, tz: str = "Asia/Shanghai", end_hour: int = 18) -> None:
        self.tz = ZoneInfo(tz)
        self.end_hour = end_hour
        self._holidays = {date.fromisoformat(d) for d in overrides.holidays}
        self._workdays = {date.fromisoformat(d) for d in overrides.workdays}
        self._years = set(overrides.years)
        self.statutory = overrides.fallback == "statutory"
        self._package_years: dict[int, bool] = {}
        self._days: dict[date, tuple[bool, bool]] = {}  # answers so far: every plan walks the same few weeks

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is a working day, the answer comes from real holiday data rather than the weekday fallback)."""
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._look_up(day)
        return known

    def _look_up(self, day: date) -> tuple[bool, bool]:
        if day in self._holidays:
            return False, True
        if day in self._workdays:
            return True, True
        if day.year in self._years:
            return day.weekday() < 5, True
        if self.has_year(day.year):  # cached per year: no exception raised per day of a year without data
            return chinese_calendar.is_workday(day), True
        holiday = self.statutory and day in statutory_holidays(day.year)
        return day.weekday() < 5 and not holiday, False

    def has_year(self, year: int) -> bool:
        """Whether holiday data (package or overrides) exists for a year."""
        if year in self._years:
            return True
        if year not in self._package_years:
            try:
                chinese_calendar.is_workday(date(year, 6, 1))
                self._package_years[year] = True
            except NotImplementedError:
                self._package_years[year] = False
        return self._package_years[year]

    def gap_years(self, a: datetime, b: datetime) -> set[int]:
        """The years without holiday data that a computation over the local days from ``a`` to ``b`` consults."""
        lo, hi = sorted((a.astimezone(self.tz).year, b.astimezone(self.tz).year))
        return {y for y in range(lo, hi + 1) if not self.has_year(y)}

    def end_of_workday(self, day: date) -> datetime:
        """The end of a working day (the rules' end-of-day hour, local time), as an aware datetime."""
        if self.end_hour == 24:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        return datetime.combine(day, time(self.end_hour), tzinfo=self.tz)

    def add_working_days(self, start: datetime, n: int) -> tuple[datetime, set[int]]:
        """End of the Nth working day after the day of ``start``; also the years that fell back to weekdays."""
        return self._after(start.astimezone(self.tz).date(), n)

    def extend_due(self, due: datetime, n: int) -> tuple[datetime, set[int]]:
        """A due time N working days later (延期): counted from the working day the due time ends, which is the
        day before when the end-of-day hour is 24 (a 00:00 due time closes the previous day)."""
        local = due.astimezone(self.tz)
        if self.end_hour == 24 and local.time() == time(0):
            local -= timedelta(days=1)
        return self._after(local.date(), n)

    def _after(self, day: date, n: int) -> tuple[datetime, set[int]]:
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
        if limit.minutes is not None:
            return start + timedelta(minutes=limit.minutes), set()
        if limit.hours is not None:
            return start + timedelta(hours=limit.hours), set()
        assert limit.working_days is not None
        return self.add_working_days(start, limit.working_days)


class WorkingTime:
    """Working time = office hours (rules: ``workday_start_hour`` to ``workday_end_hour``) on working days.

    Used to place reminders at a fraction of a working-day clock and to shift a due time by paused time, so a
    7-day holiday neither fires a "50 %" reminder nor counts as paused working time, and reminders land in office
    hours.
    """

    def __init__(self, calendar: WorkCalendar, start_hour: int = 9) -> None:
        self.cal = calendar
        self.start_hour = start_hour

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.cal.is_workday(day)[0]:
            return None
        opens = datetime.combine(day, time(self.start_hour), tzinfo=self.cal.tz)
        return opens, self.cal.end_of_workday(day)

    def seconds(self, a: datetime, b: datetime) -> float:
        """Working seconds between a and b (0 when b <= a)."""
        a, b = a.astimezone(self.cal.tz), b.astimezone(self.cal.tz)
        total, day = 0.0, a.date()
        while day <= b.date():
            window = self._window(day)
            if window:
                lo, hi = max(a, window[0]), min(b, window[1])
                total += max((hi - lo).total_seconds(), 0.0)
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which ``seconds`` of working time have passed after ``start`` (``start`` itself
        for none: the end of a working day stays there instead of becoming the start of the next one)."""
        t = start.astimezone(self.cal.tz)
        if seconds <= 0:
            return t
        left, day = seconds, t.date()
        for _ in range(3660):  # ten years of days at most
            window = self._window(day)
            if window and t < window[1]:
                t = max(t, window[0])
                room = (window[1] - t).total_seconds()
                if left <= room:
                    return t + timedelta(seconds=left)
                left -= room
            day += timedelta(days=1)
            t = datetime.combine(day, time(0), tzinfo=self.cal.tz)
        raise ValueError("working time beyond ten years")

    def day_deadline(self, t: datetime) -> datetime:
        """The working-day deadline that ``t`` falls in: the end of its working day when ``t`` lies inside office
        hours, else the end of the last working day before ``t`` (no working time separates the two, and a
        deadline is the end of a working day, never the start of the next one)."""
        local = t.astimezone(self.cal.tz)
        day = local.date()
        for back in range(3660):
            window = self._window(day - timedelta(days=back))
            if window and (window[0] < local <= window[1] or window[1] <= local):
                return window[1]
        raise ValueError("no working day in ten years")


def calendar_warnings(calendar: WorkCalendar, today: date, horizon_days: int = 60) -> list[str]:
    """Warn when next year's holiday data is missing and the year ends within ``horizon_days``."""
    year_end = date(today.year, 12, 31)
    if (year_end - today).days <= horizon_days and not calendar.has_year(today.year + 1):
        return [f"no holiday data for {today.year + 1}: the year ends in {(year_end - today).days} days; add the "
                f"State Council notice as `calendar` entries (holidays, workdays, years: [{today.year + 1}]) in a "
                "new rules version — until then deadlines in that year fall back to Monday–Friday"]
    return []
