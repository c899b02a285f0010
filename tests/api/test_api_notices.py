"""Notices that tell the truth (统一话术): the acceptance names the lead department and its public line; after a
return the complainant hears the new department."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.models import Notice
from tests.helpers import auth, case_when, eventually, intake

pytestmark = pytest.mark.temporal


def notices(engine, case_no: str, template: str) -> list[Notice]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(Notice).where(Notice.case_no == case_no, Notice.template == template)).all())


async def test_the_acceptance_names_the_department_and_its_public_line(api, tokens, engine) -> None:
    gas = await intake(api, tokens, category="GGFW03", description="燃气表箱锈蚀，担心漏气")
    await eventually(lambda: notices(engine, gas["case_no"], "acceptance"), 20, what="the acceptance notice")
    body = notices(engine, gas["case_no"], "acceptance")[0].body
    assert "北京市燃气集团" in body and "联系电话96777" in body
    plain = await intake(api, tokens)  # a district department without its own line: the hotline
    await eventually(lambda: notices(engine, plain["case_no"], "acceptance"), 20, what="the acceptance notice")
    body = notices(engine, plain["case_no"], "acceptance")[0].body
    assert "西城区城市管理综合行政执法局" in body and "联系电话12345" in body


async def test_after_a_return_the_complainant_hears_the_new_department(api, tokens, engine) -> None:
    created = await intake(api, tokens)
    case_no = created["case_no"]
    r = await api.post(f"/api/v1/cases/{case_no}/return", json={"reason_code": "NOT_OUR_DUTY", "text": "属住建职责"},
                       headers=auth(tokens["handler"]))
    assert r.status_code == 200, r.text
    await case_when(api, tokens["supervisor"], case_no, lambda c: any(
        e["type"] == "notice_queued" and e["data"]["template"] == "dispatch_corrected" for e in c["timeline"]))
    (corrected,) = notices(engine, case_no, "dispatch_corrected")
    assert corrected.recipient == "complainant" and "西城区住房和城乡建设委员会" in corrected.body
    assert "改由" in corrected.body
