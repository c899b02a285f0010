"""申诉/纠错 (seed 002): a closed case appealed within the rules' window (2026.3: 15 working days) goes to 上级复核;
the timeline and the hash chain continue in a new run of the same workflow, and the case is archived again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select
from temporalio.client import Client

from core.columns import utcnow
from core.contracts import workflow_id
from core.models import Case, CaseEventRow
from tests.helpers import auth, case_when, new_case, record, replied_case, wait_status

pytestmark = pytest.mark.temporal


async def closed_case(api, tokens) -> str:  # type: ignore[no-untyped-def]
    case_no = (await replied_case(api, tokens, "已拆除"))["case_no"]
    url = f"/api/v1/cases/{case_no}"
    r = await api.post(f"{url}/review", json={"contacted": True, "resolution": "解决", "satisfaction": "满意"},
                       headers=auth(tokens["intake"]))
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    await wait_status(api, tokens["intake"], case_no, "archived")
    return case_no


async def appeal(api, tokens, case_no: str, reason: str = "违建并未拆除，只是拆了外墙板"):  # type: ignore[no-untyped-def]
    return await api.post(f"/api/v1/cases/{case_no}/appeal", json={"reason": reason},
                          headers=auth(tokens["intake"]))


def chain(engine, case_no: str) -> list[CaseEventRow]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(CaseEventRow).where(CaseEventRow.case_no == case_no)
                           .order_by(CaseEventRow.seq)).all())  # type: ignore[arg-type]


@pytest.mark.history
async def test_an_appeal_goes_to_supervisor_review_and_the_chain_continues(api, tokens, engine,
                                                                          client: Client) -> None:
    case_no = await closed_case(api, tokens)
    before = chain(engine, case_no)
    r = await appeal(api, tokens, case_no)
    assert r.status_code == 200 and r.json()["status"] == "supervisor_review", r.text
    case = await case_when(api, tokens["supervisor"], case_no, lambda c: c["status"] == "supervisor_review")
    assert case["outcome"] is None and case["closed_at"] is None  # re-opened
    assert case["resolution"] == "解决"  # the last review stands until the next one
    appealed = next(e for e in case["timeline"] if e["type"] == "appealed")
    assert appealed["seq"] == before[-1].seq + 1 and appealed["data"]["appeal_no"] == 1
    assert appealed["data"]["reason"].startswith("违建并未拆除") and appealed["data"]["outcome_before"] == "resolved"
    assert appealed["actor"]["role"] == "intake"
    assert any(e["type"] == "notice_queued" and e["data"]["template"] == "appeal" for e in case["timeline"])
    again = await appeal(api, tokens, case_no)
    assert again.status_code == 409  # already under review
    sup, lead = auth(tokens["supervisor"]), auth(tokens["handler"])
    url = f"/api/v1/cases/{case_no}"
    r = await api.post(f"{url}/rehandle", json={"note": "请重新核查现场"}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "handling" and r.json()["round"] == 2, r.text
    assert (await api.post(f"{url}/contacts", json={"summary": "再次联系"}, headers=lead)).is_success
    assert (await api.post(f"{url}/reply", json={"content": "已全部拆除"}, headers=lead)).status_code == 200
    r = await api.post(f"{url}/review", json={"contacted": True, "resolution": "解决", "satisfaction": "满意"},
                       headers=auth(tokens["intake"]))
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    await wait_status(api, tokens["intake"], case_no, "archived")
    events = chain(engine, case_no)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))  # one unbroken chain
    assert [e.type for e in events].count("archived") == 2
    archive = (await api.get(f"{url}/archive", headers=sup)).json()
    assert archive["file"]["chain"]["verified"] is True and len(archive["file"]["events"]) == len(events) - 1
    await record("appealed", client.get_workflow_handle(workflow_id(case_no)))


async def test_an_appeal_closed_with_a_finding(api, tokens) -> None:
    case_no = await closed_case(api, tokens)
    assert (await appeal(api, tokens, case_no)).status_code == 200
    sup = auth(tokens["supervisor"])
    r = await api.post(f"/api/v1/cases/{case_no}/close", json={"finding": "经复核，原办理结果属实，维持"},
                       headers=sup)
    assert r.status_code == 200, r.text
    case = await wait_status(api, tokens["intake"], case_no, "archived")
    assert case["outcome"] == "finding"
    second = await appeal(api, tokens, case_no, "仍不认可复核结论")
    assert second.status_code == 200, second.text
    case = await case_when(api, tokens["supervisor"], case_no, lambda c: c["status"] == "supervisor_review")
    assert [e["data"]["appeal_no"] for e in case["timeline"] if e["type"] == "appealed"] == [1, 2]


async def test_appeals_that_do_not_fit_are_refused(api, tokens, engine) -> None:
    open_case = await new_case(api, tokens)
    r = await appeal(api, tokens, open_case)
    assert r.status_code == 409 and "only a closed case" in r.json()["message"]
    assert (await api.post("/api/v1/cases/2099010100000001/appeal", json={"reason": "x"},
                           headers=auth(tokens["intake"]))).status_code == 404
    case_no = await closed_case(api, tokens)
    empty = await api.post(f"/api/v1/cases/{case_no}/appeal", json={"reason": ""}, headers=auth(tokens["intake"]))
    assert empty.status_code == 422 and {"code", "message"} <= set(empty.json())
    handler = await api.post(f"/api/v1/cases/{case_no}/appeal", json={"reason": "x"},
                             headers=auth(tokens["handler"]))
    assert handler.status_code == 403
    with Session(engine) as session:  # closed 40 days ago: past 15 working days
        row = session.exec(select(Case).where(Case.case_no == case_no)).one()
        row.closed_at = utcnow() - timedelta(days=40)
        session.add(row)
        session.commit()
    late = await appeal(api, tokens, case_no)
    assert late.status_code == 409 and "appeal window" in late.json()["message"]
    assert "15 个工作日" in late.json()["message"]
