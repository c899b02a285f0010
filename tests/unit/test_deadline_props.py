"""Every working-day deadline lands at the end of a working day (18:00 Asia/Shanghai in the shipped rules).

Property-based (hypothesis) and frozen-clock (time-machine) checks of each computation that sets or moves a
working-day deadline: ``WorkCalendar.add_working_days``, ``RulesEngine.plan`` / ``clock`` / ``extend`` / ``shift``,
``WorkingTime.day_deadline`` and the rules migration (``recompute``, ``rebase``).

Instants come from 2025–2026, with extra weight on the dates where calendars go wrong: weekends, the eve (last
working day before) of every public holiday, every 调休 working day and the turn of the year, each at the hours
around opening and closing time. Expectations come from ``tests/oracle.py`` (minute steps) and ``chinese_calendar``
directly, never from the production code under test.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import rules
from core.columns import utcnow
from core.contracts import CaseInput, CaseKind, CaseStatus, Channel, ClockState, RebaseRequest, Urgency
from rules.calendar import calendar_warnings
from rules.engine import RulesEngine
from rules.errors import ExtensionTooLong
from rules.migration import rebase, recompute
from rules.parse import parse_rules
from rules.schema import Limit
from tests import oracle
from workflows.clocks import start_clock

SH = ZoneInfo("Asia/Shanghai")
OPENS, CLOSES = time(9), time(18)
OFFICE_DAY = 9 * 3600  # seconds of office time in one working day
YEARS = (2025, 2026)
FIRST, LAST = date(2025, 1, 1), date(2026, 12, 31)

TEXT = (Path(rules.__file__).parent / "versions" / "2026.2.yaml").read_text(encoding="utf-8")
RAW = yaml.safe_load(TEXT)
ENGINE = RulesEngine(parse_rules(TEXT))
WT = ENGINE.working_time

# the shipped limits, as the tests expect them (test_shipped_limits checks them against the YAML text)
SIGN_FOR_HOURS, FIRST_CONTACT_HOURS = 2, 24
RESOLUTION_DAYS = {Urgency.URGENT: 1, Urgency.NORMAL: 5, Urgency.COMPLEX: 15}
REVIEW_DAYS, PARTNER_REPLY_DAYS, EXTENSION_CAP = 3, 1, 30

PROPS = settings(deadline=None, derandomize=True, database=None, max_examples=60)


# --- oracle-side helpers (chinese_calendar and tests/oracle.py only) ------------------------------------------------


def local_day(t: datetime) -> date:
    return t.astimezone(SH).date()


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SH)


def has_data(year: int) -> bool:
    """chinese_calendar knows the year's holidays."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def nth_workday_after(day: date, n: int) -> date:
    """The Nth oracle working day after ``day`` (Mon–Fri where the package has no data, as the oracle says)."""
    while n > 0:
        day += timedelta(days=1)
        n -= oracle.is_workday(day)
    return day


def last_workday_before(day: date) -> date:
    day -= timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


def workdays_in(after: date, through: date) -> int:
    """Oracle working days in (after, through]."""
    return sum(oracle.is_workday(after + timedelta(days=i)) for i in range(1, (through - after).days + 1))


def office_seconds(a: datetime, b: datetime) -> float:
    """Office time between a and b, day by day over the oracle calendar (a cheap stand-in for its minute steps)."""
    a, b = a.astimezone(SH), b.astimezone(SH)
    total, day = 0.0, a.date()
    while day <= b.date():
        if oracle.is_workday(day):
            lo, hi = max(a, at(day, OPENS)), min(b, at(day, CLOSES))
            total += max((hi - lo).total_seconds(), 0.0)
        day += timedelta(days=1)
    return total


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def ceil_minute(t: datetime) -> datetime:
    return t if t == floor_minute(t) else floor_minute(t) + timedelta(minutes=1)


def assert_end_of_workday(t: datetime) -> None:
    """``t`` is 18:00 local on a day the oracle calls a working day."""
    local = t.astimezone(SH)
    assert local.time() == CLOSES, f"{t.isoformat()} is {local:%H:%M:%S.%f} in Shanghai, not 18:00"
    assert oracle.is_workday(local.date()), f"{t.isoformat()} is on {local.date()}, not a working day"


