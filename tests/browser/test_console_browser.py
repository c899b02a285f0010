"""Each role's main job in the console, end to end in a real browser (headless Debian chromium through Playwright):
a handler signs for, contacts, asks a partner and replies; a supervisor decides an extension and escalates two
cases at once; an admin publishes a version after fixing the problem shown at its line; an auditor opens a
verified archive. Screenshots of each role's main page go to docs/ (the README shows them)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.helpers import auth, case_when, intake, live_app, wait_status

pytestmark = pytest.mark.temporal
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).parents[2] / "docs"
SCREEN = {"width": 1280, "height": 900}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_url(settings, client, worker) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The real app on a free port of 127.0.0.1."""
    async with live_app(settings, client) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: make test installs it (apt-get chromium)"
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


async def signed_in(browser: Any, url: str, token: str) -> Any:
    """A new browser context signed in with ``token``; its page."""
    page = await (await browser.new_context(viewport=SCREEN, locale="zh-CN")).new_page()
    await page.goto(f"{url}/console/login")
    await page.fill("#token", token)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def shown(page: Any, selector: str, seconds: float = 20) -> Any:
    """Reload until ``selector`` is on the page (the projection follows the workflow within moments)."""
    import asyncio

    for _ in range(int(seconds * 4)):
        if await page.locator(selector).count():
            return page.locator(selector).first
        await asyncio.sleep(0.25)
        await page.reload()
    raise AssertionError(f"{selector} never appeared on {page.url}")


async def test_a_handler_signs_for_contacts_asks_a_partner_and_replies(api, tokens, live_url, browser) -> None:
    created = await intake(api, tokens)
    no = created["case_no"]
    await wait_status(api, tokens["intake"], no, "dispatched")
    page = await signed_in(browser, live_url, tokens["handler"])
    await page.goto(f"{live_url}/console/work?list=awaiting_sign_for&sort=newest")  # other tests' cases too
    await page.click(f"text={no}")
    assert "待签收" in await page.locator("h1").inner_text()
    await page.screenshot(path=str(DOCS / "console-handler.png"), full_page=False)
    await page.click("#act-sign-for button")
    assert "签收：已完成" in await page.locator(".done").inner_text()
    await (await shown(page, "#act-contacts")).locator("textarea[name=summary]").fill("电话联系诉求人，约定现场核查")
    await page.click("#act-contacts button")
    assert "记录联系：已完成" in await page.locator(".done").inner_text()
    await page.select_option("#act-partners select[name=departments]", ["xicheng-sthj"])
    await page.fill("#act-partners textarea[name=question]", "请核查楼顶彩钢房是否涉及油烟排放")
    await page.click("#act-partners button")
    assert "申请协办：已完成" in await page.locator(".done").inner_text()
    partner = await signed_in(browser, live_url, tokens["partner"])  # the partner replies in its own console
    await partner.goto(f"{live_url}/console/inbox")
    await (await shown(partner, f"a[href='/console/cases/{no}']")).click()
    await partner.fill("textarea[name=content]", "经核查不涉及油烟排放")
    await partner.click("button.primary")
    await case_when(api, tokens["supervisor"], no, lambda c: any(e["type"] == "partner_replied"
                                                                 for e in c["timeline"]), timeout=20)
    await page.reload()
    await page.fill("#act-reply textarea[name=content]", "经现场核查，彩钢房已责令当事人拆除。")
    await page.click("#act-reply button")
    assert "办结答复：已完成" in await page.locator(".done").inner_text()
    await wait_status(api, tokens["intake"], no, "replied")


