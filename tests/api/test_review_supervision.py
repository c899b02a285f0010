"""Review, re-handling, supervision, merge, repeat complaints, rating and the retention sweep (dev server).

Tests marked `history` record terminated.json, merged.json and merged_parent.json (`jiesu histories record`).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.admin_models import RetentionRun
from core.chain import verify_chain
from core.columns import utcnow
from core.contracts import workflow_id
from core.db import session_scope
from core.models import Case, CaseArchive, CaseEventRow, Notice
from services.schedules import RETENTION_SCHEDULE, ensure_schedules
from tests.helpers import auth, case_when, complaint, eventually, new_case, record

pytestmark = pytest.mark.temporal


async def handle_round(api, tokens, case_no: str, sign: bool = True) -> None:  # type: ignore[no-untyped-def]
    url, lead = f"/api/v1/cases/{case_no}", auth(tokens["handler"])
    if sign:
        assert (await api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
    assert (await api.post(f"{url}/contacts", json={"summary": "电话"}, headers=lead)).is_success
    r = await api.post(f"{url}/reply", json={"content": "已处理"}, headers=lead)
    assert r.status_code == 200, r.text


async def review(api, tokens, case_no, resolution, satisfaction):  # type: ignore[no-untyped-def]
    r = await api.post(f"/api/v1/cases/{case_no}/review", json={"resolution": resolution,
                                                                "satisfaction": satisfaction},
                       headers=auth(tokens["intake"]))
    assert r.status_code == 200, r.text
    return r.json()


def queued(case: dict, template: str) -> bool:
    """The notice of ``template`` is in the outbox (its timeline event follows the insert)."""
    return any(e["type"] == "notice_queued" and e["data"]["template"] == template for e in case["timeline"])


@pytest.mark.history
async def test_unresolved_twice_goes_to_supervisor_review_then_terminate(api, tokens, client) -> None:
    case_no = await new_case(api, tokens)
    sup = auth(tokens["supervisor"])
    await handle_round(api, tokens, case_no)
    assert (await review(api, tokens, case_no, "未解决", "不满意"))["round"] == 2
    await handle_round(api, tokens, case_no, sign=False)
    assert (await review(api, tokens, case_no, "未解决", "不满意"))["status"] == "supervisor_review"
    bad = await api.post(f"/api/v1/cases/{case_no}/terminate", json={"reason_code": "NOPE", "text": "x"}, headers=sup)
    assert bad.status_code == 422
    r = await api.post(f"/api/v1/cases/{case_no}/terminate",
                       json={"reason_code": "UNREASONABLE", "text": "诉求超出政策范围"}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    case = await case_when(api, tokens["supervisor"], case_no, lambda c: c["status"] == "archived")
    assert case["outcome"] == "terminated"
    closed = next(e for e in case["timeline"] if e["type"] == "closed")
    assert closed["actor"]["role"] == "supervisor" and closed["data"]["reason_code"] == "UNREASONABLE"
    again = await api.post(f"/api/v1/cases/{case_no}/terminate",
                           json={"reason_code": "UNREASONABLE", "text": "x"}, headers=sup)
    assert again.status_code == 409
    archive = (await api.get(f"/api/v1/cases/{case_no}/archive", headers=auth(tokens["auditor"]))).json()
    assert archive["file"]["chain"]["verified"] and archive["file"]["case"]["outcome"] == "terminated"
    assert (await api.get(f"/api/v1/cases/{case_no}/archive", headers=auth(tokens["handler"]))).status_code == 403
    r = await api.post(f"/api/v1/cases/{case_no}/rating", json={"score": 2, "note": "答复敷衍"}, headers=sup)
    assert r.status_code == 201
    assert (await api.post(f"/api/v1/cases/{case_no}/rating", json={"score": 3}, headers=sup)).status_code == 409
    await record("terminated", client.get_workflow_handle(workflow_id(case_no)))


async def test_supervisor_review_orders_another_round_and_escalates(api, tokens, engine) -> None:
    case_no = await new_case(api, tokens)
    sup = auth(tokens["supervisor"])
    r = await api.post(f"/api/v1/cases/{case_no}/rehandle", json={}, headers=sup)
    assert r.status_code == 409  # not in supervisor review
    r = await api.post(f"/api/v1/cases/{case_no}/escalate", json={"reason": "社会关注度高"}, headers=sup)
    assert r.status_code == 200, r.text
    case = await case_when(api, tokens["supervisor"], case_no, lambda c: queued(c, "escalate"))
    assert any(e["type"] == "escalated" and e["actor"]["role"] == "supervisor" for e in case["timeline"])
    with Session(engine) as s:
        head = s.exec(select(Notice).where(Notice.case_no == case_no, Notice.template == "escalate")).one()
    assert head.recipient == "department_head" and head.department == "xicheng-gov"  # the bureau's government
    assert "西城区人民政府" in head.body
    r = await api.post(f"/api/v1/cases/{case_no}/close", json={"finding": "经复核，已依法处理完毕"}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "closed"


@pytest.mark.history
async def test_merge_of_a_duplicate_gets_the_parent_result(api, tokens, engine, client) -> None:
    parent = await new_case(api, tokens)
    duplicate = await new_case(api, tokens)
    sup = auth(tokens["supervisor"])
    assert (await api.post(f"/api/v1/cases/{duplicate}/merge", json={"parent_case_no": duplicate},
                           headers=sup)).status_code == 409
    r = await api.post(f"/api/v1/cases/{duplicate}/merge", json={"parent_case_no": parent}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    dup = await case_when(api, tokens["supervisor"], duplicate, lambda c: c["status"] == "archived")
    assert dup["outcome"] == "merged" and dup["merged_into"] == parent
    await case_when(api, tokens["supervisor"], parent, lambda c: any(e["type"] == "merged_in" for e in c["timeline"]))
    await handle_round(api, tokens, parent)
    # the reply queued a result notice for the duplicate too
    await case_when(api, tokens["supervisor"], parent, lambda c: any(
        e["type"] == "notice_queued" and e["data"].get("for_case") == duplicate for e in c["timeline"]))
    with Session(engine) as s:
        notices = s.exec(select(Notice).where(Notice.case_no == duplicate)).all()
    assert {n.template for n in notices} >= {"acceptance", "merged", "result"}
    assert parent in next(n.body for n in notices if n.template == "merged")
    closed_parent = await new_case(api, tokens)
    r = await api.post(f"/api/v1/cases/{closed_parent}/terminate", json={"reason_code": "DUPLICATE", "text": "x"},
                       headers=sup)
    await case_when(api, tokens["supervisor"], closed_parent, lambda c: c["status"] == "archived")
    r = await api.post(f"/api/v1/cases/{duplicate}/merge", json={"parent_case_no": closed_parent}, headers=sup)
    assert r.status_code == 409
    await review(api, tokens, parent, "解决", "满意")
    await case_when(api, tokens["supervisor"], parent, lambda c: c["status"] == "archived")
    await record("merged", client.get_workflow_handle(workflow_id(duplicate)))
    await record("merged_parent", client.get_workflow_handle(workflow_id(parent)))


async def test_a_duplicate_merged_after_the_parent_replied_gets_the_result_at_once(api, tokens, engine) -> None:
    parent = await new_case(api, tokens)
    await handle_round(api, tokens, parent)  # replied, waiting for the review
    duplicate = await new_case(api, tokens)
    r = await api.post(f"/api/v1/cases/{duplicate}/merge", json={"parent_case_no": parent},
                       headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text

    def result_of_parent() -> bool:
        with Session(engine) as s:
            rows = s.exec(select(Notice).where(Notice.case_no == duplicate, Notice.template == "result")).all()
        return any("已处理" in n.body for n in rows)

    await eventually(result_of_parent, 20, what="the parent's result for the merged complainant")


async def test_third_case_about_the_same_matter_is_flagged(api, tokens, engine) -> None:
    phone = {"name": "赵六", "phone": "13700001234"}
    first = await new_case(api, tokens, complainant=phone, category="HJBH01")
    second = await new_case(api, tokens, complainant=phone, category="HJBH01")
    other = await new_case(api, tokens, complainant=phone, category="HJBH03")  # another matter
    r = await api.post("/api/v1/cases", json=complaint(complainant=phone, category="HJBH01"),
                       headers=auth(tokens["intake"]))
    third = r.json()
    assert third["repeat_count"] == 3 and third["repeat_of"] == second
    case = await case_when(api, tokens["supervisor"], third["case_no"], lambda c: queued(c, "repeat"))
    assert case["repeat_flag"] is True
    assert (await case_when(api, tokens["supervisor"], second))["repeat_of"] == first
    assert (await case_when(api, tokens["supervisor"], other))["repeat_of"] is None
    with Session(engine) as s:
        flagged = s.exec(select(Notice).where(Notice.case_no == third["case_no"], Notice.template == "repeat")).one()
        assert flagged.recipient == "supervisor" and "第3次" in flagged.body
        assert s.exec(select(Case).where(Case.case_no == second)).one().repeat_flag is False


async def test_retention_schedule_anonymises_an_expired_archive(api, tokens, engine, client, settings) -> None:
    case_no = await new_case(api, tokens)
    await api.post(f"/api/v1/cases/{case_no}/terminate", json={"reason_code": "UNREACHABLE", "text": "多次联系未果"},
                   headers=auth(tokens["supervisor"]))
    await case_when(api, tokens["supervisor"], case_no, lambda c: c["status"] == "archived")
    with session_scope(engine) as s:
        archive = s.get(CaseArchive, case_no)
        assert archive.retain_until > utcnow() + timedelta(days=300)  # terminated: 1 year
        archive.retain_until = utcnow() - timedelta(days=1)  # as if that year had passed
        s.add(archive)
    await ensure_schedules(client, settings.task_queue)
    await ensure_schedules(client, settings.task_queue)  # idempotent
    schedule = client.get_schedule_handle(RETENTION_SCHEDULE)
    await schedule.trigger()
    def archive_row() -> CaseArchive:
        with Session(engine) as s:
            return s.get(CaseArchive, case_no)

    archive = await eventually(archive_row, 20, 0.1, until=lambda a: a.anonymised_at is not None,
                               what="the retention sweep")
    assert archive.anonymised_at is not None
    assert archive.bundle["case"]["phone_enc"] == "已匿名化" and archive.bundle["case"]["category"] == "CXJS01"
    with Session(engine) as s:
        row = s.exec(select(Case).where(Case.case_no == case_no)).one()
        runs = s.exec(select(RetentionRun)).all()
    assert row.phone_masked == "已匿名化" and row.outcome == "terminated"
    # everything that can name a person goes, not only name and phone: the complaint, the place, the fingerprint,
    # the free text of the timeline (here the termination text) and the notices that quoted it
    assert row.description == row.address == row.intake_hash == "已匿名化"
    assert archive.bundle["case"]["description"] == "已匿名化"
    closed = next(e for e in archive.bundle["events"] if e["type"] == "closed")
    assert closed["data"]["text"] == "已匿名化" and closed["data"]["reason_code"] == "UNREACHABLE"
    with Session(engine) as s:
        events = s.exec(select(CaseEventRow).where(CaseEventRow.case_no == case_no)).all()
        bodies = {n.body for n in s.exec(select(Notice).where(Notice.case_no == case_no)).all()}
    assert all("多次联系未果" not in str(e.data) for e in events) and bodies <= {"已匿名化"}
    assert verify_chain(case_no, [e.chain_fields() for e in events]) == []  # links hold; redacted marked
    assert any(case_no in r.case_nos for r in runs)
    await schedule.delete()
