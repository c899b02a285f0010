"""Independent reference for office-time arithmetic (minute steps over chinese_calendar), used to check the
production WorkingTime code without reusing it. Office hours 09:00–18:00 Asia/Shanghai, as in the shipped rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

TZ = ZoneInfo("Asia/Shanghai")


def is_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def in_office(t: datetime) -> bool:
    local = t.astimezone(TZ)
    return is_workday(local.date()) and 9 <= local.hour < 18


def end_of_working_day(t: datetime) -> datetime:
    """A working-day deadline: 18:00 of the working day whose office time ``t`` closes (an instant at or before
    09:00, or on a day off, closes the previous working day)."""
    local = t.astimezone(TZ)
    day = local.date()
    after_opening = local.replace(tzinfo=None) > datetime(day.year, day.month, day.day, 9)
    if not (is_workday(day) and after_opening):
        day -= timedelta(days=1)
    while not is_workday(day):
        day -= timedelta(days=1)
    return datetime(day.year, day.month, day.day, 18, tzinfo=TZ).astimezone(UTC)


def shift_by_office_time(due: datetime, paused_from: datetime, paused_to: datetime, *, day_clock: bool = False
                         ) -> datetime:
    """``due`` moved forward by the office minutes between paused_from and paused_to (``day_clock``: then to the
    end of that working day, as a working-day deadline)."""
    minute = timedelta(minutes=1)
    paused, t = 0, paused_from
    while t < paused_to:
        paused += in_office(t)
        t += minute
    t = due
    while paused > 0:
        paused -= in_office(t)
        t += minute
    return end_of_working_day(t) if day_clock else t.astimezone(UTC)