# --- production-side builders ----------------------------------------------------------------------------------------


def case_at(received: datetime, version: str = "2026.2") -> CaseInput:
    """An ordinary case (公交运营, no keywords, no special group: 一般) received at ``received``."""
    return CaseInput(case_no="2026000000000001", kind=CaseKind.COMPLAINT, channel=Channel.HOTLINE, category="JTGL02",
                     district="haidian", received_at=received, rules_version=version)


def running(name: str, start: datetime, urgency: Urgency = Urgency.NORMAL) -> ClockState:
    limit = ENGINE.limit("partner_reply", Urgency.NORMAL) if name == "partner_reply" else ENGINE.limit(name, urgency)
    assert limit is not None
    return start_clock(ENGINE.clock(name, start, limit)[0], 1)


# --- instants --------------------------------------------------------------------------------------------------------


def _dates(keep) -> list[date]:
    return [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1) if keep(FIRST + timedelta(days=i))]


HOURS = (time(0), time(8, 59), time(9), time(12), time(17, 59), time(18), time(23, 30))
HOLIDAYS = chinese_calendar.get_holidays(FIRST, LAST, include_weekends=False)
EVES = sorted({last_workday_before(d) for d in HOLIDAYS})
TIAOXIU = sorted(d for d in chinese_calendar.workdays if d.year in YEARS and d.weekday() >= 5)
SPECIAL_DAYS = {
    "weekend": _dates(lambda d: d.weekday() >= 5),
    "holiday eve": EVES,
    "调休": TIAOXIU,
    "year end": [date(y, m, d) for y in YEARS for m, d in ((1, 1), (12, 30), (12, 31))],
}
SPECIAL_GROUPS = {k: [at(d, h) for d in days for h in HOURS] for k, days in SPECIAL_DAYS.items()}
SPECIAL = [t for group in SPECIAL_GROUPS.values() for t in group]

anywhen = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31, 23, 59, 59, 999999),
                       timezones=st.just(SH))
instants = st.tuples(st.one_of(*(st.sampled_from(g) for g in SPECIAL_GROUPS.values()), anywhen),
                     st.sampled_from([SH, UTC])).map(lambda p: p[0].astimezone(p[1]))
urgencies = st.sampled_from(list(Urgency))
pause_minutes = st.one_of(st.integers(1, 36 * 60), st.integers(1, 10 * 24 * 60))


def test_special_dates_are_what_they_claim() -> None:
    assert len(EVES) >= 12 and len(TIAOXIU) >= 10
    for eve in EVES:
        assert chinese_calendar.is_workday(eve) and not chinese_calendar.is_workday(eve + timedelta(days=1)), eve
    assert date(2026, 9, 30) in EVES and date(2026, 2, 14) in EVES  # National Day, Spring Festival (a 调休 Saturday)
    assert all(chinese_calendar.is_workday(d) for d in TIAOXIU)
    assert not has_data(2027), "chinese_calendar now has 2027: move the gap-year tests to the next missing year"


def test_shipped_limits() -> None:
    """The constants the tests expect are the shipped YAML's (read as plain YAML, not through the rules code)."""
    assert RAW["timezone"] == "Asia/Shanghai"
    assert (RAW["workday_start_hour"], RAW["workday_end_hour"]) == (OPENS.hour, CLOSES.hour)
    clocks = RAW["clocks"]
    assert clocks["sign_for"] == {"hours": SIGN_FOR_HOURS}
    assert clocks["first_contact"] == {"hours": FIRST_CONTACT_HOURS}
    assert clocks["resolution"] == {u.value: {"working_days": n} for u, n in RESOLUTION_DAYS.items()}
    assert clocks["review"] == {"working_days": REVIEW_DAYS}
    assert clocks["extension_max_working_days"] == EXTENSION_CAP
    assert RAW["co_handling"]["reply"] == {"working_days": PARTNER_REPLY_DAYS}
    assert RAW["calendar"] == {"holidays": [], "workdays": [], "years": []}  # chinese_calendar is the only source


