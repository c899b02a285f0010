"""Trust boundaries: the export's phone filter is no oracle (roles that may see phones only, rate-limited,
recorded), the intake fingerprint is keyed and never served, the archive API serves no ciphertext or hashes, and
every read of personal data is in a hash-chained access log."""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlmodel import Session, select

from core.admin_models import AccessLog
from core.chain import canonical
from core.contracts import Role
from core.contracts.case_io import CaseCreate
from core.models import Case
from core.settings import RATE_LIMITS
from services.access import verify_access_log
from services.keys import create_key
from tests.helpers import auth, case_when, complaint, new_case

pytestmark = pytest.mark.temporal
PERSONAL_READS_PER_MINUTE = RATE_LIMITS["personal_reads"]
URL = "/api/v1/reports/cases.csv"


def token(engine, role: Role, department: str | None = None) -> str:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        value = create_key(session, role=role, department=department, name=f"trust test {role}")[1]
        session.commit()
    return value


def entries(engine, **where) -> list[AccessLog]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        q = select(AccessLog)
        for key, value in where.items():
            q = q.where(getattr(AccessLog, key) == value)
        return list(session.exec(q.order_by(AccessLog.id)).all())  # type: ignore[arg-type]


async def test_only_roles_that_see_phones_may_filter_by_phone_and_it_is_recorded(api, tokens, engine) -> None:
    case_no = await new_case(api, tokens, complainant={"name": "李雷", "phone": "13912345678"})
    auditor = await api.get(URL, params={"case_no": case_no, "phone": "13912345678"},
                            headers=auth(tokens["auditor"]))
    assert auditor.status_code == 403 and "filter by phone" in auditor.json()["message"]
    sup = token(engine, Role.SUPERVISOR)
    r = await api.get(URL, params={"case_no": case_no, "phone": "13912345678"}, headers=auth(sup))
    assert r.status_code == 200 and case_no in r.text
    (entry,) = [e for e in entries(engine, action="export") if e.detail["filters"].get("case_no") == case_no]
    assert entry.role == "supervisor" and entry.detail["unmasked"] is False and entry.rows == 1
    assert entry.detail["filters"]["phone"] == "<given>"  # the number itself is not logged
    assert "13912345678" not in canonical(entry.detail)


@asynccontextmanager
async def limited_api(settings, client, address: str, **limits: int):  # type: ignore[no-untyped-def]
    """The app with these rate limits, called from its own client address."""
    from api.app import create_app

    app = create_app(settings.model_copy(update={"rate_limits": settings.rate_limits | limits}), client)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_personal_reads_are_rate_limited(settings, client, worker, engine) -> None:
    sup = token(engine, Role.SUPERVISOR)
    async with limited_api(settings, client, "10.0.0.1", personal_reads=PERSONAL_READS_PER_MINUTE) as api:
        answers = [(await api.get(URL, params={"case_no": "none", "unmask": "true"}, headers=auth(sup))).status_code
                   for _ in range(PERSONAL_READS_PER_MINUTE + 1)]
        assert answers[:-1] == [200] * PERSONAL_READS_PER_MINUTE and answers[-1] == 429
        last = await api.get(URL, params={"case_no": "none", "unmask": "true"}, headers=auth(sup))
        assert last.status_code == 429 and last.headers.get("Retry-After") and last.json()["code"] == "rate_limited"
        masked = await api.get(URL, params={"case_no": "none"}, headers=auth(sup))
        assert masked.status_code == 200  # masked exports without personal filters are not limited


async def test_tracking_lookups_are_rate_limited_per_address(settings, client, worker) -> None:
    async with limited_api(settings, client, "10.0.0.2", tracking=5) as api:
        answers = [(await api.get("/api/v1/track/NOSUCHCODE")).status_code for _ in range(6)]
    assert answers == [404] * 5 + [429]
    async with limited_api(settings, client, "10.0.0.3", tracking=5) as api:  # another address: its own count
        assert (await api.get("/api/v1/track/NOSUCHCODE")).status_code == 404


async def test_repeated_failed_authentications_lock_the_address_out(settings, client, worker, tokens) -> None:
    async with limited_api(settings, client, "10.0.0.4", failed_auth=3) as api:
        bad = [(await api.get("/api/v1/cases", headers={"Authorization": "Bearer jsk_wrong"})).status_code
               for _ in range(4)]
        assert bad == [401, 401, 401, 429]
        locked = await api.get("/api/v1/cases", headers=auth(tokens["supervisor"]))
        assert locked.status_code == 429 and locked.json()["code"] == "locked_out"  # even with a good token
        assert int(locked.headers["Retry-After"]) > 60
    async with limited_api(settings, client, "10.0.0.5", failed_auth=3) as api:
        assert (await api.get("/api/v1/cases", headers=auth(tokens["supervisor"]))).status_code == 200


async def test_the_intake_fingerprint_is_keyed_and_never_served(api, tokens, engine) -> None:
    body = complaint()
    r = await api.post("/api/v1/cases", json=body, headers=auth(tokens["intake"]))
    assert r.status_code == 201
    case_no = r.json()["case_no"]
    unkeyed = hashlib.sha256(canonical(CaseCreate(**body).model_dump(mode="json", exclude_unset=True))
                             .encode()).hexdigest()
    with Session(engine) as session:
        stored = session.exec(select(Case).where(Case.case_no == case_no)).one()
    assert stored.intake_hash and stored.intake_hash != unkeyed  # guesses of name and phone need the key
    assert (await api.post("/api/v1/cases", json=body, headers=auth(tokens["intake"]))).status_code == 200
    other = body | {"description": "另一件事"}
    assert (await api.post("/api/v1/cases", json=other, headers=auth(tokens["intake"]))).status_code == 409
    case = (await api.get(f"/api/v1/cases/{case_no}", headers=auth(tokens["supervisor"]))).json()
    assert "intake_hash" not in case and stored.intake_hash not in str(case)


