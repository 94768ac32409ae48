"""The web console in real headless Chromium (Debian's, driven by Playwright over CDP)."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.async_api import Page, async_playwright

from sandbox.slack.server import SlackEmulator
from tests.sandbox_support import ThreadedSandbox
from tests.test_slack_app import slack, until  # noqa: F401  (the fixture is reused)

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is required: `make test` installs it"
    return found


async def _as(page: Page, user: str) -> None:
    await page.select_option("#who", user)
    await page.click(".conv:has-text('#shop')")


async def test_scale_from_the_console_with_a_two_person_approval(
        slack: SlackEmulator, sandbox: ThreadedSandbox, tmp_path: Path) -> None:  # noqa: F811
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = await browser.new_page()
        await page.goto(f"{slack.url}/?user=U0ALICE")
        await _as(page, "U0ALICE")
        await page.fill("#composer", "scale api-service to 4")
        await page.click("#send")
        approve = page.locator("button[data-action-id='approve']").first
        await approve.wait_for(timeout=20_000)
        await approve.click()
        await page.locator(".ephemeral:has-text('needs a second person')").wait_for(
            timeout=20_000)
        await _as(page, "U0BOB")
        await page.locator("button[data-action-id='approve']").first.click()
        await page.locator(".ephemeral:has-text('bob may not patch')").wait_for(timeout=20_000)
        await _as(page, "U0CAROL")
        await page.locator("button[data-action-id='approve']").first.click()
        await page.locator(".message:has-text('Succeeded')").wait_for(timeout=20_000)
        assert await page.locator("button[data-action-id='approve']").count() == 0
        await page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        await browser.close()
    replicas = sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"]["replicas"]
    assert replicas == 4
