"""Calendar gaps: 2026-12-28 + 5 working days without and with 2027 data; the `rules check` warning."""

from __future__ import annotations

from datetime import UTC, date, datetime

import yaml

from core.contracts import CaseInput, Urgency
from rules.calendar import WorkCalendar, calendar_warnings
from rules.engine import RulesEngine
from rules.parse import parse_rules
from rules.schema import CalendarOverrides
from tests.unit.test_rules import TEXT as SHIPPED_TEXT

RECEIVED = datetime(2026, 12, 28, 2, 0, tzinfo=UTC)  # Monday 10:00 Beijing


def engine_with(calendar: dict | None) -> RulesEngine:
    doc = yaml.safe_load(SHIPPED_TEXT)
    if calendar is not None:
        doc["calendar"] = calendar
    return RulesEngine(parse_rules(yaml.safe_dump(doc, allow_unicode=True)))


def case() -> CaseInput:
    return CaseInput(case_no="x", kind="投诉", channel="hotline", category="CXJS01", district="xicheng",
                     received_at=RECEIVED, rules_version="2026.1")


def test_without_2027_data_the_deadline_falls_back_and_is_flagged() -> None:
    plan = engine_with(None).plan(case())
    assert plan.calendar_gaps == [2027]
    # 12-29, 12-30, 12-31, 01-01 (a Friday, counted by the weekday fallback), 01-04
    assert plan.due("resolution") == datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def test_with_a_2027_override_the_deadline_is_exact() -> None:
    plan = engine_with({"holidays": ["2027-01-01"], "workdays": [], "years": [2027]}).plan(case())
    assert plan.calendar_gaps == []
    # 12-29, 12-30, 12-31, (01-01 New Year holiday), 01-04, 01-05
    assert plan.due("resolution") == datetime(2027, 1, 5, 10, 0, tzinfo=UTC)


def test_rules_check_warns_only_near_the_end_of_a_year_without_next_year() -> None:
    bare = WorkCalendar(CalendarOverrides())
    assert calendar_warnings(bare, date(2026, 11, 21)) and "2027" in calendar_warnings(bare, date(2026, 11, 21))[0]
    assert calendar_warnings(bare, date(2026, 10, 1)) == []  # 91 days before the year ends
    covered = WorkCalendar(CalendarOverrides(years=[2027]))
    assert calendar_warnings(covered, date(2026, 11, 21)) == []
    assert calendar_warnings(bare, date(2025, 12, 1)) == []  # the package has 2026


def test_partner_reply_clock_over_a_weekend_and_a_调休_saturday() -> None:
    engine = engine_with(None)
    limit = engine.limit("partner_reply", Urgency.NORMAL)
    assert limit is not None
    friday = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 10:00 → Monday 18:00
    assert engine.clock("partner_reply", friday, limit)[0].due_at == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    before_festival = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)  # Friday → Saturday 02-14 is a 调休 working day
    assert engine.clock("partner_reply", before_festival, limit)[0].due_at == datetime(2026, 2, 14, 10, 0, tzinfo=UTC)
    before_national_day = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # → first working day after the holiday
    assert engine.clock("partner_reply", before_national_day, limit)[0].due_at == datetime(
        2026, 10, 8, 10, 0, tzinfo=UTC)
