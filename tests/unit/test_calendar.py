"""WorkCalendar: "N working days" = end of the Nth working day after the day of receipt (Asia/Shanghai).

Expected dates are worked out by hand from the State Council's 2026 holiday notice:
元旦 1.1–1.3 (1.4 Sun works), 春节 2.15–2.23 (2.14 Sat and 2.28 Sat work), 清明 4.4–4.6, 劳动节 5.1–5.5 (5.9 Sat works),
端午 6.19–6.21, 中秋 9.25–9.27, 国庆 10.1–10.7 (9.20 Sun and 10.10 Sat work).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from rules.calendar import WorkCalendar
from rules.schema import CalendarOverrides, Limit

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    """A Beijing-time instant."""
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(CalendarOverrides())


# --- the package data this file relies on (guards the hand-made expectations below) ---------------------------


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2026, 2, 14), True),  # Saturday, 调休 for Spring Festival
        (date(2026, 2, 28), True),  # Saturday, 调休 for Spring Festival
        (date(2026, 2, 17), False),  # Spring Festival
        (date(2026, 2, 23), False),  # Monday, last day of Spring Festival
        (date(2026, 10, 10), True),  # Saturday, 调休 for National Day
        (date(2026, 10, 7), False),  # Wednesday, National Day
        (date(2026, 10, 11), False),  # ordinary Sunday
    ],
)
def test_package_agrees_with_the_2026_notice(day: date, workday: bool) -> None:
    assert chinese_calendar.is_workday(day) is workday


# --- is_workday ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 2, 14), (True, True)),  # 调休 Saturday
        (date(2026, 2, 28), (True, True)),  # 调休 Saturday
        (date(2026, 1, 4), (True, True)),  # 调休 Sunday
        (date(2026, 2, 21), (False, True)),  # Saturday inside Spring Festival
        (date(2026, 10, 1), (False, True)),  # National Day (Thursday)
        (date(2026, 10, 12), (True, True)),  # ordinary Monday
        (date(2026, 10, 17), (False, True)),  # ordinary Saturday
    ],
)
def test_is_workday_uses_package_data(cal: WorkCalendar, day: date, expected: tuple[bool, bool]) -> None:
    assert cal.is_workday(day) == expected


def test_is_workday_outside_package_falls_back_to_weekdays(cal: WorkCalendar) -> None:
    assert cal.is_workday(date(2027, 1, 1)) == (True, False)  # a Friday: weekday, but not real data
    assert cal.is_workday(date(2027, 1, 2)) == (False, False)  # a Saturday


def test_has_year(cal: WorkCalendar) -> None:
    assert cal.has_year(2026) is True
    assert cal.has_year(2027) is False
    assert WorkCalendar(CalendarOverrides(years=[2027])).has_year(2027) is True


# --- add_working_days ------------------------------------------------------------------------------------------


def test_day_before_national_day_five_working_days(cal: WorkCalendar) -> None:
    # 9.30 Wed received; 10.1–10.7 off; 10.8 Thu (1), 10.9 Fri (2), 10.10 Sat 调休 (3), 10.12 Mon (4), 10.13 Tue (5)
    due, gaps = cal.add_working_days(at(2026, 9, 30), 5)
    assert due == datetime(2026, 10, 13, 18, 0, tzinfo=SH)
    assert due == datetime(2026, 10, 13, 10, 0, tzinfo=UTC)
    assert due.utcoffset() is not None and due.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert gaps == set()


def test_day_before_national_day_one_working_day(cal: WorkCalendar) -> None:
    due, gaps = cal.add_working_days(at(2026, 9, 30, 17, 59), 1)
    assert due == datetime(2026, 10, 8, 18, 0, tzinfo=SH)
    assert gaps == set()


def test_spring_festival_one_working_day(cal: WorkCalendar) -> None:
    # 2.17 Tue (holiday) received; 2.18–2.23 off; 2.24 Tue is the first working day
    due, gaps = cal.add_working_days(at(2026, 2, 17), 1)
    assert due == datetime(2026, 2, 24, 18, 0, tzinfo=SH)
    assert gaps == set()


def test_spring_festival_five_working_days_ends_on_tiaoxiu_saturday(cal: WorkCalendar) -> None:
    # 2.24 Tue (1), 2.25 (2), 2.26 (3), 2.27 Fri (4), 2.28 Sat 调休 (5)
    due, gaps = cal.add_working_days(at(2026, 2, 17), 5)
    assert due == datetime(2026, 2, 28, 18, 0, tzinfo=SH)
    assert gaps == set()


def test_tiaoxiu_saturday_counts_as_working_day(cal: WorkCalendar) -> None:
    # received Friday 2.13; Saturday 2.14 is a working day
    due, _ = cal.add_working_days(at(2026, 2, 13), 1)
    assert due == datetime(2026, 2, 14, 18, 0, tzinfo=SH)
    # 2.14 Sat (1), then the whole Spring Festival break, 2.24 Tue (2)
    due, _ = cal.add_working_days(at(2026, 2, 13), 2)
    assert due == datetime(2026, 2, 24, 18, 0, tzinfo=SH)


def test_received_on_tiaoxiu_saturday(cal: WorkCalendar) -> None:
    # received on 2.14 Sat (working day); the count starts the day after: 2.15–2.23 off → 2.24
    due, _ = cal.add_working_days(at(2026, 2, 14), 1)
    assert due == datetime(2026, 2, 24, 18, 0, tzinfo=SH)


def test_ordinary_weekend_is_skipped(cal: WorkCalendar) -> None:
    # received Fri 10.16; 10.17/10.18 weekend; 10.19 Mon (1), 10.20 Tue (2)
    due, _ = cal.add_working_days(at(2026, 10, 16), 2)
    assert due == datetime(2026, 10, 20, 18, 0, tzinfo=SH)


def test_day_of_receipt_is_taken_in_beijing_time(cal: WorkCalendar) -> None:
    # 2026-09-29 16:30 UTC is 2026-09-30 00:30 in Beijing: the day of receipt is 9.30, not 9.29
    due, _ = cal.add_working_days(datetime(2026, 9, 29, 16, 30, tzinfo=UTC), 1)
    assert due == datetime(2026, 10, 8, 18, 0, tzinfo=SH)
    # 2026-02-13 15:59 UTC is 23:59 on Friday 2.13 in Beijing → 2.14 Sat 调休
    due, _ = cal.add_working_days(datetime(2026, 2, 13, 15, 59, tzinfo=UTC), 1)
    assert due == datetime(2026, 2, 14, 18, 0, tzinfo=SH)


# --- overrides ------------------------------------------------------------------------------------------------


def test_override_holiday_wins_over_package() -> None:
    cal = WorkCalendar(CalendarOverrides(holidays=["2026-10-08"]))
    assert cal.is_workday(date(2026, 10, 8)) == (False, True)
    # 10.9 Fri (1), 10.10 Sat 调休 (2), 10.12 (3), 10.13 (4), 10.14 Wed (5)
    due, gaps = cal.add_working_days(at(2026, 9, 30), 5)
    assert due == datetime(2026, 10, 14, 18, 0, tzinfo=SH)
    assert gaps == set()


def test_override_workday_wins_over_package() -> None:
    cal = WorkCalendar(CalendarOverrides(workdays=["2026-10-07"]))
    assert cal.is_workday(date(2026, 10, 7)) == (True, True)
    # 10.7 (1), 10.8 (2), 10.9 (3), 10.10 Sat (4), 10.12 Mon (5)
    due, _ = cal.add_working_days(at(2026, 9, 30), 5)
    assert due == datetime(2026, 10, 12, 18, 0, tzinfo=SH)


def test_override_years_replace_package_data_for_that_year() -> None:
    # years = [2026]: the overrides fully describe 2026, so the package's National Day is ignored
    cal = WorkCalendar(CalendarOverrides(years=[2026]))
    assert cal.is_workday(date(2026, 10, 1)) == (True, True)  # Thursday
    assert cal.is_workday(date(2026, 10, 10)) == (False, True)  # Saturday, no 调休 in the overrides
    due, gaps = cal.add_working_days(at(2026, 9, 30), 5)
    assert due == datetime(2026, 10, 7, 18, 0, tzinfo=SH)  # 10.1, 10.2, 10.5, 10.6, 10.7
    assert gaps == set()


def test_override_year_beyond_package_is_real_data() -> None:
    cal = WorkCalendar(CalendarOverrides(holidays=["2027-01-01"], workdays=["2027-01-09"], years=[2027]))
    assert cal.is_workday(date(2027, 1, 1)) == (False, True)  # Friday, declared holiday
    assert cal.is_workday(date(2027, 1, 9)) == (True, True)  # Saturday, declared working day
    assert cal.is_workday(date(2027, 1, 10)) == (False, True)  # Sunday, weekday rule but known year
    # received Thu 2026-12-31: 1.1 holiday, 1.2/1.3 weekend, 1.4 Mon (1)
    due, gaps = cal.add_working_days(at(2026, 12, 31), 1)
    assert due == datetime(2027, 1, 4, 18, 0, tzinfo=SH)
    assert gaps == set()


# --- calendar gaps --------------------------------------------------------------------------------------------


def test_year_without_data_falls_back_to_weekdays_and_reports_gap(cal: WorkCalendar) -> None:
    # 2027-03-05 is a Friday; the next weekday is Monday 2027-03-08
    due, gaps = cal.add_working_days(at(2027, 3, 5), 1)
    assert due == datetime(2027, 3, 8, 18, 0, tzinfo=SH)
    assert gaps == {2027}


def test_deadline_crossing_into_gap_year(cal: WorkCalendar) -> None:
    # received Wed 2026-12-30: 12.31 Thu (1, real data), 2027-01-01 Fri (2, fallback), 2027-01-04 Mon (3, fallback)
    due, gaps = cal.add_working_days(at(2026, 12, 30), 3)
    assert due == datetime(2027, 1, 4, 18, 0, tzinfo=SH)
    assert gaps == {2027}


def test_no_gap_reported_when_deadline_stays_in_known_year(cal: WorkCalendar) -> None:
    # received Mon 2026-12-28, one working day → Tue 12.29: 2027 never consulted
    due, gaps = cal.add_working_days(at(2026, 12, 28), 1)
    assert due == datetime(2026, 12, 29, 18, 0, tzinfo=SH)
    assert gaps == set()


# --- end-of-day hour ------------------------------------------------------------------------------------------


def test_end_of_workday_default_hour(cal: WorkCalendar) -> None:
    assert cal.end_of_workday(date(2026, 2, 28)) == datetime(2026, 2, 28, 18, 0, tzinfo=SH)


def test_end_hour_24_is_midnight_of_next_day() -> None:
    cal = WorkCalendar(CalendarOverrides(), end_hour=24)
    assert cal.end_of_workday(date(2026, 2, 28)) == datetime(2026, 3, 1, 0, 0, tzinfo=SH)
    assert cal.end_of_workday(date(2026, 12, 31)) == datetime(2027, 1, 1, 0, 0, tzinfo=SH)
    due, _ = cal.add_working_days(at(2026, 9, 30), 5)
    assert due == datetime(2026, 10, 14, 0, 0, tzinfo=SH)


def test_custom_end_hour() -> None:
    cal = WorkCalendar(CalendarOverrides(), end_hour=17)
    due, _ = cal.add_working_days(at(2026, 2, 17), 1)
    assert due == datetime(2026, 2, 24, 17, 0, tzinfo=SH)


# --- due(): hours vs working days ----------------------------------------------------------------------------


def test_due_hours_are_natural_hours_across_holidays(cal: WorkCalendar) -> None:
    due, gaps = cal.due(at(2026, 9, 30, 10, 0), Limit(hours=24))
    assert due == datetime(2026, 10, 1, 10, 0, tzinfo=SH)  # National Day is not skipped
    assert gaps == set()
    due, _ = cal.due(at(2026, 2, 21, 23, 30), Limit(hours=1))  # Saturday inside Spring Festival, late evening
    assert due == datetime(2026, 2, 22, 0, 30, tzinfo=SH)


def test_due_hours_in_gap_year_report_no_gap(cal: WorkCalendar) -> None:
    due, gaps = cal.due(at(2027, 3, 5, 9, 0), Limit(hours=2))
    assert due == datetime(2027, 3, 5, 11, 0, tzinfo=SH)
    assert gaps == set()


def test_due_working_days(cal: WorkCalendar) -> None:
    due, gaps = cal.due(at(2026, 2, 17), Limit(working_days=5))
    assert due == datetime(2026, 2, 28, 18, 0, tzinfo=SH)
    assert gaps == set()
    due, gaps = cal.due(at(2027, 3, 5), Limit(working_days=1))
    assert due == datetime(2027, 3, 8, 18, 0, tzinfo=SH)
    assert gaps == {2027}


def test_other_timezone() -> None:
    cal = WorkCalendar(CalendarOverrides(), tz="UTC")
    # 2026-09-29 16:30 UTC: in UTC the day of receipt is 9.29 Tue → one working day is 9.30 Wed
    due, _ = cal.add_working_days(datetime(2026, 9, 29, 16, 30, tzinfo=UTC), 1)
    assert due == datetime(2026, 9, 30, 18, 0, tzinfo=UTC)
