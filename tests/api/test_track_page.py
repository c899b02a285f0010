"""The complainant's page /t/{code}: steps, deadline and department for the code; reply, evaluation and appeal with
the phone's last four digits; wrong code and wrong digits answer alike; the SMS link points here."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.models import Case, Notice
from tests.helpers import PHONE, auth, case_when, eventually, replied_case, wait_status

pytestmark = pytest.mark.temporal


async def replied(api, tokens) -> dict:  # type: ignore[no-untyped-def]
    created = await replied_case(api, tokens, "彩钢房已全部拆除")
    await wait_status(api, tokens["intake"], created["case_no"], "replied")
    return created


async def test_the_page_shows_the_steps_and_with_the_digits_the_reply_and_the_evaluation(api, tokens,
                                                                                       engine) -> None:
    created = await replied(api, tokens)
    code = created["tracking_code"]
    public = await api.get(f"/t/{code}")
    assert public.status_code == 200 and "text/html" in public.headers["content-type"]
    html = public.text
    assert created["case_no"] in html and "西城区城市管理综合行政执法局" in html and "已答复待回访" in html
    assert "受理" in html and "派单" in html and 'name="viewport"' in html
    assert "彩钢房已全部拆除" not in html and "提交评价" not in html  # the reply needs the digits
    assert "办理时限：" in html and "办结时间" not in html  # an open case: its deadline
    wrong_code = await api.get("/t/NOSUCHCODE")
    wrong_digits = await api.get(f"/t/{code}", params={"d": "0000" if PHONE[-4:] != "0000" else "1111"})
    assert wrong_code.status_code == wrong_digits.status_code == 404 and "未找到" in wrong_digits.text
    assert created["case_no"] not in wrong_digits.text
    mine = await api.get(f"/t/{code}", params={"d": PHONE[-4:]})
    assert "彩钢房已全部拆除" in mine.text and "提交评价" in mine.text
    review = await api.post(f"/t/{code}/review", data={"d": PHONE[-4:], "contacted": "true", "resolution": "解决",
                                                       "satisfaction": "满意", "note": "处理及时"})
    assert review.status_code == 303 and "done=review" in review.headers["location"]
    case = await case_when(api, tokens["supervisor"], created["case_no"],
                           lambda c: c["status"] in ("closed", "archived"))
    reviewed = next(e for e in case["timeline"] if e["type"] == "reviewed")
    assert reviewed["data"]["contacted"] is True and reviewed["data"]["note"].startswith("网上评价")
    assert reviewed["actor"]["id"].startswith("online-")
    other_digits = "9999" if PHONE[-4:] != "9999" else "8888"
    forged = await api.post(f"/t/{code}/review", data={"d": other_digits, "contacted": "true",
                                                       "resolution": "解决", "satisfaction": "满意"})
    assert forged.status_code == 404
    with Session(engine) as s:
        sms = s.exec(select(Notice).where(Notice.case_no == created["case_no"],
                                          Notice.template == "acceptance")).one()
    assert f"/t/{code}" in sms.body  # every SMS carries the page's link


async def test_after_closing_the_page_takes_an_appeal(api, tokens, engine) -> None:
    created = await replied(api, tokens)
    code, digits = created["tracking_code"], PHONE[-4:]
    r = await api.post(f"/api/v1/cases/{created['case_no']}/review",
                       json={"contacted": True, "resolution": "解决", "satisfaction": "满意"},
                       headers=auth(tokens["intake"]))
    assert r.status_code == 200
    await wait_status(api, tokens["intake"], created["case_no"], "archived")
    page = await api.get(f"/t/{code}", params={"d": digits})
    assert "提交申诉" in page.text and "提交评价" not in page.text
    assert "办结时间：" in page.text and "办理时限" not in page.text  # closed: when, not a deadline that is past
    appeal = await api.post(f"/t/{code}/appeal", data={"d": digits, "reason": "违建又搭起来了"})
    assert appeal.status_code == 303
    await eventually(lambda: _status(engine, created["case_no"]) == "supervisor_review", 20, what="the appeal")


def _status(engine, case_no: str) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.exec(select(Case.status).where(Case.case_no == case_no)).one()
