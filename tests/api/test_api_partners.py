"""Co-handling and dispatch disputes over REST against the dev server with a real worker."""

from __future__ import annotations

import pytest

from tests.helpers import NAME, PHONE, auth, case_when, eventually, new_case

pytestmark = pytest.mark.temporal


async def test_partner_request_reply_and_the_lead_waits(api, tokens) -> None:
    case_no = await new_case(api, tokens)
    url, lead, partner = f"/api/v1/cases/{case_no}", auth(tokens["handler"]), auth(tokens["partner"])
    assert (await api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
    r = await api.post(f"{url}/partners", json={"requests": [{"department": "nowhere", "question": "?"}]},
                       headers=lead)
    assert r.status_code == 422
    r = await api.post(f"{url}/partners", json={"requests": [
        {"department": "xicheng-sthj", "question": "请提供该处彩钢房施工扬尘的监测情况"}]}, headers=lead)
    assert r.status_code == 200, r.text
    await api.post(f"{url}/contacts", json={"summary": "电话联系"}, headers=lead)
    blocked = await api.post(f"{url}/reply", json={"content": "已处理"}, headers=lead)
    assert blocked.status_code == 409 and "xicheng-sthj" in blocked.json()["message"]

    async def open_tasks() -> dict:
        return (await api.get("/api/v1/partner-tasks", params={"status": "open"}, headers=partner)).json()

    tasks = await eventually(open_tasks, 5, until=lambda ts: any(t["case_no"] == case_no for t in ts["data"]),
                             what="the partner's open task")
    mine = [t for t in tasks["data"] if t["case_no"] == case_no]
    assert mine[0]["question"].startswith("请提供") and mine[0]["department"] == "xicheng-sthj"
    assert PHONE not in str(tasks) and NAME not in str(tasks)
    assert all(t["department"] == "xicheng-sthj" for t in tasks["data"])
    assert (await api.get(url, headers=partner)).status_code == 404  # nothing beyond its own task
    assert (await api.get(f"{url}/clocks", headers=partner)).status_code == 404

    other = await api.post(f"{url}/partner-replies", json={"content": "x"}, headers=auth(tokens["other_handler"]))
    assert other.status_code == 403
    r = await api.post(f"{url}/partner-replies", json={"content": "经监测扬尘未超标"}, headers=partner)
    assert r.status_code == 200, r.text
    again = await api.post(f"{url}/partner-replies", json={"content": "再答一次"}, headers=partner)
    assert again.status_code == 409
    assert (await api.post(f"{url}/reply", json={"content": "已处理"}, headers=lead)).status_code == 200
    case = await case_when(api, tokens["supervisor"], case_no)
    replied = [e for e in case["timeline"] if e["type"] == "partner_replied"]
    assert replied[0]["data"]["late"] is False and replied[0]["actor"]["department"] == "xicheng-sthj"


async def test_supervisor_waives_a_partner(api, tokens) -> None:
    case_no = await new_case(api, tokens)
    url, lead, sup = f"/api/v1/cases/{case_no}", auth(tokens["handler"]), auth(tokens["supervisor"])
    await api.post(f"{url}/sign-for", json={}, headers=lead)
    await api.post(f"{url}/partners", json={"requests": [{"department": "xicheng-sthj", "question": "?"}]},
                   headers=lead)
    await api.post(f"{url}/contacts", json={"summary": "电话联系"}, headers=lead)
    assert (await api.post(f"{url}/partners/xicheng-sthj/waive", json={"reason": "x"}, headers=lead)).status_code \
        == 403
    r = await api.post(f"{url}/partners/xicheng-sthj/waive", json={"reason": "诉求人已撤回该部分"}, headers=sup)
    assert r.status_code == 200, r.text
    assert (await api.post(f"{url}/reply", json={"content": "已处理"}, headers=lead)).status_code == 200
    late = await api.post(f"{url}/partner-replies", json={"content": "迟到的答复"}, headers=auth(tokens["partner"]))
    assert late.status_code == 409 and "waived" in late.json()["message"]


async def test_default_partners_are_asked_at_sign_for(api, tokens) -> None:
    case_no = await new_case(api, tokens, category="CXJS02")  # 施工扰民: lead 住建委, default partner 生态环境局
    candidate = auth(tokens["candidate"])  # xicheng-zjw
    assert (await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=candidate)).is_success
    case = await case_when(api, tokens["supervisor"], case_no,
                          lambda c: any(e["type"] == "partner_requested" for e in c["timeline"]))
    asked = [e["data"]["department"] for e in case["timeline"] if e["type"] == "partner_requested"]
    assert asked == ["xicheng-sthj"]