# --- 2. add_working_days ---------------------------------------------------------------------------------------------


@PROPS
@given(start=instants, n=st.integers(1, 30))
@example(start=at(date(2026, 9, 30), time(23, 30)), n=1)  # National Day: the next working day is 10-08
@example(start=at(date(2026, 2, 13), time(18)), n=1)  # Friday before Spring Festival → 调休 Saturday 02-14
def test_add_working_days_ends_at_18_on_the_nth_working_day(start: datetime, n: int) -> None:
    assume(has_data(nth_workday_after(local_day(start), n).year))
    due, gaps = ENGINE.calendar.add_working_days(start, n)
    assert_end_of_workday(due)
    assert workdays_in(local_day(start), local_day(due)) == n
    assert due > start
    assert gaps == set()


@PROPS
@given(start=st.datetimes(min_value=datetime(2026, 12, 1), max_value=datetime(2026, 12, 31, 23, 59, 59),
                          timezones=st.just(SH)),
       n=st.integers(1, 30))
@example(start=at(date(2026, 12, 28), time(10)), n=5)
@example(start=at(date(2026, 12, 31), time(23, 30)), n=1)
@example(start=at(date(2026, 12, 30), time(12)), n=1)  # → 12-31: no gap
def test_a_deadline_counted_into_2027_reports_the_gap_year(start: datetime, n: int) -> None:
    plan, gaps = ENGINE.clock("resolution", start, Limit(working_days=n))
    expected = nth_workday_after(local_day(start), n)  # Mon–Fri once the data end, as the fallback
    assert gaps == ({2027} if expected.year == 2027 else set())
    assert_end_of_workday(plan.due_at)
    assert local_day(plan.due_at) == expected


# --- 3. plan ---------------------------------------------------------------------------------------------------------


def check_plan(plan, received: datetime) -> None:
    """The plan of an ordinary case received at ``received``: resolution at the end of the 5th working day,
    sign-for and first contact in natural hours, gap years exactly those the deadline was counted through."""
    assert plan.urgency is Urgency.NORMAL
    resolution = plan.clocks["resolution"]
    assert resolution.started_at == received
    assert_end_of_workday(resolution.due_at)
    expected = nth_workday_after(local_day(received), RESOLUTION_DAYS[Urgency.NORMAL])
    assert local_day(resolution.due_at) == expected
    counted = {local_day(received) + timedelta(days=i) for i in range(1, (expected - local_day(received)).days + 1)}
    assert plan.calendar_gaps == sorted({d.year for d in counted if not has_data(d.year)})
    assert plan.clocks["sign_for"].due_at == received + timedelta(hours=SIGN_FOR_HOURS)
    assert plan.clocks["first_contact"].due_at == received + timedelta(hours=FIRST_CONTACT_HOURS)


@PROPS
@given(received=instants)
def test_plan_due_times(received: datetime) -> None:
    check_plan(ENGINE.plan(case_at(received)), received)


# --- 4. extend -------------------------------------------------------------------------------------------------------


@PROPS
@given(start=instants, urgency=urgencies, extensions=st.lists(st.integers(1, 30), min_size=1, max_size=3))
@example(start=at(date(2026, 9, 30), time(17, 59)), urgency=Urgency.NORMAL, extensions=[25, 1])  # 30 ok, 31 not
@example(start=at(date(2026, 2, 13), time(12)), urgency=Urgency.COMPLEX, extensions=[16, 15])
def test_extend_moves_the_due_by_k_working_days_up_to_the_cap(start: datetime, urgency: Urgency,
                                                              extensions: list[int]) -> None:
    clock = running("resolution", start, urgency)
    cap = nth_workday_after(local_day(start), EXTENSION_CAP)
    assume(has_data(cap.year))
    granted = 0
    for k in extensions:
        old = local_day(clock.due_at)
        target = nth_workday_after(old, k)
        if target > cap:
            with pytest.raises(ExtensionTooLong):
                ENGINE.extend(clock, k)
            continue
        extended = ENGINE.extend(clock, k)
        assert_end_of_workday(extended.due_at)
        assert local_day(extended.due_at) == target
        assert workdays_in(old, local_day(extended.due_at)) == k
        granted += k
        assert extended.extended_days == granted
        assert extended.counts_working_days
        clock = extended
    assert workdays_in(local_day(start), local_day(clock.due_at)) == RESOLUTION_DAYS[urgency] + granted <= 30


