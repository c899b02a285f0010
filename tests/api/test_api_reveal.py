"""The handler reaches the complainant: the lead's handler (or a supervisor) reveals the number with a reason,
recorded and limited per hour; other departments and roles cannot; a privacy-number relay hides the number."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session, select

from core.admin_models import AccessLog
from core.contracts import Role
from services.keys import create_key
from tests.helpers import NAME, PHONE, auth, case_when, new_case

pytestmark = pytest.mark.temporal


def handler_token(engine) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        value = create_key(session, role=Role.HANDLER, department="xicheng-cgzf", name="reveal test")[1]
        session.commit()
    return value


async def test_the_lead_reveals_the_number_with_a_reason_and_it_is_recorded(api, tokens, engine) -> None:
    case_no = await new_case(api, tokens)
    url = f"/api/v1/cases/{case_no}/complainant/reveal"
    lead = handler_token(engine)
    r = await api.post(url, json={"reason": "首次联系诉求人"}, headers=auth(lead))
    assert r.status_code == 200, r.text
    assert r.json()["name"] == NAME and r.json()["phone"] == PHONE and r.json()["relay"] is None
    with Session(engine) as session:
        (entry,) = session.exec(select(AccessLog).where(AccessLog.action == "reveal_phone",
                                                        AccessLog.case_no == case_no)).all()
    assert entry.detail["reason"] == "首次联系诉求人" and entry.role == "handler" and PHONE not in str(entry.detail)
    assert (await api.post(url, json={"reason": "x"}, headers=auth(tokens["other_handler"]))).status_code == 404
    for role in ("intake", "auditor", "admin"):
        assert (await api.post(url, json={"reason": "x"}, headers=auth(tokens[role]))).status_code == 403
    assert (await api.post(url, json={"reason": ""}, headers=auth(lead))).status_code == 422
    sup = await api.post(url, json={"reason": "督办核实"}, headers=auth(tokens["supervisor"]))
    assert sup.status_code == 200 and sup.json()["phone"] == PHONE


async def test_reveals_are_limited_per_handler_and_hour(api, tokens, engine) -> None:
    case_no = await new_case(api, tokens)
    lead = handler_token(engine)
    url = f"/api/v1/cases/{case_no}/complainant/reveal"
    answers = [(await api.post(url, json={"reason": "联系"}, headers=auth(lead))).status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]  # rules 2026.3: privacy.reveals_per_hour 10


async def test_with_a_privacy_relay_the_handler_gets_a_temporary_number(settings, client, worker, tokens,
                                                                       api, engine) -> None:
    from api.app import create_app

    case_no = await new_case(api, tokens)
    app = create_app(settings.model_copy(update={"privacy_relay": "fake"}), client)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as relay_api:
        lead = auth(handler_token(engine))
        r = await relay_api.post(f"/api/v1/cases/{case_no}/complainant/reveal", json={"reason": "联系"},
                                 headers=lead)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["phone"] is None and PHONE not in r.text and body["relay"]["number"].startswith("170")
        call_id = body["relay"]["call_id"]
        url = f"/api/v1/cases/{case_no}"
        assert (await relay_api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
        contact = await relay_api.post(f"{url}/contacts", json={"summary": "隐私号通话", "call_id": call_id},
                                       headers=lead)
        assert contact.status_code == 200, contact.text
    case = await case_when(api, tokens["supervisor"], case_no,
                           lambda c: any(e["type"] == "contacted" for e in c["timeline"]))
    assert next(e for e in case["timeline"] if e["type"] == "contacted")["data"]["call_id"] == call_id
