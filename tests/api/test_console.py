"""The console over HTTP: sign-in (cookie flags, wrong tokens), sign-out and the idle timeout, CSRF on every form,
what each role sees and may not reach, a handler's case actions through the REST routes (refusals shown next to the
action), the work lists remembered per user, a supervisor's bulk action."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session

from core.columns import utcnow
from core.console_models import ConsoleSession
from core.crypto import token_hash
from tests.helpers import case_when, eventually, intake, wait_status

pytestmark = pytest.mark.temporal


async def signed_in(api: httpx.AsyncClient, token: str) -> httpx.AsyncClient:
    """The client, signed in to the console with ``token`` (its own cookie jar)."""
    http = httpx.AsyncClient(transport=api._transport, base_url="http://test")
    r = await http.post("/console/login", data={"token": token})
    assert r.status_code == 303, r.text
    return http


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def test_sign_in_sets_a_strict_http_only_cookie_and_goes_to_the_roles_home(api, tokens) -> None:
    r = await api.post("/console/login", data={"token": tokens["supervisor"]})
    assert r.status_code == 303 and r.headers["location"] == "/console/dashboard"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    api.cookies.clear()


async def test_a_wrong_token_is_refused_in_words_and_nothing_is_reachable_without_a_session(api) -> None:
    r = await api.post("/console/login", data={"token": "not-a-token"})
    assert r.status_code == 401 and "无法登录" in r.text and "set-cookie" not in r.headers
    r = await api.get("/console/work")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login?next=/console/work")
    r = await api.get("/console/cases/2026000000000001")
    assert r.status_code == 303


async def test_each_role_sees_its_own_menu_and_not_the_others_pages(api, tokens) -> None:
    handler, admin = await signed_in(api, tokens["handler"]), await signed_in(api, tokens["admin"])
    work = await handler.get("/console/work")
    assert work.status_code == 200 and "待签收" in work.text and "规则版本" not in work.text
    assert "批量操作" not in work.text  # bulk actions are the supervisor's
    assert (await handler.get("/console/rules")).status_code == 403
    assert (await handler.get("/console/dashboard")).status_code == 403
    rules = await admin.get("/console/rules")
    assert rules.status_code == 200 and "当前启用" in rules.text and "工作台" not in rules.text
    refused = await admin.get("/console/work")
    assert refused.status_code == 403 and "admin" in refused.text


async def test_every_form_needs_the_sessions_csrf_token(api, tokens) -> None:
    created = await intake(api, tokens)
    await wait_status(api, tokens["intake"], created["case_no"], "dispatched")
    handler = await signed_in(api, tokens["handler"])
    url = f"/console/cases/{created['case_no']}/act/sign-for"
    for data in ({}, {"csrf_token": "forged"}):
        r = await handler.post(url, data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    other = await signed_in(api, tokens["handler"])  # another session's token is not this one's
    page = (await other.get(f"/console/cases/{created['case_no']}")).text
    r = await handler.post(url, data={"csrf_token": csrf(page)})
    assert r.status_code == 403
    case = await case_when(api, tokens["intake"], created["case_no"])
    assert case["status"] == "dispatched"  # nothing happened


async def test_a_handler_works_a_case_and_sees_the_refusal_next_to_the_action(api, tokens) -> None:
    created = await intake(api, tokens)
    no = created["case_no"]
    await wait_status(api, tokens["intake"], no, "dispatched")
    handler = await signed_in(api, tokens["handler"])
    page = await handler.get(f"/console/cases/{no}")
    assert page.status_code == 200 and "签收" in page.text and "办结答复" not in page.text
    assert "地点：西城区 金融街街道" in page.text and "渠道 12345热线" in page.text  # names, not codes
    assert "承办单位 · 西城区城市管理综合行政执法局" in page.text  # who is signed in, in the header
    token = csrf(page.text)
    r = await handler.post(f"/console/cases/{no}/act/sign-for", data={"csrf_token": token})
    assert r.status_code == 303 and "done=" in r.headers["location"]
    await wait_status(api, tokens["intake"], no, "handling")
    page = await handler.get(f"/console/cases/{no}")
    assert "办结答复" in page.text and "记录联系" in page.text
    r = await handler.post(f"/console/cases/{no}/act/reply", data={"csrf_token": token, "content": "已处理"},
                           follow_redirects=True)
    assert "当前状态不允许（409）" in r.text and 'id="act-reply"' in r.text  # no contact yet
    assert r.text.index("当前状态不允许") > r.text.index('id="act-reply"')  # shown in the action's own card
    r = await handler.post(f"/console/cases/{no}/act/extension", data={"csrf_token": token, "working_days": "x",
                                                                        "reason": "需要"}, follow_redirects=True)
    assert "输入有误（422）" in r.text and "延长工作日" in r.text
    await handler.post(f"/console/cases/{no}/act/contacts", data={"csrf_token": token, "method": "phone",
                                                                   "summary": "电话沟通"})
    r = await handler.post(f"/console/cases/{no}/act/reply", data={"csrf_token": token, "content": "已处理完毕"},
                           follow_redirects=True)
    assert "办结答复：已完成" in r.text
    await wait_status(api, tokens["intake"], no, "replied")


async def test_the_handler_reveals_the_number_and_the_access_log_has_it(api, tokens) -> None:
    created = await intake(api, tokens)
    no = created["case_no"]
    await wait_status(api, tokens["intake"], no, "dispatched")
    handler = await signed_in(api, tokens["handler"])
    page = (await handler.get(f"/console/cases/{no}")).text
    assert "13812345678" not in page and "查看号码" in page
    r = await handler.post(f"/console/cases/{no}/reveal", data={"csrf_token": csrf(page), "reason": "电话联系"})
    assert r.status_code == 200 and "13812345678" in r.text and "已记入查阅记录" in r.text
    other = await signed_in(api, tokens["other_handler"])
    assert (await other.get(f"/console/cases/{no}")).status_code == 404
    auditor = await signed_in(api, tokens["auditor"])
    log = await auditor.get(f"/console/access-log?case_no={no}")
    assert "reveal" in log.text and "电话联系" in log.text


async def test_work_list_choices_are_remembered_per_user(api, tokens) -> None:
    handler = await signed_in(api, tokens["handler"])
    r = await handler.get("/console/work?list=handling&sort=newest&size=50&district=xicheng")
    assert r.status_code == 200
    again = await signed_in(api, tokens["handler"])  # a new session of the same user
    r = await again.get("/console/work")
    assert 'value="handling"' in r.text and '<option value="newest" selected' in r.text
    assert '<option value="xicheng" selected' in r.text and "<option selected>50</option>" in r.text
    other = await signed_in(api, tokens["other_handler"])
    assert '<option value="newest" selected' not in (await other.get("/console/work?list=handling")).text


async def test_sign_out_and_the_idle_timeout_end_a_session(api, tokens, engine) -> None:
    handler = await signed_in(api, tokens["handler"])
    page = (await handler.get("/console/work")).text
    r = await handler.post("/console/logout", data={"csrf_token": csrf(page)})
    assert r.status_code == 303 and (await handler.get("/console/work")).status_code == 303
    idle = await signed_in(api, tokens["handler"])
    cookie = idle.cookies.get("jiesu_console")
    with Session(engine) as s:
        row = s.get(ConsoleSession, token_hash(cookie or ""))
        assert row is not None
        row.last_seen_at = utcnow() - timedelta(minutes=31)
        s.add(row)
        s.commit()
    assert (await idle.get("/console/work")).status_code == 303


async def test_a_supervisor_escalates_two_cases_at_once(api, tokens) -> None:
    first, second = await intake(api, tokens), await intake(api, tokens)
    for c in (first, second):
        await wait_status(api, tokens["intake"], c["case_no"], "dispatched")
    supervisor = await signed_in(api, tokens["supervisor"])
    page = (await supervisor.get("/console/work?list=awaiting_sign_for")).text
    assert "批量操作" in page
    r = await supervisor.post("/console/bulk", follow_redirects=True, data={
        "csrf_token": csrf(page), "action": "escalate", "reason": "群众反映强烈",
        "case_no": [first["case_no"], second["case_no"]], "back": "/console/work?list=escalated"})
    assert f"{first['case_no']} 成功" in r.text and f"{second['case_no']} 成功" in r.text
    for c in (first, second):
        case = await case_when(api, tokens["supervisor"], c["case_no"], lambda c: c["escalation_level"] >= 1)
        assert case["escalation_level"] >= 1


async def test_a_double_submitted_form_records_the_contact_once(api, tokens) -> None:
    created = await intake(api, tokens)
    no = created["case_no"]
    await wait_status(api, tokens["intake"], no, "dispatched")
    handler = await signed_in(api, tokens["handler"])
    token = csrf((await handler.get(f"/console/cases/{no}")).text)
    await handler.post(f"/console/cases/{no}/act/sign-for", data={"csrf_token": token})
    await wait_status(api, tokens["intake"], no, "handling")
    page = (await handler.get(f"/console/cases/{no}")).text
    key = re.search(r'id="act-contacts".*?name="idempotency_key" value="([^"]+)"', page, re.S)
    assert key is not None
    form = {"csrf_token": token, "idempotency_key": key.group(1), "method": "phone", "summary": "电话沟通"}
    for _ in range(2):  # the second click of an impatient user
        assert (await handler.post(f"/console/cases/{no}/act/contacts", data=form)).status_code == 303
    case = await case_when(api, tokens["intake"], no, lambda c: any(e["type"] == "contacted" for e in c["timeline"]))
    assert sum(e["type"] == "contacted" for e in case["timeline"]) == 1


async def test_a_supervisor_decides_an_extension_in_place_on_the_request_list(api, tokens) -> None:
    from tests.helpers import auth

    created = await intake(api, tokens, urgency="复杂")
    no, lead = created["case_no"], auth(tokens["handler"])
    await wait_status(api, tokens["intake"], no, "dispatched")
    assert (await api.post(f"/api/v1/cases/{no}/sign-for", json={}, headers=lead)).is_success
    supervisor = await signed_in(api, tokens["supervisor"])
    assert no not in (await supervisor.get("/console/work?list=extension_requests")).text
    r = await api.post(f"/api/v1/cases/{no}/extension", json={"working_days": 3, "reason": "需现场勘测"},
                       headers=lead)
    assert r.status_code == 200, r.text
    await case_when(api, tokens["supervisor"], no, lambda c: any(e["type"] == "extension_requested"
                                                                 for e in c["timeline"]))
    page = (await supervisor.get("/console/work?list=extension_requests")).text
    assert no in page and f"/console/cases/{no}/act/extension/decision" in page
    r = await supervisor.post(f"/console/cases/{no}/act/extension/decision", follow_redirects=True, data={
        "csrf_token": csrf(page), "approve": "true", "back": "/console/work?list=extension_requests"})
    assert f"{no} 审批延期：已完成" in r.text and "/console/work?list=extension_requests" in str(r.url)
    case = await case_when(api, tokens["supervisor"], no, lambda c: any(e["type"] == "extension_approved"
                                                                        for e in c["timeline"]))
    assert case["status"] == "handling"
    page = (await supervisor.get("/console/work?list=extension_requests")).text
    assert f"/console/cases/{no}/act/extension/decision" not in page  # decided: off the list


async def test_htmx_refreshes_only_the_rows_of_a_work_list(api, tokens) -> None:
    handler = await signed_in(api, tokens["handler"])
    full = (await handler.get("/console/work?list=awaiting_sign_for")).text
    assert 'hx-trigger="every 30s' in full and "<html" in full
    rows = await handler.get("/console/work?list=awaiting_sign_for", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and rows.text.lstrip().startswith("{#") is False
    assert '<tbody id="rows"' in rows.text and "<html" not in rows.text and "筛选" not in rows.text
    assert (await handler.get("/console/static/htmx.min.js")).headers["content-type"].startswith("text/javascript")


async def test_the_dashboard_shows_each_departments_three_rates(api, tokens) -> None:
    from tests.helpers import auth, replied_case

    created = await replied_case(api, tokens)
    r = await api.post(f"/api/v1/cases/{created['case_no']}/review", headers=auth(tokens["intake"]),
                       json={"contacted": True, "resolution": "解决", "satisfaction": "满意"})
    assert r.status_code == 200, r.text
    await wait_status(api, tokens["intake"], created["case_no"], "archived")
    supervisor = await signed_in(api, tokens["supervisor"])
    page = (await supervisor.get("/console/dashboard")).text
    row = re.search(r"<tr><td>西城区城市管理综合行政执法局</td>(.*?)</tr>", page, re.S)
    assert row is not None, "the lead department has no row in the 三率 table"
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    assert len(cells) == 5 and all(c.endswith("%") for c in cells[1:]), cells  # 响应 解决 满意 综合
    assert "<svg" in page and "趋势图" in page and "热力图" in page


async def test_the_rules_check_without_htmx_gives_the_editor_back_with_the_text_as_sent(api, tokens) -> None:
    admin = await signed_in(api, tokens["admin"])
    editor = await admin.get("/console/rules/edit")
    assert editor.status_code == 200 and 'id="publish-button"' in editor.text
    text = textarea(editor.text)
    assert text.startswith("# ") and 'version: "2026.3"' in text  # the YAML as stored, its first line first
    broken = "\n" + text.replace("workday_end_hour: 18", "workday_end_hour: 99", 1)  # a leading blank line too
    assert broken != "\n" + text
    form = {"csrf_token": csrf(editor.text), "text": broken, "base": "2026.3"}
    page = await admin.post("/console/rules/check", data=form)  # a plain form post: a whole page
    assert page.status_code == 200 and 'id="publish-button"' in page.text and "底稿 2026.3" in page.text
    assert textarea(page.text) == broken  # the text as sent, to the byte
    problems = re.findall(r'<li class="problem"[^>]*>(.*?)</li>', page.text, re.S)
    assert len(problems) == 1 and "workday_end_hour" in problems[0], problems
    panel = await admin.post("/console/rules/check", data=form, headers={"HX-Request": "true"})
    assert panel.status_code == 200 and "workday_end_hour" in panel.text and "<textarea" not in panel.text


def textarea(page: str) -> str:
    """The text of the page's textarea as a browser reads it (entities decoded, one newline after the tag
    dropped, as HTML parsing does)."""
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
    assert match, "the page has no textarea"
    text = html.unescape(match.group(1))
    return text[1:] if text.startswith("\n") else text


async def test_a_partner_department_sees_its_request_with_the_place_and_the_lead_by_name(api, tokens) -> None:
    created = await intake(api, tokens)
    no, lead = created["case_no"], {"Authorization": f"Bearer {tokens['handler']}"}
    assert (await api.post(f"/api/v1/cases/{no}/sign-for", json={}, headers=lead)).is_success
    r = await api.post(f"/api/v1/cases/{no}/partners", json={"requests": [
        {"department": "xicheng-sthj", "question": "请核查扬尘监测情况"}]}, headers=lead)
    assert r.status_code == 200, r.text
    partner = await signed_in(api, tokens["partner"])

    async def page() -> httpx.Response:
        return await partner.get(f"/console/cases/{no}")

    shown = await eventually(page, 10, until=lambda p: p.status_code == 200, what="the partner's page")
    assert "请核查扬尘监测情况" in shown.text and "地点：西城区 金融街街道" in shown.text
    assert "主办单位 西城区城市管理综合行政执法局" in shown.text and "13812345678" not in shown.text


async def test_the_dashboard_names_a_spikes_category_and_district(api, tokens, engine) -> None:
    from api.routes.reports import today
    from core.admin_models import SpikeWarning

    # a category no other test files cases in, begun two days ago: nothing the spike check finds today collides
    with Session(engine) as session:
        for district in ("*", "dongcheng"):
            session.add(SpikeWarning(category="SCGL03", district=district, first_day=today() - timedelta(days=2),
                                     last_day=today(), count=90, baseline=12.0, peak=90, rules_version="2026.3"))
        session.commit()
    supervisor = await signed_in(api, tokens["supervisor"])
    page = (await supervisor.get("/console/dashboard")).text
    assert "价格违法 · 全市：" in page and "价格违法 · 东城区：" in page and "SCGL03 ·" not in page
