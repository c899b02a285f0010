"""The whole story over REST against the dev server with a real worker: intake → sign-for → contact → reply →
review → closed → archived; idempotent intake; 409 for steps that do not fit the state."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from temporalio.client import Client

from core.contracts import workflow_id
from core.models import CaseArchive, Notice
from tests.helpers import NAME, PHONE, auth, complaint, wait_status

pytestmark = pytest.mark.temporal


async def test_complaint_from_intake_to_archive(api, tokens, engine, client: Client) -> None:
    intake, handler = auth(tokens["intake"]), auth(tokens["handler"])
    body = complaint()
    r = await api.post("/api/v1/cases", json=body, headers=intake)
    assert r.status_code == 201, r.text
    created = r.json()
    case_no, code = created["case_no"], created["tracking_code"]
    assert created["status"] == "dispatched" and len(case_no) == 16 and len(code) == 10
    assert created["plan"]["lead_department"] == "xicheng-cgzf"
    assert created["plan"]["lead_department_name"] == "西城区城市管理综合行政执法局"
    assert set(created["plan"]["due"]) == {"sign_for", "first_contact", "resolution"}

    again = await api.post("/api/v1/cases", json=body, headers=intake)
    assert again.status_code == 200 and again.json()["case_no"] == case_no

    url = f"/api/v1/cases/{case_no}"
    early = await api.post(f"{url}/reply", json={"content": "已处理"}, headers=handler)
    assert early.status_code == 409 and "dispatched" in early.json()["message"]

    r = await api.post(f"{url}/sign-for", json={"note": "已签收"}, headers=handler)
    assert r.status_code == 200 and r.json()["status"] == "handling", r.text
    twice = await api.post(f"{url}/sign-for", json={}, headers=handler)
    assert twice.status_code == 409 and twice.json()["code"] == "state_conflict"

    no_contact = await api.post(f"{url}/reply", json={"content": "已处理"}, headers=handler)
    assert no_contact.status_code == 409 and "contact" in no_contact.json()["message"]
    r = await api.post(f"{url}/contacts", json={"method": "phone", "summary": "电话联系诉求人，约定现场核查"},
                       headers=handler)
    assert r.status_code == 200 and r.json()["contacts"] == 1
    r = await api.post(f"{url}/reply", json={"content": "经现场核查，已责令当事人拆除违建。"}, headers=handler)
    assert r.status_code == 200 and r.json()["status"] == "replied"

    r = await api.post(f"{url}/review", json={"resolution": "解决", "satisfaction": "满意"}, headers=intake)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    case = await wait_status(api, tokens["intake"], case_no, "archived")

    assert case["complainant"] == {"name": "王**", "phone": "138****5678"}
    assert case["lead_department"] == "xicheng-cgzf" and case["resolution"] == "解决"
    types = [e["type"] for e in case["timeline"]]
    for expected in ("accepted", "dispatched", "signed_for", "contacted", "replied", "reviewed", "closed", "archived"):
        assert expected in types
    assert [e["seq"] for e in case["timeline"]] == list(range(1, len(types) + 1))
    signed = next(e for e in case["timeline"] if e["type"] == "signed_for")
    assert signed["actor"]["role"] == "handler" and signed["actor"]["department"] == "xicheng-cgzf"
    reviewed = next(e for e in case["timeline"] if e["type"] == "reviewed")
    assert reviewed["actor"]["role"] == "intake" and reviewed["data"]["satisfaction"] == "满意"

    track = await api.get(f"/api/v1/track/{code}")
    assert track.status_code == 200
    assert set(track.json()) == {"status", "status_label", "deadline"} and track.json()["status"] == "archived"

    with Session(engine) as s:
        notices = s.exec(select(Notice).where(Notice.case_no == case_no)).all()
        archive = s.get(CaseArchive, case_no)
    bodies = {n.template: n.body for n in notices}
    assert case_no in bodies["acceptance"] and "西城区城市管理综合行政执法局" in bodies["acceptance"]
    assert code in bodies["acceptance"] and "拆除违建" in bodies["result"]
    assert archive is not None and archive.bundle["chain"]["verified"] is True
    assert archive.events == len(types) - 1  # everything up to "closed"; "archived" follows the file

    history = await client.get_workflow_handle(workflow_id(case_no)).fetch_history()
    text = history.to_json()
    assert PHONE not in text and NAME not in text and "138****5678" not in text


async def test_intake_reuse_of_external_id_for_other_complaint_conflicts(api, tokens) -> None:
    body = complaint()
    assert (await api.post("/api/v1/cases", json=body, headers=auth(tokens["intake"]))).status_code == 201
    other = dict(body, description="完全不同的诉求内容")
    r = await api.post("/api/v1/cases", json=other, headers=auth(tokens["intake"]))
    assert r.status_code == 409 and r.json()["code"] == "external_id_conflict"


async def test_department_isolation_and_roles(api, tokens) -> None:
    r = await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))
    case_no = r.json()["case_no"]
    other = auth(tokens["other_handler"])
    assert (await api.get(f"/api/v1/cases/{case_no}", headers=other)).status_code == 404  # no existence hint
    assert (await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=other)).status_code == 404
    assert (await api.get(f"/api/v1/cases/{case_no}", headers=auth(tokens["admin"]))).status_code == 403
    listed = (await api.get("/api/v1/cases", headers=other)).json()
    assert case_no not in [c["case_no"] for c in listed["data"]]
    own = (await api.get("/api/v1/cases", headers=auth(tokens["handler"]))).json()
    assert case_no in [c["case_no"] for c in own["data"]]
    sign_by_intake = await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=auth(tokens["intake"]))
    assert sign_by_intake.status_code == 403
    review_by_handler = await api.post(f"/api/v1/cases/{case_no}/review",
                                       json={"resolution": "解决", "satisfaction": "满意"},
                                       headers=auth(tokens["handler"]))
    assert review_by_handler.status_code == 403