# --- 5. shift (挂起 ended) -------------------------------------------------------------------------------------------


@settings(PROPS, max_examples=25)
@given(start=instants, offset=st.integers(0, 12 * 24 * 60), length=pause_minutes, urgency=urgencies)
@example(start=at(date(2026, 9, 30), time(9)), offset=8 * 60 + 59, length=1, urgency=Urgency.URGENT)  # 17:59–18:00
@example(start=at(date(2026, 9, 30), time(18)), offset=0, length=8 * 24 * 60, urgency=Urgency.NORMAL)  # the holiday
def test_shift_of_a_working_day_clock_matches_the_oracle(start: datetime, offset: int, length: int,
                                                         urgency: Urgency) -> None:
    """Whole-minute pause bounds: the oracle's minute steps and production's floored office time agree."""
    clock = running("resolution", start, urgency)
    a = floor_minute(start) + timedelta(minutes=offset)
    b = a + timedelta(minutes=length)
    shifted, paused = ENGINE.shift(clock, a, b)
    expected = oracle.shift_by_office_time(clock.due_at, a, b, day_clock=True)
    assert abs(shifted.due_at - expected) <= timedelta(seconds=60), (shifted.due_at, expected)
    assert_end_of_workday(shifted.due_at)
    assert shifted.due_at >= clock.due_at
    assert paused == office_seconds(a, b)
    assert shifted.paused_seconds == clock.paused_seconds + paused


@settings(PROPS, max_examples=20)
@given(a=instants, length=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(hours=30)),
       before=st.integers(0, 5 * 24 * 60))
@example(a=at(date(2026, 9, 29), time(17, 59, 30)), length=timedelta(seconds=30), before=0)
@example(a=at(date(2026, 9, 29), time(9, 0, 50)), length=timedelta(seconds=80), before=0)
def test_shift_with_seconds_is_bracketed_by_the_oracle(a: datetime, length: timedelta, before: int) -> None:
    """Pause bounds with seconds: production floors the paused office time to whole minutes, so the new due lies
    between the oracle's answers for the minutes inside the pause and the minutes touching it."""
    clock = running("resolution", a - timedelta(minutes=before))
    b = a + length
    shifted, paused = ENGINE.shift(clock, a, b)
    assert paused == math.floor(office_seconds(a, b) / 60) * 60
    inner = oracle.shift_by_office_time(clock.due_at, ceil_minute(a), floor_minute(b), day_clock=True)
    outer = oracle.shift_by_office_time(clock.due_at, floor_minute(a), ceil_minute(b), day_clock=True)
    assert inner <= shifted.due_at <= outer
    assert_end_of_workday(shifted.due_at)


def test_less_than_a_minute_of_office_time_does_not_move_the_deadline_and_a_minute_does() -> None:
    clock = running("resolution", at(date(2026, 9, 28), time(10)))  # Monday, due after National Day
    assert local_day(clock.due_at) == nth_workday_after(date(2026, 9, 28), 5)
    closing = at(date(2026, 9, 29), CLOSES)
    assert ENGINE.shift(clock, closing - timedelta(seconds=59), closing)[0].due_at == clock.due_at
    moved = ENGINE.shift(clock, closing - timedelta(seconds=60), closing)[0].due_at
    assert moved == oracle.shift_by_office_time(clock.due_at, closing - timedelta(minutes=1), closing, day_clock=True)
    assert local_day(moved) == nth_workday_after(local_day(clock.due_at), 1)


@PROPS
@given(t=instants, f=st.tuples(st.floats(0, 1), st.floats(0, 1)).filter(lambda p: p[0] != p[1]),
       before=st.integers(0, 5 * 24 * 60))
