"""An intake system or handler client that retries a case action after a timeout must not apply it twice:
the same Idempotency-Key returns the first answer; without a key the retry is a 409."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from core.models import CaseEventRow
from tests.helpers import auth, complaint

pytestmark = pytest.mark.temporal


def event_types(engine, case_no: str) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.exec(select(CaseEventRow.type).where(CaseEventRow.case_no == case_no)).all())


async def test_a_retried_action_with_the_same_key_is_applied_once(api, tokens, engine) -> None:
    handler = auth(tokens["handler"])
    case_no = (await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))).json()["case_no"]
    url = f"/api/v1/cases/{case_no}/contacts"
    body = {"method": "phone", "summary": "电话联系"}
    await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=handler)
    first = await api.post(url, json=body, headers=handler | {"Idempotency-Key": f"{case_no}-contact-1"})
    again = await api.post(url, json=body, headers=handler | {"Idempotency-Key": f"{case_no}-contact-1"})
    assert first.status_code == again.status_code == 200, again.text
    assert first.json() == again.json() and again.json()["contacts"] == 1
    other = await api.post(url, json=body, headers=handler | {"Idempotency-Key": f"{case_no}-contact-2"})
    assert other.json()["contacts"] == 2  # a new key is a new contact


async def test_a_retried_sign_for_without_a_key_is_refused(api, tokens) -> None:
    handler = auth(tokens["handler"])
    case_no = (await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["intake"]))).json()["case_no"]
    key = {"Idempotency-Key": f"{case_no}-sign"}
    assert (await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=handler | key)).status_code == 200
    assert (await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=handler | key)).status_code == 200
    r = await api.post(f"/api/v1/cases/{case_no}/sign-for", json={}, headers=handler)
    assert r.status_code == 409 and r.json()["code"] == "state_conflict"


async def test_a_malformed_key_is_a_422(api, tokens) -> None:
    r = await api.get("/api/v1/cases", headers=auth(tokens["handler"]) | {"Idempotency-Key": "no spaces allowed"})
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["message"]
