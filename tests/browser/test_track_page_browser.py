"""The complainant's page in a real browser (headless Debian chromium through Playwright, at a phone's width):
the steps and the department, the last four digits, the evaluation form closing the case; a screenshot for the
README (docs/track-page.png)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.helpers import PHONE, case_when, live_app, replied_case, wait_status

pytestmark = pytest.mark.temporal
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = Path(__file__).parents[2] / "docs" / "track-page.png"
PHONE_SCREEN = {"width": 390, "height": 844}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def live_url(settings, client, worker) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """The real app on a free port of 127.0.0.1."""
    async with live_app(settings, client) as url:
        yield url


async def test_the_complainant_evaluates_on_a_phone(api, tokens, live_url, tmp_path) -> None:
    from playwright.async_api import async_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: make test installs it (apt-get chromium)"
    created = await replied_case(api, tokens, "经现场核查，彩钢房已全部拆除。")
    await wait_status(api, tokens["intake"], created["case_no"], "replied")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport=PHONE_SCREEN, locale="zh-CN")
        await page.goto(f"{live_url}/t/{created['tracking_code']}")
        assert await page.locator(".status").inner_text() == "已答复待回访"
        assert "西城区城市管理综合行政执法局" in await page.content()
        await page.fill("#d", PHONE[-4:])
        await page.click("button:has-text(\"查看\")")
        await page.wait_for_selector("text=请您评价")
        assert "彩钢房已全部拆除" in await page.content()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE_SCREEN["width"]  # nothing wider than the phone
        shot = tmp_path / "track-page.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("JIESU_SCREENSHOTS"):  # refresh the README's picture: JIESU_SCREENSHOTS=1 make test
            shutil.copy(shot, SCREENSHOT)
        await page.select_option("#resolution", "解决")
        await page.select_option("#satisfaction", "基本满意")
        await page.fill("#note", "拆得很彻底")
        await page.click("button:has-text(\"提交评价\")")
        await page.wait_for_selector("text=感谢您的评价")
        await browser.close()
    case = await case_when(api, tokens["supervisor"], created["case_no"],
                           lambda c: c["status"] in ("closed", "archived"))
    assert case["satisfaction"] == "基本满意" and case["resolution"] == "解决"
