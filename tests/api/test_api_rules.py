"""Rules over REST against the dev server: publish, read, activate, diff, validate; pinning; migration; screening,
urgency keywords and special groups at intake; department-level work never reassigned to a street.

Tests marked `history` record screened.json and rules_migrated.json (`jiesu histories record`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.client import Client

from core.admin_models import RuleAudit
from core.contracts import workflow_id
from core.models import Notice
from rules.engine import RulesEngine
from rules.parse import parse_rules
from rules.schema import Limit
from tests.helpers import auth, case_when, complaint, eventually, record, wait_status
from tests.helpers import intake as create

pytestmark = pytest.mark.temporal
SHIPPED = Path(__file__).parents[2] / "rules" / "versions" / "2026.3.yaml"
BASE = "2026.3"
YAML = {"Content-Type": "application/yaml"}


def variant(version: str, *, shorter: bool = False) -> str:
    """The shipped 2026.3 under another version; ``shorter``: 一般 3 working days, sign-for 1 h, JTGL02 → 区城管委."""
    text = SHIPPED.read_text(encoding="utf-8").replace('version: "2026.3"', f'version: "{version}"')
    if shorter:
        for old, new in (("    一般: {working_days: 5}", "    一般: {working_days: 3}"),
                         ("sign_for: {hours: 2, ", "sign_for: {hours: 1, "),
                         ("{category: JTGL02, lead: bj-jtw}", '{category: JTGL02, lead: "{district}-cgw"}')):
            assert old in text
            text = text.replace(old, new)
    return text


def new_version() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


async def publish(api: httpx.AsyncClient, admin: dict, text: str) -> httpx.Response:
    return await api.post("/api/v1/rules", content=text.encode(), headers=admin | YAML)


async def activate(api: httpx.AsyncClient, admin: dict, version: str) -> None:
    r = await api.post(f"/api/v1/rules/{version}/activate", headers=admin)
    assert r.status_code == 200, r.text


async def wait_event(api: httpx.AsyncClient, token: str, case_no: str, type_: str) -> dict:
    """The first timeline event of a type, once projected (at most 20 s)."""
    case = await case_when(api, token, case_no, lambda c: any(e["type"] == type_ for e in c.get("timeline", [])),
                           timeout=20, interval=0.1)
    return case | {"event": next(e for e in case["timeline"] if e["type"] == type_)}


def deadline(text: str, start: str, limit: Limit) -> datetime:
    return RulesEngine(parse_rules(text)).deadline(datetime.fromisoformat(start), limit)


async def test_publish_read_list_and_immutability(api, tokens, engine) -> None:
    admin, version = auth(tokens["admin"]), new_version()
    text = variant(version)
    r = await publish(api, admin, text)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == version and body["active"] is False and len(body["sha256"]) == 64
    assert (await publish(api, admin, text)).status_code == 200  # the identical text again: nothing new
    changed = await publish(api, admin, text.replace("max_rounds: 2", "max_rounds: 3"))
    assert changed.status_code == 409 and changed.json()["code"] == "version_exists"

    read = await api.get(f"/api/v1/rules/{version}", headers=auth(tokens["auditor"]))
    assert read.status_code == 200 and read.text == text
    assert read.headers["etag"] == f'"{body["sha256"]}"' and read.headers["content-type"].startswith("application/yaml")
    listed = (await api.get("/api/v1/rules", headers=auth(tokens["supervisor"]))).json()
    assert version in [v["version"] for v in listed["data"]] and listed["active"] == BASE
    assert (await api.get("/api/v1/rules/nope", headers=admin)).status_code == 404

    assert (await publish(api, auth(tokens["supervisor"]), variant(new_version()))).status_code == 403
    assert (await api.get("/api/v1/rules", headers=auth(tokens["handler"]))).status_code == 403
    as_json = await api.post("/api/v1/rules", json={"yaml": text}, headers=admin)
    assert as_json.status_code == 415 and as_json.json()["code"] == "unsupported_media_type"
    with Session(engine) as session:
        rows = session.exec(select(RuleAudit).where(RuleAudit.version == version)).all()
    assert [(a.action, a.actor) for a in rows] == [("publish", rows[0].actor)] and rows[0].actor != "cli"


async def test_invalid_rules_are_refused_with_positions_and_not_stored(api, tokens) -> None:
    admin, version = auth(tokens["admin"]), new_version()
    text = variant(version).replace("{category: JTGL02, lead: bj-jtw}", "{category: JTGL02, lead: bj-nowhere}")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "bj-nowhere" in t)
    for path in ("/api/v1/rules/validate", "/api/v1/rules"):
        r = await api.post(path, content=text.encode(), headers=admin | YAML)
        assert r.status_code == 422 and r.json()["code"] == "invalid_rules", r.text
        errors = r.json()["errors"]
        assert [(e["path"], e["line"]) for e in errors] == [("routes.5.lead", line)]
        assert "bj-nowhere" in errors[0]["message"] and errors[0]["column"] > 1
    assert (await api.get(f"/api/v1/rules/{version}", headers=admin)).status_code == 404
    broken = await api.post("/api/v1/rules/validate", content=b"routes: [\n", headers=admin | YAML)
    assert broken.status_code == 422 and broken.json()["errors"][0]["path"] == "$"
    ok = await api.post("/api/v1/rules/validate", content=variant(version).encode(), headers=admin | YAML)
    assert ok.status_code == 200 and ok.json()["valid"] is True and ok.json()["version"] == version
    empty = await api.post("/api/v1/rules/validate", content=b"", headers=admin | YAML)
    assert empty.status_code == 400


async def test_diff_of_two_versions(api, tokens) -> None:
    admin, version = auth(tokens["admin"]), new_version()
    assert (await publish(api, admin, variant(version, shorter=True))).status_code == 201
    r = await api.get("/api/v1/rules/diff", params={"from": BASE, "to": version}, headers=admin)
    assert r.status_code == 200, r.text
    changes = {c["path"]: c for c in r.json()["changes"]}
    assert changes["clocks.resolution.一般.working_days"]["old"] == 5
    assert changes["clocks.resolution.一般.working_days"]["new"] == 3
    assert changes["routes[JTGL02 @ *].lead"]["new"] == "{district}-cgw"
    assert r.json()["summary"] == {"clocks": 2, "routes": 1}
    assert "5 → 3" in r.json()["text"]
    missing = await api.get("/api/v1/rules/diff", params={"from": BASE, "to": "nope"}, headers=admin)
    assert missing.status_code == 404


@pytest.mark.history
async def test_open_cases_keep_their_version_until_migrated(api, tokens, engine, client: Client) -> None:
    admin, intake, handler = auth(tokens["admin"]), auth(tokens["intake"]), auth(tokens["handler"])
    version = new_version()
    text = variant(version, shorter=True)
    signed = await create(api, tokens)  # CXJS01 → xicheng-cgzf; signed for below: keeps its department
    waiting = await create(api, tokens, category="JTGL02")  # → bj-jtw; nobody signs: the new route applies
    r = await api.post(f"/api/v1/cases/{signed['case_no']}/sign-for", json={}, headers=handler)
    assert r.status_code == 200, r.text
    assert (await publish(api, admin, text)).status_code == 201
    await activate(api, admin, version)
    try:
        old = (await api.get(f"/api/v1/cases/{signed['case_no']}", headers=intake)).json()
        received = old["received_at"]
        assert old["rules_version"] == BASE
        assert datetime.fromisoformat(old["due"]["resolution"]) == deadline(text, received, Limit(working_days=5))

        after = await create(api, tokens)
        assert after["rules_version"] == version
        assert datetime.fromisoformat(after["plan"]["due"]["resolution"]) == deadline(
            text, (await api.get(f"/api/v1/cases/{after['case_no']}", headers=intake)).json()["received_at"],
            Limit(working_days=3))

        dry = await api.post(f"/api/v1/rules/{version}/migrate", params={"dry_run": "true"}, headers=admin)
        assert dry.status_code == 200, dry.text
        with_empty_body = await api.post(f"/api/v1/rules/{version}/migrate", params={"dry_run": "true"}, json={},
                                         headers=admin)
        assert with_empty_body.status_code == 200 and with_empty_body.json()["dry_run"] is True, with_empty_body.text
        no_reason = await api.post(f"/api/v1/rules/{version}/migrate", json={}, headers=admin)
        assert no_reason.status_code == 422 and "reason" in no_reason.json()["message"]
        listed = {c["case_no"]: c for c in dry.json()["cases"]}
        assert after["case_no"] not in listed and dry.json()["migration_id"] is None
        moved = listed[signed["case_no"]]
        assert moved["department"] is None and [c["clock"] for c in moved["clocks"]] == ["resolution"]
        assert datetime.fromisoformat(moved["clocks"][0]["new_due"]) == deadline(text, received, Limit(working_days=3))
        assert listed[waiting["case_no"]]["department"] == {"from": "bj-jtw", "to": "xicheng-cgw"}
        still = (await api.get(f"/api/v1/cases/{signed['case_no']}", headers=intake)).json()
        assert still["rules_version"] == BASE and still["due"] == old["due"]  # a dry run changes nothing

        no_reason = await api.post(f"/api/v1/rules/{version}/migrate", headers=admin)
        assert no_reason.status_code == 422
        why = "2026年第3版：一般诉求办理时限缩短为3个工作日"
        run = await api.post(f"/api/v1/rules/{version}/migrate", json={"reason": why}, headers=admin)
        assert run.status_code == 200 and run.json()["migration_id"], run.text
        assert {signed["case_no"], waiting["case_no"]} <= {c["case_no"] for c in run.json()["cases"]}

        case = await wait_event(api, tokens["intake"], signed["case_no"], "rules_migrated")
        event = case["event"]
        assert event["data"]["reason"] == why and event["actor"]["role"] == "admin"
        assert (event["data"]["from_version"], event["data"]["to_version"]) == (BASE, version)
        assert datetime.fromisoformat(event["data"]["clocks"][0]["to"]) == datetime.fromisoformat(
            moved["clocks"][0]["new_due"])
        case = await wait_status_version(api, tokens["intake"], signed["case_no"], version)
        assert case["lead_department"] == "xicheng-cgzf"
        assert datetime.fromisoformat(case["due"]["resolution"]) == deadline(text, received, Limit(working_days=3))

        other = await wait_event(api, tokens["intake"], waiting["case_no"], "rules_migrated")
        assert other["event"]["data"]["department"] == {"from": "bj-jtw", "to": "xicheng-cgw"}
        assert (await wait_status_version(api, tokens["intake"], waiting["case_no"], version))[
            "lead_department"] == "xicheng-cgw"
        notices = await wait_notices(engine, waiting["case_no"], "xicheng-cgw")
        assert "西城区城市管理委员会" in notices[-1].body and "请于" in notices[-1].body
        with Session(engine) as session:
            audits = [a.action for a in session.exec(select(RuleAudit).where(RuleAudit.version == version)).all()]
        assert audits == ["publish", "activate", "migrate"]

        again = await api.post(f"/api/v1/rules/{version}/migrate", params={"dry_run": "true"}, headers=admin)
        assert not {signed["case_no"], waiting["case_no"]} & {c["case_no"] for c in again.json()["cases"]}
        await finish(api, tokens, signed["case_no"])
        await record("rules_migrated", client.get_workflow_handle(workflow_id(signed["case_no"])))
    finally:
        await activate(api, admin, BASE)


async def wait_notices(engine, case_no: str, department: str) -> list[Notice]:  # type: ignore[no-untyped-def]
    """The outbox rows of a case addressed to a department, once there (at most 20 s)."""
    def rows() -> list[Notice]:
        with Session(engine) as session:
            return list(session.exec(select(Notice).where(Notice.case_no == case_no,
                                                          Notice.department == department)).all())

    return await eventually(rows, 20, 0.1, what=f"a notice of case {case_no} to {department}")


async def wait_status_version(api: httpx.AsyncClient, token: str, case_no: str, version: str) -> dict:
    """The case once its projected rules version is ``version``."""
    return await case_when(api, token, case_no, lambda c: c["rules_version"] == version, timeout=20, interval=0.1)


async def finish(api: httpx.AsyncClient, tokens: dict, case_no: str) -> None:
    """Contact, reply and a satisfied review: the (migrated) case still runs to its archive."""
    handler, url = auth(tokens["handler"]), f"/api/v1/cases/{case_no}"
    assert (await api.post(f"{url}/contacts", json={"summary": "电话联系"}, headers=handler)).status_code == 200
    assert (await api.post(f"{url}/reply", json={"content": "已拆除"}, headers=handler)).status_code == 200
    r = await api.post(f"{url}/review", json={"resolution": "解决", "satisfaction": "满意"},
                       headers=auth(tokens["intake"]))
    assert r.status_code == 200, r.text
    await wait_status(api, tokens["intake"], case_no, "archived")


@pytest.mark.parametrize(("text", "rule", "action", "outcome", "says"), [
    pytest.param("楼道里着火了，浓烟很大", "EMERGENCY_119", "transfer", "transferred", "119",
                 marks=pytest.mark.history),  # records screened.json: proposal confirmed
    ("小区门口有人打架斗殴", "EMERGENCY_110", "transfer", "transferred", "110"),
    ("我要起诉开发商延期交房", "LEGAL_CHANNEL", "legal_channel", "legal_channel", "法定途径"),
])
async def test_a_confirmed_screening_proposal_routes_the_complaint_away(
        api, tokens, engine, client: Client, text: str, rule: str, action: str, outcome: str, says: str) -> None:
    created = await create(api, tokens, description=text)
    assert created["status"] == "screening" and created["plan"] is None
    assert created["screening"]["rule"] == rule and created["screening"]["action"] == action
    assert says in created["screening"]["reply"]
    waiting = await wait_status(api, tokens["intake"], created["case_no"], "screening")
    assert waiting["outcome"] is None and waiting["lead_department"] is None  # nothing is thrown away yet
    url = f"/api/v1/cases/{created['case_no']}/screening"
    assert (await api.post(url, json={"confirm": True}, headers=auth(tokens["handler"]))).status_code == 403
    r = await api.post(url, json={"confirm": True, "note": "接线员已核实"}, headers=auth(tokens["intake"]))
    assert r.status_code == 200, r.text
    case = await wait_status(api, tokens["intake"], created["case_no"], "archived")
    assert case["outcome"] == outcome and case["screening"] == rule and case["lead_department"] is None
    types = [e["type"] for e in case["timeline"]]
    assert types[:3] == ["accepted", "screening_proposed", "screening_confirmed"] and "screened" in types
    assert "dispatched" not in types and types[-1] == "archived"
    confirmed = next(e for e in case["timeline"] if e["type"] == "screening_confirmed")
    assert confirmed["actor"]["role"] == "intake" and confirmed["data"]["note"] == "接线员已核实"
    with Session(engine) as session:
        sms = session.exec(select(Notice).where(Notice.case_no == created["case_no"])).all()
    assert [(n.template, n.recipient) for n in sms] == [(action, "complainant")] and says in sms[0].body
    again = await api.post(url, json={"confirm": False}, headers=auth(tokens["supervisor"]))
    assert again.status_code == 409
    if rule == "EMERGENCY_119":
        await record("screened", client.get_workflow_handle(workflow_id(created["case_no"])))


@pytest.mark.history
async def test_an_overruled_proposal_is_dispatched_and_handled(api, tokens, client: Client) -> None:
    created = await create(api, tokens, description="我不打算走法律程序，但物业说让我去起诉，楼顶违建到底谁管")
    assert created["status"] == "screening" and created["screening"]["rule"] == "LEGAL_CHANNEL"
    url = f"/api/v1/cases/{created['case_no']}"
    r = await api.post(f"{url}/screening", json={"confirm": False, "note": "诉求为违建查处"},
                       headers=auth(tokens["supervisor"]))
    assert r.status_code == 200 and r.json()["status"] == "dispatched", r.text
    case = await wait_status(api, tokens["intake"], created["case_no"], "dispatched")
    assert case["lead_department"] == "xicheng-cgzf" and case["outcome"] is None and case["screening"] is None
    assert "resolution" in case["due"]
    overruled = next(e for e in case["timeline"] if e["type"] == "screening_overruled")
    assert overruled["actor"]["role"] == "supervisor" and overruled["data"]["department"] == "xicheng-cgzf"
    handler = auth(tokens["handler"])
    assert (await api.post(f"{url}/sign-for", json={}, headers=handler)).status_code == 200
    await finish(api, tokens, created["case_no"])
    await record("screening_overruled", client.get_workflow_handle(workflow_id(created["case_no"])))


async def test_the_operators_decision_can_come_with_the_complaint(api, tokens) -> None:
    away = await create(api, tokens, description="楼下饭馆着火了，火很大",
                        screening_decision={"rule": "EMERGENCY_119", "confirm": True})
    case = await wait_status(api, tokens["intake"], away["case_no"], "archived")
    assert case["outcome"] == "transferred"
    assert [e["type"] for e in case["timeline"]][:3] == ["accepted", "screening_proposed", "screening_confirmed"]
    kept = await create(api, tokens, description="我要起诉开发商，顺便反映楼顶违建",
                        screening_decision={"rule": "LEGAL_CHANNEL", "confirm": False})
    assert kept["status"] == "dispatched" and kept["plan"]["lead_department"] == "xicheng-cgzf", kept
    other_rule = await create(api, tokens, description="楼下有人打架斗殴",
                              screening_decision={"rule": "LEGAL_CHANNEL", "confirm": True})
    assert other_rule["status"] == "screening"  # a decision on another rule does not decide this proposal
    bad = await api.post("/api/v1/cases", json=complaint(screening_decision={"rule": "x y", "confirm": True}),
                         headers=auth(tokens["intake"]))
    assert bad.status_code == 422 and {"code", "message"} <= set(bad.json())


async def test_not_accepted_category(api, tokens) -> None:
    created = await create(api, tokens, category="FZZN01", description="与装修公司的合同纠纷")
    assert created["screening"] == {"rule": "NOT_OUR_FUNCTION", "action": "not_accepted", "target": None,
                                    "reply": created["screening"]["reply"]}
    url = f"/api/v1/cases/{created['case_no']}/screening"
    sup = auth(tokens["supervisor"])
    no_route = await api.post(url, json={"confirm": False}, headers=sup)
    assert no_route.status_code == 409 and "name the department" in no_route.json()["message"]
    unknown = await api.post(url, json={"confirm": False, "department": "nope"}, headers=sup)
    assert unknown.status_code == 422
    r = await api.post(url, json={"confirm": False, "department": "xicheng-scjg"}, headers=sup)
    assert r.status_code == 200, r.text
    case = await wait_status(api, tokens["intake"], created["case_no"], "dispatched")
    assert case["lead_department"] == "xicheng-scjg"


async def test_screening_work_list(api, tokens) -> None:
    created = await create(api, tokens, description="小区门口有人持刀，大家都不敢出门")
    await wait_status(api, tokens["intake"], created["case_no"], "screening")
    r = await api.get("/api/v1/reports/worklists/screening", headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text
    assert created["case_no"] in [c["case_no"] for c in r.json()["data"]]


async def test_gas_leak_is_urgent_and_special_groups_raise_priority(api, tokens) -> None:
    created = await create(api, tokens, category="GGFW01", description="楼道里闻到燃气泄漏的味道，很担心",
                           special_groups=["elderly"])
    plan = created["plan"]
    assert plan["urgency"] == "紧急" and plan["lead_department"] == "bj-zls" and created["priority"] == 1
    case = (await api.get(f"/api/v1/cases/{created['case_no']}", headers=auth(tokens["intake"]))).json()
    received = datetime.fromisoformat(case["received_at"])
    assert datetime.fromisoformat(plan["due"]["first_contact"]) == received + timedelta(hours=1)
    plain = await create(api, tokens, category="GGFW01", description="自来水水压偏低")
    assert plain["plan"]["urgency"] == "一般" and plain["priority"] == 0
    bad = await api.post("/api/v1/cases", json=complaint(special_groups=["vip"]), headers=auth(tokens["intake"]))
    assert bad.status_code == 422 and "vip" in bad.json()["message"] and "elderly" in bad.json()["message"]


async def test_department_level_work_is_never_reassigned_to_a_street(api, tokens) -> None:
    created = await create(api, tokens, category="SCGL01", district="chaoyang", street="三里屯街道",
                           description="餐馆后厨卫生状况差")
    assert created["plan"]["lead_department"] == "chaoyang-scjg"
    url = f"/api/v1/cases/{created['case_no']}/reassign"
    body = {"department": "chaoyang-sanlitun", "note": "改派街道"}
    r = await api.post(url, json=body, headers=auth(tokens["supervisor"]))
    assert r.status_code == 422 and r.json()["code"] == "level_prohibited", r.text
    r = await api.post(url, json=body | {"department": "chaoyang-cgzf"}, headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text
