"""The review call's three questions (回访: 是否联系, 是否解决, 是否满意) and an honest 响应率: the complainant's
answer counts, not the handler's own contact record; absent means "not asked" and is left out."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from core.models import Case
from tests.helpers import auth, case_when, eventually, new_case, replied_case

pytestmark = pytest.mark.temporal
SH = ZoneInfo("Asia/Shanghai")


async def replied(api, tokens) -> str:  # type: ignore[no-untyped-def]
    return (await replied_case(api, tokens))["case_no"]


async def review(api, tokens, case_no: str, **body) -> dict:  # type: ignore[no-untyped-def]
    r = await api.post(f"/api/v1/cases/{case_no}/review", json=body, headers=auth(tokens["intake"]))
    assert r.status_code == 200, r.text
    return r.json()


def row(engine, case_no: str) -> Case:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.exec(select(Case).where(Case.case_no == case_no)).one()


async def test_a_denied_contact_sends_the_case_back_and_tells_the_supervisor(api, tokens, engine) -> None:
    case_no = await replied(api, tokens)
    answer = await review(api, tokens, case_no, contacted=False, resolution="解决", satisfaction="满意",
                          note="没人联系过我")
    assert answer["status"] == "handling" and answer["round"] == 2  # another round although 解决 and 满意
    case = await case_when(api, tokens["supervisor"], case_no, lambda c: any(
        e["type"] == "notice_queued" and e["data"]["template"] == "contact_denied" for e in c["timeline"]))
    reviewed = next(e for e in case["timeline"] if e["type"] == "reviewed")
    assert reviewed["data"]["contacted"] is False
    notice = next(e for e in case["timeline"] if e["type"] == "notice_queued"
                  and e["data"]["template"] == "contact_denied")
    assert notice["data"]["recipient"] == "supervisor"
    await eventually(lambda: row(engine, case_no).review_contacted is False, 10, what="the answer projected")
    assert row(engine, case_no).valid_review  # a review that denies contact is still a valid review


async def test_a_confirmed_contact_closes_and_an_absent_answer_is_not_asked(api, tokens, engine) -> None:
    asked = await replied(api, tokens)
    assert (await review(api, tokens, asked, contacted=True, resolution="解决", satisfaction="满意"))["status"] \
        == "closed"
    old_client = await replied(api, tokens)  # existing intake clients send no contacted: they keep working
    assert (await review(api, tokens, old_client, resolution="解决", satisfaction="基本满意"))["status"] == "closed"
    await eventually(lambda: row(engine, asked).review_contacted is True and row(engine, old_client).valid_review,
                     10, what="both reviews projected")
    assert row(engine, old_client).review_contacted is None
    case = await case_when(api, tokens["supervisor"], old_client, lambda c: c["status"] in ("closed", "archived"))
    assert "contacted" not in next(e for e in case["timeline"] if e["type"] == "reviewed")["data"]


async def test_review_body_validation(api, tokens) -> None:
    case_no = await replied(api, tokens)
    r = await api.post(f"/api/v1/cases/{case_no}/review", headers=auth(tokens["intake"]),
                       json={"contacted": "maybe", "resolution": "解决", "satisfaction": "满意"})
    assert r.status_code == 422 and {"code", "message"} <= set(r.json())


async def test_response_rate_is_the_complainants_word(api, tokens, engine) -> None:
    """Three reviewed cases of a department nobody else uses today (延庆区生态环境局, 大气污染): one denies contact,
    one confirms, one was not asked. The handler recorded a contact on each; 响应率 is 1 / 2, not 1.0."""
    from core.contracts import Role
    from services.keys import create_key

    with Session(engine) as session:
        token = create_key(session, role=Role.HANDLER, department="yanqing-sthj", name="review test")[1]
        session.commit()
    lead, numbers = auth(token), []
    for contacted in (False, True, None):
        case_no = await new_case(api, tokens, category="HJBH01", district="yanqing", street=None,
                                 address="延庆区某镇某村", description="附近工厂夜间排放刺鼻气体")
        url = f"/api/v1/cases/{case_no}"
        assert (await api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
        assert (await api.post(f"{url}/contacts", json={"summary": "电话联系"}, headers=lead)).is_success
        assert (await api.post(f"{url}/reply", json={"content": "已督促整改"}, headers=lead)).status_code == 200
        body = {"resolution": "解决", "satisfaction": "满意"} | ({} if contacted is None else {"contacted": contacted})
        await review(api, tokens, case_no, **body)
        numbers.append(case_no)
    await eventually(lambda: all(row(engine, n).valid_review for n in numbers), 10, what="reviews projected")
    today = datetime.now(SH).date().isoformat()
    r = await api.get("/api/v1/reports/departments", headers=auth(tokens["supervisor"]),
                      params={"from": today, "to": today, "period": "range", "department": "yanqing-sthj"})
    assert r.status_code == 200, r.text
    (dept,) = [x for x in r.json()["rows"] if x["department"] == "yanqing-sthj"]
    assert dept["counts"]["valid_reviews"] == 3 and dept["counts"]["contact_asked"] == 2
    assert dept["measures"]["response_rate"] == 0.5
    assert dept["measures"]["resolution_rate"] == 1.0