def test_a_pause_outside_office_hours_leaves_the_due_unchanged(t: datetime, f: tuple[float, float],
                                                               before: int) -> None:
    closed = local_day(t)
    while not oracle.is_workday(closed):
        closed -= timedelta(days=1)
    off_from, off_to = at(closed, CLOSES), at(nth_workday_after(closed, 1), OPENS)
    lo, hi = sorted(f)
    a, b = off_from + (off_to - off_from) * lo, off_from + (off_to - off_from) * hi
    assume(a < b)
    assert office_seconds(a, b) == 0 and not oracle.in_office(a)  # premise
    clock = running("resolution", a - timedelta(minutes=before))
    shifted, paused = ENGINE.shift(clock, a, b)
    assert paused == 0
    assert shifted.due_at == clock.due_at
    assert shifted.reminders == clock.reminders


@PROPS
@given(start=instants, offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
       length=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=10)),
       name=st.sampled_from(["sign_for", "first_contact"]))
def test_a_natural_hours_clock_moves_by_the_wall_clock_pause(start: datetime, offset: timedelta,
                                                             length: timedelta, name: str) -> None:
    clock = running(name, start)
    assert not clock.counts_working_days
    a = start + offset
    shifted, _ = ENGINE.shift(clock, a, a + length)
    assert shifted.due_at - clock.due_at == length
    assert [r.at - old.at for r, old in zip(shifted.reminders, clock.reminders, strict=True)] == \
        [length] * len(clock.reminders)


# --- 6. day_deadline -------------------------------------------------------------------------------------------------


@PROPS
@given(t=instants)
def test_day_deadline(t: datetime) -> None:
    deadline = WT.day_deadline(t)
    assert_end_of_workday(deadline)
    assert deadline == oracle.end_of_working_day(t)
    assert WT.day_deadline(deadline) == deadline
    local = t.astimezone(SH)
    inside = oracle.is_workday(local.date()) and at(local.date(), OPENS) < local <= at(local.date(), CLOSES)
    if inside:  # the end of t's own working day; everything until then is office time
        assert deadline == at(local.date(), CLOSES)
        assert office_seconds(t, deadline) == (deadline - t).total_seconds()
    else:  # the last end of a working day before t; no office time in between
        assert deadline <= t
        assert office_seconds(deadline, t) == 0
        assert WT.seconds(deadline, t) == 0


@PROPS
@given(day=st.dates(min_value=FIRST, max_value=LAST), zone=st.sampled_from([SH, UTC]))
def test_day_deadline_of_the_end_of_a_working_day_is_itself(day: date, zone: ZoneInfo) -> None:
    assume(oracle.is_workday(day))
    end = at(day, CLOSES).astimezone(zone)
    assert WT.day_deadline(end) == end
    assert WT.day_deadline(end - timedelta(microseconds=1)) == end
    assert WT.day_deadline(end + timedelta(microseconds=1)) == end
    assert WT.day_deadline(at(day, OPENS)) == at(last_workday_before(day), CLOSES)


# --- 7. later clocks: new round, review window, partner reply --------------------------------------------------------


LATER_CLOCKS = [("resolution", u, RESOLUTION_DAYS[u]) for u in Urgency] + [
    ("review", None, REVIEW_DAYS), ("partner_reply", None, PARTNER_REPLY_DAYS)]


@PROPS
@given(start=instants, which=st.sampled_from(LATER_CLOCKS))
def test_later_clocks_end_at_the_end_of_a_working_day(start: datetime, which: tuple) -> None:
    name, urgency, days = which
    limit = ENGINE.limit("partner_reply", Urgency.NORMAL) if name == "partner_reply" else ENGINE.limit(name, urgency)
    assert limit is not None
    plan, _ = ENGINE.clock(name, start, limit)
    assert plan.working
    assert_end_of_workday(plan.due_at)
    assert local_day(plan.due_at) == nth_workday_after(local_day(start), days)
    for reminder in plan.reminders:
        assert start < reminder.at < plan.due_at
        assert oracle.in_office(reminder.at - timedelta(microseconds=1))
    assert start_clock(plan, 2).counts_working_days


# --- 8. rules migration ----------------------------------------------------------------------------------------------