async def test_a_supervisor_decides_an_extension_and_escalates_two_cases_at_once(api, tokens, live_url,
                                                                                 browser) -> None:
    complex_case = await intake(api, tokens, urgency="复杂")
    no, lead = complex_case["case_no"], auth(tokens["handler"])
    await wait_status(api, tokens["intake"], no, "dispatched")
    assert (await api.post(f"/api/v1/cases/{no}/sign-for", json={}, headers=lead)).is_success
    r = await api.post(f"/api/v1/cases/{no}/extension", json={"working_days": 5, "reason": "需多部门联合执法"},
                       headers=lead)
    assert r.status_code == 200, r.text
    await case_when(api, tokens["supervisor"], no, lambda c: any(e["type"] == "extension_requested"
                                                                 for e in c["timeline"]), timeout=20)
    page = await signed_in(browser, live_url, tokens["supervisor"])
    await page.screenshot(path=str(DOCS / "console-supervisor.png"), full_page=True)
    await page.goto(f"{live_url}/console/work?list=extension_requests")
    await (await shown(page, f"text={no}")).click()
    await page.select_option("#act-extension-decision select[name=approve]", "true")
    await page.fill("#act-extension-decision textarea[name=note]", "同意延期5个工作日")
    await page.click("#act-extension-decision button")
    assert "审批延期：已完成" in await page.locator(".done").inner_text()
    await case_when(api, tokens["supervisor"], no, lambda c: any(e["type"] == "extension_approved"
                                                                 for e in c["timeline"]), timeout=20)
    first, second = await intake(api, tokens), await intake(api, tokens)
    for c in (first, second):
        await wait_status(api, tokens["intake"], c["case_no"], "dispatched")
    await page.goto(f"{live_url}/console/work?list=awaiting_sign_for&sort=newest&size=100")
    for c in (first, second):
        await page.check(f"input[name=case_no][value='{c['case_no']}']")
    await page.select_option("select[name=action]", "escalate")
    await page.fill("input[name=reason]", "同一楼栋集中反映")
    await page.click("#bulk button.primary")
    outcome = await page.locator(".done").inner_text()
    assert f"{first['case_no']} 成功" in outcome and f"{second['case_no']} 成功" in outcome
    for c in (first, second):
        await case_when(api, tokens["supervisor"], c["case_no"], lambda c: c["escalation_level"] >= 1, timeout=20)


async def test_an_admin_fixes_the_problem_shown_at_its_line_and_publishes(api, tokens, live_url, browser) -> None:
    page = await signed_in(browser, live_url, tokens["admin"])
    assert "当前启用" in await page.locator("table").inner_text()
    await page.screenshot(path=str(DOCS / "console-admin.png"), full_page=False)
    await page.click("text=基于当前版本编辑新版本")
    text = await page.input_value("#rules-text")
    version = f"console-{uuid.uuid4().hex[:8]}"
    lines = text.splitlines()
    bad_line = next(i for i, line in enumerate(lines) if line.startswith("workday_end_hour:")) + 1
    broken = text.replace('version: "2026.3"', f'version: "{version}"', 1).replace(
        "workday_end_hour: 18", "workday_end_hour: 99", 1)
    await page.fill("#rules-text", broken)
    await page.click("#check-button")
    problem = page.locator("#problems li").first
    await problem.wait_for()
    assert f"第 {bad_line} 行" in await problem.inner_text() and "workday_end_hour" in await problem.inner_text()
    await page.click("#publish-button")  # published with the problem: refused, the editor keeps the text
    assert "输入有误（422）" in await page.locator(".error").first.inner_text()
    assert f'version: "{version}"' in await page.input_value("#rules-text")
    await page.fill("#rules-text", broken.replace("workday_end_hour: 99", "workday_end_hour: 18", 1))
    await page.click("#check-button")
    await page.locator("#check .done").wait_for()
    await page.click("#publish-button")
    assert f"版本 {version} 已发布" in await page.locator(".done").inner_text()
    assert version in await page.locator("table").inner_text()
    listing = (await api.get("/api/v1/rules", headers=auth(tokens["admin"]))).json()
    assert version in [v["version"] for v in listing["data"]] and listing["active"] != version


async def test_an_auditor_opens_a_verified_archive(api, tokens, live_url, browser) -> None:
    created = await intake(api, tokens)
    no = created["case_no"]
    await wait_status(api, tokens["intake"], no, "dispatched")
    r = await api.post(f"/api/v1/cases/{no}/terminate", json={"reason_code": "DUPLICATE", "text": "重复诉求"},
                       headers=auth(tokens["supervisor"]))
    assert r.status_code == 200, r.text
    await wait_status(api, tokens["supervisor"], no, "archived")
    page = await signed_in(browser, live_url, tokens["auditor"])
    await page.fill("#archive-case-no", no)
    await page.click("text=打开档案")
    state = page.locator("#chain-state")
    assert "哈希链完整" in await state.inner_text() and await state.get_attribute("class") == "verified"
    await page.screenshot(path=str(DOCS / "console-auditor.png"), full_page=False)