async def test_a_row_with_the_old_unkeyed_fingerprint_still_recognises_its_retry(api, tokens, engine) -> None:
    body = complaint()
    r = await api.post("/api/v1/cases", json=body, headers=auth(tokens["intake"]))
    case_no = r.json()["case_no"]
    with Session(engine) as session:
        row = session.exec(select(Case).where(Case.case_no == case_no)).one()
        row.intake_hash = hashlib.sha256(canonical(CaseCreate(**body).model_dump(mode="json", exclude_unset=True))
                                         .encode()).hexdigest()
        session.add(row)
        session.commit()
    assert (await api.post("/api/v1/cases", json=body, headers=auth(tokens["intake"]))).status_code == 200


async def test_the_archive_api_serves_no_ciphertext_or_hashes_and_records_the_read(api, tokens, engine) -> None:
    case_no = await new_case(api, tokens)
    sup = auth(tokens["supervisor"])
    await api.post(f"/api/v1/cases/{case_no}/terminate", json={"reason_code": "UNREACHABLE", "text": "无法联系"},
                   headers=sup)
    await case_when(api, tokens["supervisor"], case_no, lambda c: c["status"] == "archived")
    r = await api.get(f"/api/v1/cases/{case_no}/archive", headers=auth(tokens["auditor"]))
    assert r.status_code == 200
    served = r.json()["file"]["case"]
    assert not {"name_enc", "phone_enc", "phone_hash", "intake_hash", "tracking_code"} & set(served)
    assert served["name_masked"] and served["category"] == "CXJS01"
    (entry,) = entries(engine, action="archive_read", case_no=case_no)
    assert entry.role == "auditor"


async def test_the_access_log_is_a_chain_auditors_read(api, tokens, engine) -> None:
    case_no = await new_case(api, tokens)
    await api.get(URL, params={"case_no": case_no, "unmask": "true"}, headers=auth(tokens["handler"]))
    r = await api.get("/api/v1/access-log", params={"action": "export"}, headers=auth(tokens["auditor"]))
    assert r.status_code == 200 and r.json()["verified"] is True and r.json()["count"] >= 1
    assert r.json()["data"][0]["detail"]["unmasked"] is True
    assert (await api.get("/api/v1/access-log", headers=auth(tokens["supervisor"]))).status_code == 403
    with Session(engine) as session:  # somebody edits an entry in the database
        row = session.exec(select(AccessLog).order_by(AccessLog.id)).first()
        assert row is not None
        original = dict(row.detail)
        row.detail = {**row.detail, "rows_hidden": True}
        session.add(row)
        session.commit()
        assert any("altered" in p for p in verify_access_log(session))
        row.detail = original
        session.add(row)
        session.commit()
        assert verify_access_log(session) == []


async def test_another_departments_idempotency_key_is_no_key_to_its_reply(api, tokens) -> None:
    case_no = await new_case(api, tokens)
    url, lead, partner = f"/api/v1/cases/{case_no}", auth(tokens["handler"]), auth(tokens["partner"])
    assert (await api.post(f"{url}/sign-for", json={}, headers=lead)).is_success
    r = await api.post(f"{url}/partners", json={"requests": [{"department": "xicheng-sthj", "question": "请核实"}]},
                       headers=lead)
    assert r.status_code == 200, r.text
    key = {"Idempotency-Key": f"{case_no}-partner-reply"}
    first = await api.post(f"{url}/partner-replies", json={"content": "已核实"}, headers=partner | key)
    assert first.status_code == 200, first.text
    assert (await api.post(f"{url}/partner-replies", json={"content": "已核实"}, headers=partner | key)).status_code \
        == 200  # the partner's own retry: the first answer
    replay = await api.post(f"{url}/partner-replies", json={"content": "x"},
                            headers=auth(tokens["other_handler"]) | key)
    assert replay.status_code == 403


async def test_a_handler_sees_its_own_departments_hotspots_and_no_city_wide_spikes(api, tokens) -> None:
    await new_case(api, tokens)  # xicheng-cgzf
    await new_case(api, tokens, category="HJBH01", description="工厂排放异味")  # another department's case
    handler = auth(tokens["handler"])
    mine = await api.get("/api/v1/reports/hotspots", params={"period": "day"}, headers=handler)
    assert mine.status_code == 200 and {h["category"] for h in mine.json()["data"]} <= {"CXJS01", "CXJS02",
                                                                                      "HJBH02"}
    city = await api.get("/api/v1/reports/hotspots", params={"period": "day"}, headers=auth(tokens["supervisor"]))
    assert "HJBH01" in {h["category"] for h in city.json()["data"]}
    top = await api.get("/api/v1/reports/top-problems", headers=handler)
    assert "HJBH01" not in {p["category"] for p in top.json()["data"]}
    assert (await api.get("/api/v1/reports/spikes", headers=handler)).status_code == 403
    assert (await api.get("/api/v1/reports/spikes", headers=auth(tokens["auditor"]))).status_code == 200