paused_seconds = st.one_of(st.integers(1, 20 * OFFICE_DAY // 60).map(lambda m: m * 60.0),
                           st.integers(1, 20 * OFFICE_DAY).map(float))


@PROPS
@given(start=instants, urgency=urgencies, paused=paused_seconds, extended=st.integers(0, 10),
       days=st.integers(1, 20))
@example(start=at(date(2026, 9, 28), time(10)), urgency=Urgency.NORMAL, paused=float(OFFICE_DAY), extended=0,
         days=5)
def test_recompute_of_a_paused_clock_ends_at_the_end_of_a_working_day(start: datetime, urgency: Urgency,
                                                                      paused: float, extended: int,
                                                                      days: int) -> None:
    clock = running("resolution", start, urgency).model_copy(update={"paused_seconds": paused,
                                                                     "extended_days": extended})
    moved = recompute(ENGINE, clock, Limit(working_days=days), start)
    assert_end_of_workday(moved.due_at)
    unpaused = nth_workday_after(local_day(start), days + extended)
    assert local_day(moved.due_at) == nth_workday_after(unpaused, math.ceil(paused / OFFICE_DAY))


@settings(PROPS, max_examples=30)
@given(start=instants, urgency=urgencies, paused=paused_seconds)
def test_rebase_of_a_paused_clock_ends_at_the_end_of_a_working_day(start: datetime, urgency: Urgency,
                                                                   paused: float) -> None:
    stale = running("resolution", start, urgency).model_copy(update={"paused_seconds": paused, "due_at": start})
    req = RebaseRequest(case=case_at(start, version="2026.1"), to_version="2026.2", status=CaseStatus.HANDLING,
                        lead="bj-jtw", urgency=urgency, clocks={"resolution": stale}, at=start)
    result = rebase(ENGINE, req)
    assert result.skipped is None
    moved = result.clocks["resolution"]
    assert_end_of_workday(moved.due_at)
    unpaused = nth_workday_after(local_day(start), RESOLUTION_DAYS[urgency])
    assert local_day(moved.due_at) == nth_workday_after(unpaused, math.ceil(paused / OFFICE_DAY))


# --- 9. frozen clock -------------------------------------------------------------------------------------------------


def _frozen() -> list[datetime]:
    spring_festival = min(d for d, name in chinese_calendar.holidays.items()
                          if d.year == 2026 and name == "Spring Festival")
    chosen = [
        at(date(2026, 12, 31), time(23, 30)),
        at(date(2026, 12, 1), time(10)),
        at(next(d for d in TIAOXIU if d.year == 2026 and d.weekday() == 5), time(10)),  # 调休 Saturday
        at(date(2026, 9, 30), time(17, 59)),  # eve of National Day
        at(last_workday_before(spring_festival), time(12)),  # eve of the Spring Festival holiday
        at(date(2026, 2, 16), time(12)),  # 除夕 2026 (a holiday)
        at(date(2026, 10, 31), time(23, 59)), at(date(2026, 11, 1), time(0)),  # calendar warning starts
        at(date(2025, 12, 31), time(23, 30)),  # 2026 has data: no warning
    ]
    return sorted(set(chosen + random.Random(20260930).sample(SPECIAL, 26)))


FROZEN = _frozen()


@pytest.mark.parametrize("instant", FROZEN, ids=lambda t: t.strftime("%Y-%m-%d_%H%M"))
def test_frozen_clock_plan_and_calendar_warning(instant: datetime) -> None:
    with time_machine.travel(instant, tick=False):
        received = utcnow()
        today = date.today()
        plan = ENGINE.plan(case_at(received))
        warnings = calendar_warnings(ENGINE.calendar, today)
    assert received == instant
    assert today == local_day(instant)
    check_plan(plan, received)
    warns = (date(today.year, 12, 31) - today).days <= 60 and not has_data(today.year + 1)
    if today.year == 2026:
        assert warns == (today >= date(2026, 11, 1))
    assert bool(warnings) == warns, warnings
    if warns:
        assert str(today.year + 1) in warnings[0]


def test_enough_frozen_instants() -> None:
    assert len(FROZEN) >= 30
