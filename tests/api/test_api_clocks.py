"""Clock endpoints over REST (dev server): clocks view, extension and pause with supervisor decisions, work lists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from core.columns import utcnow
from core.db import session_scope
from core.models import Case
from tests.helpers import auth, complaint, eventually, signed_case

pytestmark = pytest.mark.temporal


async def clocks(api, tokens, case_no: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r = await api.get(f"/api/v1/cases/{case_no}/clocks", headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text
    return {c["name"]: c for c in r.json()}


async def test_clocks_view(api, tokens) -> None:
    case_no = await signed_case(api, tokens)
    cs = await eventually(lambda: _signed_clocks(api, tokens, case_no))
    assert set(cs) == {"sign_for", "first_contact", "resolution"}
    sign, res = cs["sign_for"], cs["resolution"]
    assert sign["stopped_at"] is not None and not sign["breached"] and sign["remaining_seconds"] > 0
    assert res["limit"] == "5 个工作日" and res["stopped_at"] is None and not res["paused"]
    assert 0 <= res["elapsed_seconds"] < 60 and res["remaining_seconds"] > 86400
    assert [r["threshold"] for r in res["reminders"]] == [0.5, 0.75, 0.9]
    assert not any(r["sent"] for r in res["reminders"])
    other = await api.get(f"/api/v1/cases/{case_no}/clocks", headers=auth(tokens["other_handler"]))
    assert other.status_code == 404


async def _signed_clocks(api, tokens, case_no):  # type: ignore[no-untyped-def]
    cs = await clocks(api, tokens, case_no)
    return cs if cs.get("sign_for", {}).get("stopped_at") else None


async def test_extension_request_and_decision(api, tokens) -> None:
    case_no = await signed_case(api, tokens, urgency="复杂")  # 延期 is only for 复杂 cases (rules 2026.3)
    url, handler, sup = f"/api/v1/cases/{case_no}", auth(tokens["handler"]), auth(tokens["supervisor"])
    before = (await clocks(api, tokens, case_no))["resolution"]["due_at"]
    r = await api.post(f"{url}/extension/decision", json={"approve": True}, headers=sup)
    assert r.status_code == 409 and "no extension request" in r.json()["message"]
    r = await api.post(f"{url}/extension", json={"working_days": 3, "reason": "需协调产权单位"}, headers=handler)
    assert r.status_code == 200, r.text
    r = await api.post(f"{url}/extension", json={"working_days": 3, "reason": "again"}, headers=handler)
    assert r.status_code == 409
    r = await api.post(f"{url}/extension/decision", json={"approve": True}, headers=handler)
    assert r.status_code == 403
    r = await api.post(f"{url}/extension/decision", json={"approve": True, "note": "同意"}, headers=sup)
    assert r.status_code == 200, r.text
    after = await eventually(lambda: _due_changed(api, tokens, case_no, before))
    assert datetime.fromisoformat(after) - datetime.fromisoformat(before) >= timedelta(days=3)
    case = (await api.get(url, headers=sup)).json()
    types = [e["type"] for e in case["timeline"]]
    assert "extension_requested" in types and "extension_approved" in types


async def _due_changed(api, tokens, case_no, before):  # type: ignore[no-untyped-def]
    due = (await clocks(api, tokens, case_no))["resolution"]["due_at"]
    return due if due != before else None


async def test_pause_decision_and_resume(api, tokens) -> None:
    case_no = await signed_case(api, tokens)
    url, handler, sup = f"/api/v1/cases/{case_no}", auth(tokens["handler"]), auth(tokens["supervisor"])
    assert (await api.post(f"{url}/resume", json={}, headers=handler)).status_code == 409
    assert (await api.post(f"{url}/pause", json={"reason": "等待诉求人补充材料"}, headers=handler)).is_success
    r = await api.post(f"{url}/pause/decision", json={"approve": True}, headers=sup)
    assert r.status_code == 200, r.text
    await api.post(f"{url}/contacts", json={"summary": "电话"}, headers=handler)
    r = await api.post(f"{url}/reply", json={"content": "已处理"}, headers=handler)
    assert r.status_code == 409 and "paused" in r.json()["message"]
    paused = await eventually(lambda: _clock_paused(api, tokens, case_no, True))
    assert paused["resolution"]["paused"] and paused["resolution"]["remaining_seconds"] > 0
    assert (await api.post(f"{url}/resume", json={"note": "材料已收到"}, headers=handler)).is_success
    resumed = await eventually(lambda: _clock_paused(api, tokens, case_no, False))
    # the due time moves by the paused office time (zero outside office hours), never backwards
    assert resumed["resolution"]["due_at"] >= paused["resolution"]["due_at"]
    case = (await api.get(url, headers=sup)).json()
    assert [e["type"] for e in case["timeline"] if e["type"] in ("pause_requested", "paused", "resumed")] == [
        "pause_requested", "paused", "resumed"]
    assert (await api.post(f"{url}/reply", json={"content": "已处理"}, headers=handler)).is_success


async def _clock_paused(api, tokens, case_no, want):  # type: ignore[no-untyped-def]
    cs = await clocks(api, tokens, case_no)
    return cs if cs["resolution"]["paused"] is want else None


async def test_overdue_and_due_before_work_lists(api, tokens, engine) -> None:
    r = await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))
    late, soon = r.json()["case_no"], None
    r = await api.post("/api/v1/cases", json=complaint(kind="求助"), headers=auth(tokens["intake"]))
    soon = r.json()["case_no"]
    await eventually(lambda: _projected(api, tokens, soon))
    await eventually(lambda: _projected(api, tokens, late))  # intake's events are all in, none will follow
    with session_scope(engine) as s:  # what the projection writes when a clock breaches (covered by workflow tests)
        row = s.exec(select(Case).where(Case.case_no == late)).one()
        row.overdue = True
        s.add(row)
    sup = auth(tokens["supervisor"])
    listed = (await api.get("/api/v1/cases", params={"overdue": "true", "limit": 500}, headers=sup)).json()
    assert late in [c["case_no"] for c in listed["data"]] and soon not in [c["case_no"] for c in listed["data"]]
    horizon = (utcnow() + timedelta(days=30)).isoformat()
    listed = (await api.get("/api/v1/cases", params={"due_before": horizon, "limit": 500}, headers=sup)).json()
    assert soon in [c["case_no"] for c in listed["data"]]
    past = (utcnow() - timedelta(days=1)).isoformat()
    listed = (await api.get("/api/v1/cases", params={"due_before": past, "limit": 500}, headers=sup)).json()
    assert soon not in [c["case_no"] for c in listed["data"]]


async def _projected(api, tokens, case_no):  # type: ignore[no-untyped-def]
    """The case once the last intake event (the dispatch notice) is projected."""
    case = (await api.get(f"/api/v1/cases/{case_no}", headers=auth(tokens["supervisor"]))).json()
    done = any(e["type"] == "notice_queued" and e["data"]["template"] == "dispatch" for e in case["timeline"])
    return case if done else None