async def test_return_redispatch_sign_for(api, tokens) -> None:
    case_no = await new_case(api, tokens)  # CXJS01 xicheng: lead cgzf, candidate zjw
    url, lead, candidate = f"/api/v1/cases/{case_no}", auth(tokens["handler"]), auth(tokens["candidate"])
    bad = await api.post(f"{url}/return", json={"reason_code": "BECAUSE", "text": "x"}, headers=lead)
    assert bad.status_code == 422 and "NOT_OUR_DUTY" in bad.json()["message"]
    r = await api.post(f"{url}/return", json={"reason_code": "NOT_OUR_DUTY", "text": "属住建部门职责"}, headers=lead)
    assert r.status_code == 200 and r.json()["status"] == "dispatched", r.text
    case = await case_when(api, tokens["supervisor"], case_no, lambda c: c["lead_department"] == "xicheng-zjw")
    assert (await api.get(url, headers=lead)).status_code == 404  # the returning department lost the case
    assert (await api.post(f"{url}/sign-for", json={}, headers=candidate)).status_code == 200
    after = await api.post(f"{url}/return", json={"reason_code": "NOT_OUR_DUTY", "text": "x"}, headers=candidate)
    assert after.status_code == 409 and "before sign-for" in after.json()["message"]
    types = [e["type"] for e in case["timeline"]]
    assert types.count("returned") == 1 and "redispatched" in types


async def test_return_limit_goes_to_arbitration_and_the_owner_cannot_return(api, tokens) -> None:
    case_no = await new_case(api, tokens)
    url, sup = f"/api/v1/cases/{case_no}", auth(tokens["supervisor"])
    reason = {"reason_code": "NOT_OUR_DUTY", "text": "非本单位职责"}
    assert (await api.post(f"{url}/return", json=reason, headers=auth(tokens["handler"]))).is_success
    await case_when(api, tokens["supervisor"], case_no, lambda c: c["lead_department"] == "xicheng-zjw")
    r = await api.post(f"{url}/return", json=reason, headers=auth(tokens["candidate"]))
    assert r.status_code == 200 and r.json()["status"] == "arbitration", r.text
    assert (await api.post(f"{url}/sign-for", json={}, headers=auth(tokens["candidate"]))).status_code in (404, 409)
    r = await api.post(f"{url}/arbitrate", json={"department": "xicheng-cgzf", "note": "按职责清单由城管执法办理"},
                       headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "dispatched", r.text
    await case_when(api, tokens["supervisor"], case_no, lambda c: c["lead_department"] == "xicheng-cgzf")
    forced = await api.post(f"{url}/return", json=reason, headers=auth(tokens["handler"]))
    assert forced.status_code == 409 and "mandatory" in forced.json()["message"]
    assert (await api.post(f"{url}/sign-for", json={}, headers=auth(tokens["handler"]))).is_success
    r = await api.post(f"{url}/reassign", json={"department": "xicheng-zjw", "note": "改派"}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "dispatched"
    acc = (await api.get("/api/v1/reports/dispatch-accuracy", headers=sup)).json()
    assert acc["cases"] >= 1 and acc["returned"] >= 1 and 0 <= acc["accuracy"] < 1
