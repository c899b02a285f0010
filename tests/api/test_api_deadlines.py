"""Deadlines through the API (rules 2026.3): the plan with 紧急 hours and the 处置启动 clock, calendar gaps in the
intake answer and the case view, handling-started, a refused extension, and one definition of first-dispatch
accuracy with the dispatch delay beside it (rows written straight into the projection, in 2024)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from core.models import Case
from rules.holidays import statutory_holidays
from rules.kpi import measures
from rules.schema import KpiRules
from services.reports import department_counts
from tests.helpers import auth, case_when, intake, signed_case

pytestmark = pytest.mark.temporal
SHIPPED = Path(__file__).parents[2] / "rules" / "versions" / "2026.3.yaml"
YAML = {"Content-Type": "application/yaml"}
SH = ZoneInfo("Asia/Shanghai")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_an_urgent_plan_counts_hours_and_has_a_response_clock(api, tokens) -> None:
    created = await intake(api, tokens, category="GGFW03", description="楼道里燃气泄漏，味道很大",
                           received_at="2026-09-30T10:00:00+08:00")
    plan = created["plan"]
    assert plan["urgency"] == "紧急"
    due = {k: instant(v) for k, v in plan["due"].items()}
    received = instant("2026-09-30T10:00:00+08:00")
    assert due == {"sign_for": received + timedelta(hours=1), "first_contact": received + timedelta(hours=1),
                   "response": received + timedelta(hours=2), "resolution": received + timedelta(hours=24)}
    assert plan["calendar_gaps"] == [] and plan["provisional"] == []


async def test_calendar_gaps_in_the_intake_answer_and_the_case_view(api, tokens) -> None:
    """An active version whose 一般 limit is 30 working days: from 2026-12-01 on, the deadline needs 2027 or later
    (chinesecalendar is pinned; its data ends with 2026). Restores the shipped version afterwards."""
    admin = auth(tokens["admin"])
    text = SHIPPED.read_text(encoding="utf-8").replace('version: "2026.3"', 'version: "test-gap-api"').replace(
        "    一般: {working_days: 5}", "    一般: {working_days: 30}")
    assert (await api.post("/api/v1/rules", content=text.encode(), headers=admin | YAML)).status_code in (200, 201)
    assert (await api.post("/api/v1/rules/test-gap-api/activate", headers=admin)).status_code == 200
    try:
        created = await intake(api, tokens)
    finally:
        assert (await api.post("/api/v1/rules/2026.3/activate", headers=admin)).status_code == 200
    plan = created["plan"]
    due = instant(plan["due"]["resolution"]).astimezone(SH)
    needed = list(range(max(2027, datetime.now(SH).year), due.year + 1))
    assert needed and plan["calendar_gaps"] == needed and plan["provisional"] == ["resolution"]
    assert due.hour == 18 and due.date() not in statutory_holidays(due.year) and due.weekday() < 5
    sup = tokens["supervisor"]
    case = await case_when(api, sup, created["case_no"],
                           lambda c: any(e["type"] == "calendar_gap" for e in c["timeline"]), timeout=20)
    assert case["calendar_gaps"] == needed and case["provisional"] == ["resolution"]
    gap = next(e for e in case["timeline"] if e["type"] == "calendar_gap")
    assert gap["data"]["years"] == needed and gap["data"]["provisional"] is True


async def test_handling_started_is_recorded_for_the_lead_only(api, tokens) -> None:
    case_no = await signed_case(api, tokens)
    url = f"/api/v1/cases/{case_no}/handling-started"
    other = await api.post(url, json={"note": "x"}, headers=auth(tokens["other_handler"]))
    assert other.status_code == 404  # another department's case: no hint that it exists
    r = await api.post(url, json={"note": "已到现场", "extra": 1}, headers=auth(tokens["handler"]))
    assert r.status_code == 422 and {"code", "message"} <= set(r.json())
    r = await api.post(url, json={"note": "已到现场"}, headers=auth(tokens["handler"]))
    assert r.status_code == 200, r.text
    case = await case_when(api, tokens["handler"], case_no,
                           lambda c: any(e["type"] == "handling_started" for e in c["timeline"]), timeout=20)
    event = next(e for e in case["timeline"] if e["type"] == "handling_started")
    assert event["data"]["note"] == "已到现场" and event["data"]["on_time"] is None  # 一般: no response clock


async def test_an_extension_of_a_normal_case_is_a_409_naming_the_rule(api, tokens) -> None:
    case_no = await signed_case(api, tokens)
    r = await api.post(f"/api/v1/cases/{case_no}/extension", json={"working_days": 3, "reason": "需协调"},
                       headers=auth(tokens["handler"]))
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "state_conflict" and "clocks.extension_urgencies" in body["message"]
    assert "复杂" in body["message"]


def _row(n: int, **over: Any) -> Case:
    received = datetime(2024, 6, 3, 2, tzinfo=UTC)
    values: dict[str, Any] = dict(
        case_no=f"D20240603{n:07d}", external_id=f"dispatch-measure-{n}", tracking_code=f"DSP{n:07d}",
        kind="投诉", channel="hotline", category="CXJS01", district="xicheng", address="x", description="x",
        name_enc="x", phone_enc="x", phone_hash=f"dh{n}", name_masked="王*", phone_masked="138****0000",
        status="handling", lead_department="xicheng-cgzf", rules_version="2026.3", received_at=received,
        received_date=date(2024, 6, 3), urgency="一般", workflow_started=True)
    return Case(**(values | over))


async def test_first_dispatch_accuracy_has_one_definition_and_the_delay_beside_it(api, tokens, engine) -> None:
    with Session(engine) as session:
        session.add_all([
            _row(1, dispatch_hours=0.1),  # kept
            _row(2, return_count=1, dispatch_count=2, dispatch_hours=26.0),  # returned, re-dispatched
            _row(3, status="arbitration", lead_department=None, return_count=1),  # returned straight to arbitration
            _row(4, dispatch_count=2, dispatch_hours=5.0),  # 改派 by the supervisor
            _row(5, status="archived", lead_department=None, screening="EMERGENCY_119"),  # screened: not dispatched
        ])
        session.commit()
    r = await api.get("/api/v1/reports/dispatch-accuracy", headers=auth(tokens["supervisor"]),
                      params={"received_from": "2024-06-01T00:00:00+08:00", "received_to": "2024-07-01T00:00:00+08:00"})
    assert r.status_code == 200, r.text
    assert r.json() == {"cases": 4, "first_dispatch_kept": 1, "accuracy": 0.25, "returned": 2, "redispatches": 2,
                        "avg_dispatch_delay_hours": 10.367}  # (0.1 + 26 + 5) / 3
    with Session(engine) as session:
        counts = department_counts(session, date(2024, 6, 1), date(2024, 6, 30), "range")
    m = measures(counts[(date(2024, 6, 1), "xicheng-cgzf")], KpiRules())
    assert m["first_dispatch_accuracy"] == 0.3333 and m["avg_dispatch_delay_hours"] == 10.367
