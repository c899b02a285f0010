"""Bad input gets a clear {"code", "message"} with the right status and stores nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from core.admin_models import ApiKey
from core.columns import utcnow
from core.contracts import Role
from core.db import session_scope
from core.models import Case
from services.keys import create_key
from tests.helpers import auth, complaint

pytestmark = pytest.mark.temporal


def case_count(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(Case)).one()


@pytest.mark.parametrize(("change", "status", "code", "words"), [
    ({"category": "NOPE01"}, 422, "unknown_reference", "unknown category"),
    ({"district": "shanghai"}, 422, "unknown_reference", "unknown district"),
    ({"street": "不存在街道"}, 422, "unknown_reference", "unknown street"),
    ({"complainant": {"name": "张三", "phone": "12345"}}, 422, "validation_error", "phone"),
    ({"description": "长" * 5001}, 422, "validation_error", "description"),
    ({"kind": "闲聊"}, 422, "validation_error", "kind"),
    ({"surprise": 1}, 422, "validation_error", "surprise"),
    ({"received_at": "2026-11-21T09:00:00"}, 422, "validation_error", "time zone"),
    ({"external_id": "has spaces"}, 422, "validation_error", "external_id"),
])
async def test_invalid_complaints_are_refused_and_nothing_is_stored(api, tokens, engine, change, status, code,
                                                                    words) -> None:
    before = case_count(engine)
    r = await api.post("/api/v1/cases", json=complaint(**change), headers=auth(tokens["intake"]))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code and words in r.json()["message"]
    assert case_count(engine) == before


async def test_malformed_json_wrong_content_type_and_oversized_body(api, tokens) -> None:
    headers = auth(tokens["intake"])
    json_type = {"content-type": "application/json"}
    r = await api.post("/api/v1/cases", content=b'{"external_id": ', headers=headers | json_type)
    assert r.status_code == 400 and r.json()["code"] == "malformed_json"
    r = await api.post("/api/v1/cases", content=b"external_id=1", headers=headers | {"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = await api.post("/api/v1/cases", content=b"{" + b" " * 300_000 + b"}",
                       headers=headers | json_type)
    assert r.status_code == 413 and r.json()["code"] == "too_large"


async def test_tokens_missing_invalid_revoked_expired(api, engine) -> None:
    with session_scope(engine) as s:
        revoked, revoked_token = create_key(s, role=Role.INTAKE, department=None)
        revoked.revoked_at = utcnow()
        expired, expired_token = create_key(s, role=Role.INTAKE, department=None)
        expired.expires_at = utcnow() - timedelta(minutes=1)  # as if its lifetime had passed
    for headers, words in [({}, "required"), (auth("jsk_not-a-token"), "invalid"),
                           (auth(revoked_token), "revoked"), (auth(expired_token), "expired")]:
        r = await api.get("/api/v1/cases", headers=headers)
        assert r.status_code == 401 and words in r.json()["message"], r.text
    with Session(engine) as s:
        stored = s.exec(select(ApiKey.token_hash)).all()
    assert revoked_token not in stored and expired_token not in stored  # only hashes are stored


async def test_public_endpoints_and_unknown_things(api, tokens) -> None:
    assert (await api.get("/api/v1/health")).json() == {"status": "ok", "database": "ok"}
    assert (await api.get("/openapi.json")).status_code == 200
    r = await api.get("/api/v1/track/NOSUCHCODE")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await api.get("/api/v1/cases/2000010100000000", headers=auth(tokens["supervisor"]))
    assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "case 2000010100000000 not found"}
    r = await api.post("/api/v1/cases", json=complaint(), headers=auth(tokens["handler"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


async def test_injection_strings_are_stored_and_returned_inert(api, tokens) -> None:
    evil = "'); DROP TABLE \"case\"; -- <script>alert(1)</script>"
    r = await api.post("/api/v1/cases", json=complaint(description=evil, address=evil), headers=auth(tokens["intake"]))
    assert r.status_code == 201, r.text
    case = (await api.get(f"/api/v1/cases/{r.json()['case_no']}", headers=auth(tokens["intake"]))).json()
    assert case["description"] == evil and case["address"] == evil
    assert r.headers["content-type"].startswith("application/json")


BIG = "9223372036854775808"  # one past PostgreSQL's bigint


@pytest.mark.parametrize(("role", "method", "url", "body"), [
    ("supervisor", "GET", "/api/v1/cases/2026%00", None),
    ("supervisor", "GET", "/api/v1/track/ABC%00", None),
    ("supervisor", "GET", "/api/v1/reports/cases.csv?q=a%00b", None),
    ("supervisor", "GET", f"/api/v1/cases?offset={BIG}", None),
    ("supervisor", "GET", f"/api/v1/partner-tasks?offset={BIG}", None),
    ("supervisor", "GET", f"/api/v1/reports/worklists/overdue?offset={BIG}", None),
    ("supervisor", "GET", f"/api/v1/reports/cases.csv?limit={BIG}", None),
    ("supervisor", "GET", "/api/v1/reports/top-problems?month=0000-00", None),
    ("supervisor", "GET", "/api/v1/reports/top-problems?month=2026-13", None),
    ("supervisor", "GET", "/api/v1/reports/hotspots?from=0001-01-01&to=0001-01-02", None),
    ("supervisor", "GET", "/api/v1/reports/departments?from=9999-12-01&to=9999-12-31", None),
    ("supervisor", "POST", "/api/v1/reports/spikes/check?day=0001-01-01", None),
    ("supervisor", "GET", "/api/v1/reports/dispatch-accuracy?received_from=0001-01-01T00:00:00%2B14:00", None),
    ("supervisor", "GET", "/api/v1/cases?due_before=9999-12-31T23:59:59-14:00", None),
    ("intake", "POST", "/api/v1/cases", complaint(address="楼顶\x00")),
    ("intake", "POST", "/api/v1/cases", complaint(received_at="0001-01-01T00:00:00+14:00")),
    ("handler", "POST", "/api/v1/cases/2000010100000000/reply", {"content": "已处理\x00"}),
])
async def test_input_no_database_can_take_is_422(api, tokens, role, method, url, body) -> None:
    """NUL characters (PostgreSQL refuses them; inside an action they would stall the case's projection), integers
    past bigint, days at the ends of the calendar: 422 before any query, never a 500."""
    r = await api.request(method, url, json=body, headers=auth(tokens[role]))
    assert r.status_code == 422 and r.json()["code"] == "validation_error", r.text


async def test_a_chunked_body_is_held_to_the_same_limit(api, tokens, engine) -> None:
    """Without Content-Length the size is counted while reading: too large is a 413, a good one is accepted."""
    import json

    headers = auth(tokens["intake"]) | {"content-type": "application/json"}

    async def chunks(data: bytes):  # type: ignore[no-untyped-def]
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    before = case_count(engine)
    big = b"{" + b" " * 300_000 + b"}"
    r = await api.post("/api/v1/cases", content=chunks(big), headers=headers)
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    good = json.dumps(complaint()).encode()
    r = await api.post("/api/v1/cases", content=chunks(good), headers=headers)
    assert r.status_code == 201, r.text
    assert case_count(engine) == before + 1


async def test_a_chunked_body_cut_off_by_a_disconnect_reaches_no_route() -> None:
    """A client that leaves in the middle of a body without Content-Length: nothing is applied, nothing sent."""
    from api.errors import BodyGuard

    called, sent = [], []
    messages = iter([{"type": "http.request", "body": b'{"external_id": "x", ', "more_body": True},
                     {"type": "http.disconnect"}])

    async def route(scope, receive, send):  # type: ignore[no-untyped-def]
        called.append(await receive())

    async def receive():  # type: ignore[no-untyped-def]
        return next(messages)

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/cases", "query_string": b"",
             "headers": [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")]}
    await BodyGuard(route)(scope, receive, send)
    assert called == [] and sent == []
