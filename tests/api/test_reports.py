"""Reports over a small hand-computed data set (rows written straight into the projection, in 2025 so no other
test's cases fall in the period): 考核 measures, periods, handler scope, hotspots, top problems, spike warnings
with the seed-004 pattern, work lists."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from core.db import get_engine
from core.models import Case, Notice, PartnerTaskRow
from rules.kpi import Counts, measures
from rules.schema import KpiRules
from services.reports import department_counts
from tests.helpers import auth

pytestmark = pytest.mark.temporal
_serial = itertools.count(1)


def row(day: date, **over: Any) -> Case:
    """A projected case received at 10:00 (Beijing) on ``day``."""
    n = next(_serial)
    received = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    values: dict[str, Any] = dict(
        case_no=f"R{day:%Y%m%d}{n:07d}", external_id=f"report-{day}-{n}-{id(over)}", tracking_code=f"RPT{n:07d}",
        kind="投诉", channel="hotline", category="CXJS01", district="xicheng", address="x", description="x",
        name_enc="x", phone_enc="x", phone_hash=f"h{n}", name_masked="王*", phone_masked="138****0000",
        status="archived", lead_department="xicheng-cgzf", rules_version="2026.2", received_at=received,
        received_date=day, urgency="一般", workflow_started=True)
    values.update(over)
    return Case(**values)


def closed(day: date, resolution: str | None, satisfaction: str, **over: Any) -> Case:
    """A closed, replied case with a review (satisfaction 未评价: no valid review)."""
    at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC) + timedelta(days=3)
    valid = satisfaction != "未评价"
    values: dict[str, Any] = dict(closed_at=at, replied_at=at, resolution=resolution, satisfaction=satisfaction,
                                  valid_review=valid, contacted=True, review_contacted=True,
                                  outcome="resolved" if valid else "unrated")
    return row(day, **(values | over))


MARCH = date(2025, 3, 3)


@pytest.fixture(scope="module")
def march(settings) -> None:  # type: ignore[no-untyped-def]
    """Six cases of xicheng-cgzf and two partner tasks of xicheng-sthj (the numbers in the README's example)."""
    with Session(get_engine(settings)) as session:
        session.add_all([
            closed(MARCH, "解决", "满意", handling_days=2.0),
            closed(MARCH, "解决", "基本满意", handling_days=4.0),
            closed(MARCH + timedelta(days=7), "未解决", "不满意", handling_days=6.0, round=2, outcome="finding",
                   late_resolution=True),
            closed(MARCH + timedelta(days=7), "部分解决", "满意", handling_days=3.0, review_contacted=False),
            closed(MARCH + timedelta(days=8), None, "未评价", handling_days=5.0, late_sign_for=True, return_count=1,
                   dispatch_count=2),
            row(MARCH + timedelta(days=9), status="handling", repeat_flag=True),
        ])
        for hours, late in ((3.0, False), (5.0, True)):
            at = datetime(2025, 3, 4, 2, tzinfo=UTC)
            session.add(PartnerTaskRow(case_no=f"P{hours}", department="xicheng-sthj", round=1, question="q",
                                       status="replied", requested_at=at, due_at=at, replied_at=at,
                                       reply_hours=hours, overdue=late, requested_date=date(2025, 3, 4)))
        session.commit()


def test_measures_of_the_hand_computed_month(engine, march) -> None:
    with Session(engine) as session:
        counts = department_counts(session, date(2025, 3, 1), date(2025, 3, 31), "month")
    c = counts[(date(2025, 3, 1), "xicheng-cgzf")]
    assert (c.cases, c.closed, c.valid_reviews, c.contact_asked, c.contacted, c.resolved) == (6, 5, 4, 4, 3, 2)
    m = measures(c, KpiRules())
    assert m["response_rate"] == 0.75 and m["resolution_rate"] == 0.5 and m["satisfaction_rate"] == 0.725
    assert m["composite"] == 0.615  # 0.1 × 0.75 + 0.5 × 0.5 + 0.4 × 0.725
    assert m["on_time_rate"] == {"sign_for": 0.8, "first_contact": 1.0, "resolution": 0.8}
    assert m["avg_handling_days"] == 4.0 and m["first_time_resolution_rate"] == 0.75 and m["rework_rate"] == 0.2
    assert m["first_dispatch_accuracy"] == 0.8333 and m["repeat_rate"] == 0.1667
    assert m["unit_score"] == 0.5 and m["unit_score_per_review"] == 0.125  # 2 × 1 − 1 − 0.5
    partner = measures(counts[(date(2025, 3, 1), "xicheng-sthj")], KpiRules())
    assert partner["partner_avg_reply_hours"] == 4.0 and partner["partner_on_time_rate"] == 0.5


def test_response_rate_counts_the_complainants_answer_over_reviews_that_asked() -> None:
    # 4 valid reviews: 2 asked 是否联系 (one said yes), 2 not asked (old clients): 响应率 = 1 / 2
    c = Counts(cases=4, valid_reviews=4, contact_asked=2, contacted=1, resolved=2, satisfied=2)
    m = measures(c, KpiRules())
    assert m["response_rate"] == 0.5 and m["resolution_rate"] == 0.5 and m["satisfaction_rate"] == 0.5
    assert m["composite"] == 0.5  # 0.1 × 0.5 + 0.5 × 0.5 + 0.4 × 0.5
    none_asked = measures(Counts(cases=2, valid_reviews=2, resolved=2, satisfied=1), KpiRules())
    assert none_asked["response_rate"] is None  # not 1.0: nobody was asked
    assert none_asked["composite"] == round((0.5 * 1.0 + 0.4 * 0.5) / 0.9, 4)  # the weights it has, re-normalised


def test_weights_and_zero_denominators() -> None:
    m = measures(Counts(cases=2), KpiRules())
    assert m["response_rate"] is None and m["composite"] is None and m["first_dispatch_accuracy"] == 0.0
    heavy = KpiRules(weights={"response": 0.0, "resolution": 1.0, "satisfaction": 0.0})
    assert measures(Counts(valid_reviews=4, resolved=1), heavy)["composite"] == 0.25


async def test_department_report_over_rest(api, tokens, march) -> None:
    params = {"from": "2025-03-01", "to": "2025-03-31", "period": "week"}
    r = await api.get("/api/v1/reports/departments", params=params, headers=auth(tokens["auditor"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weights"] == {"response": 0.1, "resolution": 0.5, "satisfaction": 0.4}
    weeks = {(x["period_start"], x["department"]): x["counts"]["cases"] for x in body["rows"]}
    assert weeks[("2025-03-03", "xicheng-cgzf")] == 2 and weeks[("2025-03-10", "xicheng-cgzf")] == 4
    assert [t["department_name"] for t in body["total"]] == ["合计", "合计"]
    own = await api.get("/api/v1/reports/departments", params=params | {"department": "xicheng-sthj"},
                        headers=auth(tokens["handler"]))
    assert {x["department"] for x in own.json()["rows"]} == {"xicheng-cgzf"}
    bad = await api.get("/api/v1/reports/departments", params={"from": "2025-04-01", "to": "2025-03-01"},
                        headers=auth(tokens["supervisor"]))
    assert bad.status_code == 422
    assert (await api.get("/api/v1/reports/departments", headers=auth(tokens["intake"]))).status_code == 403


async def test_hotspots_and_top_problems(api, tokens, engine) -> None:
    weeks = {date(2025, 5, 5): {("HJBH02", "chaoyang"): 3, ("CXJS01", "haidian"): 1},
             date(2025, 5, 12): {("HJBH02", "chaoyang"): 7, ("CXJS01", "haidian"): 2, ("HJBH02", "haidian"): 4}}
    with Session(engine) as session:
        for monday, cells in weeks.items():
            for (category, district), n in cells.items():
                session.add_all(row(monday + timedelta(days=i % 5), category=category, district=district,
                                    lead_department=f"{district}-cgzf") for i in range(n))
        session.commit()
    r = await api.get("/api/v1/reports/hotspots", params={"from": "2025-05-12", "to": "2025-05-18"},
                      headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text
    cells = {(h["category"], h["district"]): h for h in r.json()["data"]}
    assert (cells[("HJBH02", "chaoyang")]["count"], cells[("HJBH02", "chaoyang")]["previous"]) == (7, 3)
    assert cells[("HJBH02", "chaoyang")]["change"] == 4 and cells[("HJBH02", "chaoyang")]["change_rate"] == 1.3333
    assert cells[("HJBH02", "haidian")]["previous"] == 0 and cells[("HJBH02", "haidian")]["change_rate"] is None
    assert r.json()["data"][0]["category"] == "HJBH02" and r.json()["data"][0]["district"] == "chaoyang"
    top = (await api.get("/api/v1/reports/top-problems", params={"month": "2025-05"},
                         headers=auth(tokens["auditor"]))).json()
    assert [(p["category"], p["count"]) for p in top["data"]] == [("HJBH02", 14), ("CXJS01", 3)]
    assert top["data"][0]["top_districts"] == [{"district": "chaoyang", "count": 10},
                                               {"district": "haidian", "count": 4}]


async def test_spike_of_seed_004_warns_once(api, tokens, engine) -> None:
    """About 20 a day, then 60, 250 and 800 within three days (seed 004): one warning per place, then updates."""
    start = date(2025, 6, 1)
    daily = [20, 22, 19, 21, 20, 18, 20, 60, 250, 800]
    with Session(engine) as session:
        for i, n in enumerate(daily):
            session.add_all(row(start + timedelta(days=i), category="JTGL01", district="fengtai",
                                lead_department="fengtai-jtzd") for _ in range(n))
        session.commit()
    supervisor = auth(tokens["supervisor"])
    found = []
    for i in range(6, len(daily)):
        r = await api.post("/api/v1/reports/spikes/check", params={"day": str(start + timedelta(days=i))},
                           headers=supervisor)
        assert r.status_code == 200, r.text
        found.append(sorted((w["district"], w["count"]) for w in r.json() if w["category"] == "JTGL01"))
    assert found == [[], [("*", 60), ("fengtai", 60)], [], []]  # day 7: 20 is normal; day 8 warns; 9, 10 same spike
    listed = await api.get("/api/v1/reports/spikes", params={"since": "2025-06-01"}, headers=supervisor)
    spike = [w for w in listed.json() if w["category"] == "JTGL01" and w["district"] == "fengtai"]
    assert len(spike) == 1 and spike[0]["peak"] == 800 and spike[0]["last_day"] == "2025-06-10"
    assert spike[0]["baseline"] == 20.0
    with Session(engine) as session:
        notes = session.exec(select(Notice).where(Notice.template == "spike", Notice.key.like("spike-JTGL01-%"))).all()
    assert len(notes) == 2 and sorted("丰台区" in n.body for n in notes) == [False, True]
    assert all("60件" in n.body and "20.0件" in n.body for n in notes)
    assert (await api.post("/api/v1/reports/spikes/check", headers=auth(tokens["auditor"]))).status_code == 403


async def test_work_lists(api, tokens, engine) -> None:
    soon = datetime.now(UTC) + timedelta(hours=5)
    later = datetime.now(UTC) + timedelta(days=3)
    dept = {"lead_department": "yanqing-cgzf", "district": "yanqing"}
    with Session(engine) as session:
        session.add_all([
            row(MARCH, status="dispatched", **dept), row(MARCH, status="replied", **dept),
            row(MARCH, status="arbitration", **dept),
            row(MARCH, status="handling", overdue=True, escalation_level=1, due_resolution=soon, **dept),
            row(MARCH, status="handling", due_resolution=soon, priority=2, **dept),
            row(MARCH, status="handling", due_resolution=later, **dept),
        ])
        session.commit()
    r = await api.get("/api/v1/reports/worklists", params={"department": "yanqing-cgzf"},
                      headers=auth(tokens["supervisor"]))
    assert r.json() == {"screening": 0, "overdue": 1, "due_soon": 1, "awaiting_sign_for": 1, "handling": 3,
                        "awaiting_review": 1, "arbitration": 1, "escalated": 1, "supervisor_review": 0,
                        "extension_requests": 0, "pause_requests": 0}
    longer = await api.get("/api/v1/reports/worklists/due_soon", params={"department": "yanqing-cgzf", "hours": 96},
                           headers=auth(tokens["supervisor"]))
    assert [c["priority"] for c in longer.json()["data"]] == [2, 0] and longer.json()["count"] == 2
    mine = await api.get("/api/v1/reports/worklists/awaiting_sign_for", params={"department": "yanqing-cgzf"},
                         headers=auth(tokens["handler"]))
    assert all(c["lead_department"] == "xicheng-cgzf" for c in mine.json()["data"])
