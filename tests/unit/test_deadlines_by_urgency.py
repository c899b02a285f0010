"""Deadlines as the regulation counts them (rules 2026.3): 紧急 in natural hours from receipt with a 处置启动 clock,
延期 only for 复杂, office time for the sign-for of a case received at night, the statutory-holiday fallback for a
year without data (flagged and provisional everywhere), and a wrong dispatch that costs the final lead nothing.

Every expected instant is written out by hand (the calendar is quoted in the comments), never computed by the code
under test. chinesecalendar is pinned to 1.11.0, whose data ends with 2026: 2027 is a year without data.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

import rules
from core.contracts import CaseInput, CaseKind, CaseStatus, Channel, ClockState, RebaseRequest, Urgency
from rules.calendar import WorkCalendar
from rules.engine import RulesEngine
from rules.errors import ExtensionNotAllowed
from rules.holidays import holiday_names, statutory_holidays
from rules.migration import rebase
from rules.parse import parse_rules
from rules.schema import CalendarOverrides, Limit
from workflows.clocks import start_clock

SH = ZoneInfo("Asia/Shanghai")
VERSIONS = Path(rules.__file__).parent / "versions"
TEXT = (VERSIONS / "2026.3.yaml").read_text(encoding="utf-8")
E = RulesEngine(parse_rules(TEXT))
OLD = RulesEngine(parse_rules((VERSIONS / "2026.2.yaml").read_text(encoding="utf-8")))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def case(received: datetime, category: str = "JTGL02", urgency: Urgency | None = None,
         version: str = "2026.3") -> CaseInput:
    return CaseInput(case_no="2026000000000001", kind=CaseKind.COMPLAINT, channel=Channel.HOTLINE,
                     category=category, district="haidian", received_at=received, rules_version=version,
                     urgency=urgency)


def in_office(t: datetime) -> bool:
    local = t.astimezone(SH)
    return local.weekday() < 5 and (9, 0) <= (local.hour, local.minute) and local.time() <= at(2026, 1, 1, 18).time()


def running(name: str, start: datetime, urgency: Urgency = Urgency.NORMAL, engine: RulesEngine = E) -> ClockState:
    limit = engine.limit(name, urgency)
    assert limit is not None
    return start_clock(engine.clock(name, start, limit)[0], 1)


# --- 紧急: hours from receipt ------------------------------------------------------------------------------------


def test_gas_leak_on_the_eve_of_national_day_counts_natural_hours() -> None:
    # Wed 2026-09-30 10:00, the day before the 国庆 holiday (10-01 … 10-07): hours, not working days
    plan = E.plan(case(at(2026, 9, 30, 10, 0), "GGFW03"), "小区楼道里有很重的燃气泄漏味道")
    assert plan.urgency is Urgency.URGENT
    due = {k: c.due_at.astimezone(SH) for k, c in plan.clocks.items()}
    assert due == {"sign_for": at(2026, 9, 30, 11, 0), "first_contact": at(2026, 9, 30, 11, 0),
                   "response": at(2026, 9, 30, 12, 0), "resolution": at(2026, 10, 1, 10, 0)}
    assert not any(c.working for c in plan.clocks.values())
    assert plan.clocks["response"].label == "处置启动"
    assert [r.at.astimezone(SH) for r in plan.clocks["response"].reminders] == [
        at(2026, 9, 30, 11, 0), at(2026, 9, 30, 11, 30), at(2026, 9, 30, 11, 48)]


def test_an_urgent_case_at_night_keeps_natural_hours() -> None:
    plan = E.plan(case(at(2026, 12, 1, 23, 0), "GGFW03"), "燃气泄漏")
    assert plan.clocks["sign_for"].due_at.astimezone(SH) == at(2026, 12, 2, 0, 0)
    assert plan.clocks["resolution"].due_at.astimezone(SH) == at(2026, 12, 2, 23, 0)


def test_normal_and_complex_cases_keep_working_days_and_have_no_response_clock() -> None:
    normal = E.plan(case(at(2026, 12, 1, 10, 0)))  # Tue → 5th working day after: Tue 12-08
    complex_ = E.plan(case(at(2026, 12, 1, 10, 0), urgency=Urgency.COMPLEX))  # 15th: Tue 12-22
    assert "response" not in normal.clocks and "response" not in complex_.clocks
    assert normal.clocks["resolution"].due_at.astimezone(SH) == at(2026, 12, 8, 18, 0)
    assert complex_.clocks["resolution"].due_at.astimezone(SH) == at(2026, 12, 22, 18, 0)
    assert normal.clocks["first_contact"].due_at.astimezone(SH) == at(2026, 12, 2, 10, 0)


def test_released_versions_keep_their_meaning() -> None:
    # 2026.2 gave 紧急 one working day and no response clock: a case pinned to it keeps that
    plan = OLD.plan(case(at(2026, 9, 30, 10, 0), "GGFW03", version="2026.2"), "燃气泄漏")
    assert "response" not in plan.clocks
    assert plan.clocks["resolution"].due_at.astimezone(SH) == at(2026, 10, 8, 18, 0)
    assert plan.clocks["first_contact"].due_at.astimezone(SH) == at(2026, 9, 30, 11, 0)
    night = OLD.plan(case(at(2026, 12, 1, 23, 0), version="2026.2"))
    assert night.clocks["sign_for"].due_at.astimezone(SH) == at(2026, 12, 2, 1, 0)


# --- sign-for in office time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("received", "due"), [
    (at(2026, 12, 1, 23, 0), at(2026, 12, 2, 11, 0)),  # Tue night → Wed 09:00 + 2 h
    (at(2026, 12, 4, 23, 0), at(2026, 12, 7, 11, 0)),  # Fri night → Mon
    (at(2026, 12, 5, 3, 0), at(2026, 12, 7, 11, 0)),  # Saturday
    (at(2026, 9, 30, 23, 0), at(2026, 10, 8, 11, 0)),  # eve of 国庆: first working day is Thu 10-08
    (at(2026, 12, 1, 10, 0), at(2026, 12, 1, 12, 0)),  # inside office hours: two hours
    (at(2026, 12, 1, 17, 0), at(2026, 12, 2, 10, 0)),  # one office hour today, one tomorrow
])
def test_sign_for_of_a_case_received_outside_office_hours_counts_office_time(received: datetime,
                                                                             due: datetime) -> None:
    plan = E.plan(case(received))
    clock = plan.clocks["sign_for"]
    assert clock.due_at.astimezone(SH) == due
    assert clock.working  # reminders in office time too: no 催办 at 01:00
    assert all(in_office(r.at) for r in clock.reminders)


def test_a_night_case_raises_no_supervision_before_the_office_opens() -> None:
    plan = E.plan(case(at(2026, 12, 1, 23, 0)))
    first_alarm = min([r.at for r in plan.clocks["sign_for"].reminders] + [plan.clocks["sign_for"].due_at])
    assert first_alarm.astimezone(SH) == at(2026, 12, 2, 10, 0)  # 50 % of 2 office hours after 09:00


def test_redispatch_of_an_urgent_case_counts_natural_hours() -> None:
    urgent = E.dispatch_to("bj-rqjt", at(2026, 12, 1, 23, 0), Urgency.URGENT, restart=True)
    assert urgent.sign_for.due_at.astimezone(SH) == at(2026, 12, 2, 0, 0)
    assert urgent.restarted == {}  # 紧急 clocks count from receipt


# --- 延期 per urgency -------------------------------------------------------------------------------------------


def test_extension_of_a_normal_case_is_refused_naming_the_rule() -> None:
    clock = running("resolution", at(2026, 12, 1, 10, 0))
    with pytest.raises(ExtensionNotAllowed) as refused:
        E.extend(clock, 3, Urgency.NORMAL)
    message = str(refused.value)
    assert "clocks.extension_urgencies" in message and "2026.3" in message and "复杂" in message
    assert "一般" in message
    with pytest.raises(ExtensionNotAllowed):
        E.extend(running("resolution", at(2026, 12, 1, 10, 0), Urgency.URGENT), 1, Urgency.URGENT)


def test_extension_of_a_complex_case_is_allowed_within_the_cap() -> None:
    # Mon 11-02 → 11-03 … 11-06 (4), 11-09 … 11-13 (9), 11-16 … 11-20 (14), 11-23 (15) → Mon 11-23 18:00
    clock = running("resolution", at(2026, 11, 2, 10, 0), Urgency.COMPLEX)
    assert clock.due_at.astimezone(SH) == at(2026, 11, 23, 18, 0)
    extended = E.extend(clock, 5, Urgency.COMPLEX)  # 11-24, 25, 26, 27, 30
    assert extended.due_at.astimezone(SH) == at(2026, 11, 30, 18, 0)
    assert extended.calendar_gaps == []


def test_released_versions_allow_extension_for_every_urgency() -> None:
    clock = running("resolution", at(2026, 12, 1, 10, 0), engine=OLD)
    assert OLD.extend(clock, 2, Urgency.NORMAL).due_at.astimezone(SH) == at(2026, 12, 10, 18, 0)


# --- the statutory fallback ------------------------------------------------------------------------------------


def test_statutory_holidays_of_2027() -> None:
    assert holiday_names(2027) == {
        date(2027, 1, 1): "元旦",
        date(2027, 2, 5): "春节", date(2027, 2, 6): "春节", date(2027, 2, 7): "春节", date(2027, 2, 8): "春节",
        date(2027, 4, 5): "清明节",
        date(2027, 5, 1): "劳动节", date(2027, 5, 2): "劳动节",
        date(2027, 6, 9): "端午节",
        date(2027, 9, 15): "中秋节",
        date(2027, 10, 1): "国庆节", date(2027, 10, 2): "国庆节", date(2027, 10, 3): "国庆节",
    }
    assert len(statutory_holidays(2027)) == 13


def test_statutory_holidays_agree_with_the_published_2025_and_2026_notices() -> None:
    import chinese_calendar

    for year in (2025, 2026):
        for day in statutory_holidays(year):
            assert not chinese_calendar.is_workday(day), day


@pytest.mark.parametrize(("day", "workday"), [
    (date(2027, 1, 1), False),  # 元旦, a Friday
    (date(2027, 1, 4), True),
    (date(2027, 2, 5), False),  # 除夕, a Friday
    (date(2027, 2, 8), False),  # 初三, a Monday
    (date(2027, 2, 9), True),  # no bridge days without the notice
    (date(2027, 4, 5), False),  # 清明
    (date(2027, 5, 3), True),  # 劳动节 is 2 days: Monday 05-03 works (no 调休 known)
    (date(2027, 6, 9), False),  # 端午
    (date(2027, 9, 15), False),  # 中秋
    (date(2027, 10, 1), False),
    (date(2027, 10, 4), True),
    (date(2027, 10, 9), False),  # a Saturday stays a weekend day: 调休 unknown
])
def test_the_fallback_calendar_of_2027(day: date, workday: bool) -> None:
    assert E.calendar.is_workday(day) == (workday, False)  # False: not from published data → provisional


def test_the_weekday_fallback_of_released_versions() -> None:
    weekdays = WorkCalendar(CalendarOverrides())
    assert weekdays.is_workday(date(2027, 1, 1)) == (True, False)
    assert E.calendar.is_workday(date(2027, 1, 1)) == (False, False)


# --- calendar gaps everywhere ------------------------------------------------------------------------------------


def test_an_extension_into_2027_is_flagged_and_skips_new_years_day() -> None:
    # 复杂, Thu 2026-12-10: 15 working days → 12-11, 14–18, 21–25, 28–31 → Thu 12-31 18:00
    clock = running("resolution", at(2026, 12, 10, 10, 0), Urgency.COMPLEX)
    assert clock.due_at.astimezone(SH) == at(2026, 12, 31, 18, 0) and clock.calendar_gaps == []
    # 8 more: 01-01 元旦 off, 01-02/03 weekend, 01-04 … 01-08 (5), 01-11, 12, 13 → Wed 2027-01-13 18:00
    extended = E.extend(clock, 8, Urgency.COMPLEX)
    assert extended.due_at.astimezone(SH) == at(2027, 1, 13, 18, 0)
    assert extended.calendar_gaps == [2027] and extended.provisional


def test_a_second_round_into_2027_is_flagged() -> None:
    # Mon 2026-12-28 → 12-29, 12-30, 12-31, (01-01 off), 01-04, 01-05 → Tue 2027-01-05 18:00
    plan, gaps = E.clock("resolution", at(2026, 12, 28, 10, 0), Limit(working_days=5))
    assert plan.due_at.astimezone(SH) == at(2027, 1, 5, 18, 0)
    assert gaps == {2027} and plan.calendar_gaps == [2027]


def test_review_window_partner_clock_and_sign_for_are_flagged() -> None:
    review, _ = E.clock("review", at(2026, 12, 30, 15, 0), Limit(working_days=3))  # 12-31, 01-04, 01-05
    assert review.due_at.astimezone(SH) == at(2027, 1, 5, 18, 0) and review.calendar_gaps == [2027]
    reply = E.limit("partner_reply", Urgency.NORMAL)
    assert reply is not None
    partner, _ = E.clock("partner_reply", at(2026, 12, 31, 10, 0), reply)  # → Mon 01-04
    assert partner.due_at.astimezone(SH) == at(2027, 1, 4, 18, 0) and partner.calendar_gaps == [2027]
    night = E.dispatch_to("haidian-cgw", at(2026, 12, 31, 23, 0), Urgency.NORMAL)  # office time → Mon 01-04 11:00
    assert night.sign_for.due_at.astimezone(SH) == at(2027, 1, 4, 11, 0)
    assert night.sign_for.calendar_gaps == [2027] and night.calendar_gaps == [2027]
    inside, _ = E.clock("resolution", at(2026, 12, 1, 10, 0), Limit(working_days=5))
    assert inside.calendar_gaps == []


def test_the_plan_lists_the_gap_years_of_every_clock() -> None:
    plan = E.plan(case(at(2026, 12, 28, 10, 0)))  # resolution → 2027-01-05 18:00
    assert plan.calendar_gaps == [2027]
    assert plan.clocks["resolution"].calendar_gaps == [2027]
    assert plan.clocks["first_contact"].calendar_gaps == []  # natural hours need no calendar


def test_a_pause_shift_into_2027_is_flagged() -> None:
    clock = running("resolution", at(2026, 12, 21, 10, 0))  # Mon → Mon 12-28 18:00
    assert clock.due_at.astimezone(SH) == at(2026, 12, 28, 18, 0)
    # paused Tue 12-22 09:00 → 18:00: one office day; the due moves one working day, to Tue 12-29 18:00
    shifted, _ = E.shift(clock, at(2026, 12, 22, 9, 0), at(2026, 12, 22, 18, 0))
    assert shifted.due_at.astimezone(SH) == at(2026, 12, 29, 18, 0) and shifted.calendar_gaps == []
    # paused Wed 12-23 09:00 → Wed 12-30 18:00: six office days (23, 24, 25, 28, 29, 30); from the due 12-28:
    # 12-29, 12-30, 12-31, (01-01 元旦), 01-04, 01-05, 01-06 → Wed 2027-01-06 18:00
    longer, _ = E.shift(clock, at(2026, 12, 23, 9, 0), at(2026, 12, 30, 18, 0))
    assert longer.due_at.astimezone(SH) == at(2027, 1, 6, 18, 0) and longer.calendar_gaps == [2027]


def test_a_rules_migration_that_lands_in_2027_is_flagged() -> None:
    clock = running("resolution", at(2026, 12, 22, 10, 0), engine=OLD)  # 2026.2: 5 days → Tue 12-29
    req = RebaseRequest(case=case(at(2026, 12, 22, 10, 0), version="2026.2"), to_version="2026.3",
                        status=CaseStatus.HANDLING, lead="bj-jtw", urgency=Urgency.COMPLEX,
                        clocks={"resolution": clock}, at=at(2026, 12, 22, 11, 0))
    result = rebase(E, req)  # 复杂 under 2026.3: 15 working days → 2027-01-13 18:00 (01-01 off)
    assert result.clocks["resolution"].due_at.astimezone(SH) == at(2027, 1, 13, 18, 0)
    assert result.calendar_gaps == [2027] and result.settled == []


def test_publishing_the_2027_notice_lists_provisional_cases_in_the_dry_run() -> None:
    doc = yaml.safe_load(TEXT)
    doc["version"] = "2026.4"
    # the (assumed) notice: 元旦 01-01 … 01-03 off; a 调休 Saturday 01-09 works
    doc["calendar"] = {"holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": ["2027-01-09"],
                       "years": [2027], "fallback": "statutory"}
    published = RulesEngine(parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)))
    # provisional: 2026-12-28 + 5 working days → 2027-01-05 (the same under the notice: nothing moves)
    clock = running("resolution", at(2026, 12, 28, 10, 0))
    assert clock.calendar_gaps == [2027]
    req = RebaseRequest(case=case(at(2026, 12, 28, 10, 0)), to_version="2026.4", status=CaseStatus.HANDLING,
                        lead="bj-jtw", urgency=Urgency.NORMAL, clocks={"resolution": clock},
                        at=at(2026, 12, 28, 11, 0))
    result = rebase(published, req)
    assert result.clock_changes == []  # the due time stays …
    assert result.settled == [2027] and result.changed  # … but the case is listed: its deadline becomes final
    assert result.clocks["resolution"].calendar_gaps == [] and not result.clocks["resolution"].provisional


# --- a wrong dispatch is not the final lead's fault -------------------------------------------------------------


def test_the_final_lead_gets_its_full_resolution_time() -> None:
    # received Mon 2026-11-02 10:00, returned twice; the third department gets it Thu 11-05 15:00
    plan = E.plan(case(at(2026, 11, 2, 10, 0)))
    assert plan.clocks["resolution"].due_at.astimezone(SH) == at(2026, 11, 9, 18, 0)
    final = E.dispatch_to("haidian-cgw", at(2026, 11, 5, 15, 0), Urgency.NORMAL, restart=True)
    resolution = final.restarted["resolution"]
    # 5 working days after Thu 11-05: 11-06, 11-09, 11-10, 11-11, 11-12 → Thu 11-12 18:00
    assert resolution.started_at.astimezone(SH) == at(2026, 11, 5, 15, 0)
    assert resolution.due_at.astimezone(SH) == at(2026, 11, 12, 18, 0)
    assert set(final.restarted) == {"resolution"}  # first contact keeps counting (only resolution is from_dispatch)


def test_partners_and_returns_of_an_urgent_case_count_hours() -> None:
    assert E.limit("partner_reply", Urgency.URGENT) == Limit(hours=2)
    assert E.limit("return_window", Urgency.URGENT) == Limit(hours=1)
    assert E.limit("return_window", Urgency.NORMAL) == Limit(working_hours=2)
    plan = E.plan(case(at(2026, 12, 1, 23, 0), "GGFW03"), "燃气泄漏")
    assert plan.return_due is not None and plan.return_due.astimezone(SH) == at(2026, 12, 2, 0, 0)
    assert OLD.limit("partner_reply", Urgency.URGENT) == Limit(working_days=1)  # released: as it was


def test_released_versions_do_not_restart_clocks_at_dispatch() -> None:
    assert OLD.dispatch_to("bj-jtw", at(2026, 11, 5, 15, 0), Urgency.NORMAL, restart=True).restarted == {}


def test_schema_reads_limits_per_urgency_and_checks_them() -> None:
    from rules.schema import RulesError

    doc = yaml.safe_load(TEXT)
    del doc["clocks"]["resolution"]["一般"]
    with pytest.raises(RulesError) as exc:
        parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    assert "resolution limit missing for 一般" in str(exc.value)
    doc = yaml.safe_load(TEXT)
    doc["clocks"]["resolution"]["一般"] = {"working_days": 0}
    with pytest.raises(RulesError) as exc:
        parse_rules(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    assert exc.value.problems[0].path == "clocks.resolution.一般.working_days"
    assert exc.value.problems[0].line is not None


def test_first_alarm_is_never_in_the_night() -> None:
    for hour in range(24):
        plan = E.plan(case(at(2026, 12, 1, hour, 0) + timedelta(minutes=7)))
        assert all(in_office(r.at) for r in plan.clocks["sign_for"].reminders)
