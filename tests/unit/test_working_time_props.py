"""Property-based checks of office-time arithmetic (WorkingTime) against its own inverse and the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendar import WorkCalendar, WorkingTime
from rules.schema import CalendarOverrides
from tests.oracle import in_office

WT = WorkingTime(WorkCalendar(CalendarOverrides(), "Asia/Shanghai", 18), 9)
instants = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 12, 1), timezones=st.just(UTC))
spans = st.floats(min_value=0, max_value=40 * 9 * 3600, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(start=instants, seconds=spans)
def test_add_then_measure_gives_the_same_working_time(start: datetime, seconds: float) -> None:
    end = WT.add(start, seconds)
    assert end >= start
    assert abs(WT.seconds(start, end) - seconds) < 1e-3


@settings(max_examples=200, deadline=None)
@given(start=instants, seconds=st.floats(min_value=1, max_value=40 * 9 * 3600, allow_nan=False))
def test_a_positive_span_ends_inside_office_hours(start: datetime, seconds: float) -> None:
    end = WT.add(start, seconds)
    assert in_office(end - timedelta(microseconds=1))


@settings(max_examples=100, deadline=None)
@given(a=instants, b=instants, c=instants)
def test_working_time_is_additive_and_bounded(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert abs(WT.seconds(a, c) - WT.seconds(a, b) - WT.seconds(b, c)) < 1e-3
    assert 0 <= WT.seconds(a, c) <= (c - a).total_seconds()
