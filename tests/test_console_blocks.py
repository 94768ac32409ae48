"""Block Kit and mrkdwn in the web console, in real headless Chromium: what the demo shows is
what Slack shows, and message content (untrusted) never becomes markup or script.

Messages are posted as the bot through the emulator's Web API (validated like Slack's), or put
in its state when slack_sdk would refuse them; clicks are asserted on the Socket Mode envelopes
the emulator delivered to a real slack_sdk Socket Mode client.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, async_playwright
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, SlackEmulator, slack_emulator
from sandbox.slack.state import BOT_USER
from tests.slack_support import people, until
from tests.test_console_browser import CHROMIUM_FLAGS, chromium

SHOP = "C0SHOP"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> str:
    """A one-colour PNG as a data: URL (the tests run offline)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    raw = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(raw).decode()


@dataclass
class Console:
    slack: SlackEmulator
    web: AsyncWebClient
    page: Page

    async def post(self, text: str, blocks: list[dict[str, Any]]) -> str:
        posted = await self.web.chat_postMessage(channel=SHOP, text=text, blocks=blocks)
        return str(posted["ts"])

    async def open(self, ts: str) -> Locator:
        """The console as alice in #shop, once the message ``ts`` is on screen."""
        await self.page.goto(f"{self.slack.url}/?user=U0ALICE")
        await self.page.select_option("#who", "U0ALICE")
        await self.page.click(".conv:has-text('#shop')")
        message = self.page.locator(f".message[data-ts='{ts}']")
        await message.wait_for(timeout=10_000)
        return message

    def clicks(self) -> list[dict[str, Any]]:
        return [e["payload"]["actions"][0] for e in self.slack.hub.delivered
                if e["type"] == "interactive"]


@pytest.fixture
async def console(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Console]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    async with slack_emulator() as slack:
        people(slack)
        web = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
        socket = SocketModeClient(app_token=APP_TOKEN, web_client=web,
                                  auto_reconnect_enabled=False)

        async def ack(client: SocketModeClient, request: SocketModeRequest) -> None:
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))

        socket.socket_mode_request_listeners.append(ack)
        await socket.connect()
        await until(lambda: slack.hub.connections)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            yield Console(slack, web, page)
            await browser.close()
        await socket.close()


def text(kind: str, value: str) -> dict[str, Any]:
    return {"type": kind, "text": value}


def button(label: str, action_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": text("plain_text", label), "action_id": action_id,
            "value": f"{action_id}-value", **extra}


TABLE = ("NAME            READY   STATUS    RESTARTS\n"
         "api-7f9c-x2k    1/1     Running   0\n"
         "web-5d4b-p8q    0/1     CrashLoopBackOff   12   " + "x" * 160)
RICH = [
    {"type": "header", "text": text("plain_text", "Deploy api-service v2.4")},
    {"type": "section",
     "text": text("mrkdwn", "*Bold* _italic_ ~struck~ `kubectl get pods` asked by <@U0BOB> "
                            "for <@U0NOBODY> in <#C0SHOP>: see <https://example.com/docs|the docs>"
                            " or <https://example.com/q?a=1&amp;b=2>; a &lt; b &amp;&amp; c &gt; d"
                            "\n&gt; quoted line\n• first point\n- second point\n"
                            f"```{TABLE}```"),
     "accessory": button("Details", "details")},
    {"type": "section", "fields": [text("mrkdwn", "*Namespace*\nshop"),
                                   text("mrkdwn", "*Replicas*\n3 → 4"),
                                   text("mrkdwn", "*Risk*\nmedium"),
                                   text("plain_text", "Cost\n+12.40 USD/month")]},
    {"type": "divider"},
    {"type": "image", "image_url": png(240, 90, (18, 100, 163)), "alt_text": "CPU graph",
     "title": text("plain_text", "CPU, last hour")},
    {"type": "context", "elements": [
        {"type": "image", "image_url": png(16, 16, (0, 122, 90)), "alt_text": "ok"},
        text("mrkdwn", "dry run *passed* · action `a1b2c3`")]},
    {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
        {"type": "text", "text": "Rich ", "style": {"bold": True}},
        {"type": "user", "user_id": "U0CAROL"},
        {"type": "link", "url": "https://example.com/rich", "text": "runbook"}]}]},
    {"type": "actions", "elements": [
        button("Approve", "approve", style="primary"),
        button("Reject", "reject", style="danger"),
        button("Restart", "restart", confirm={
            "title": text("plain_text", "Restart api-service?"),
            "text": text("mrkdwn", "All *3* pods restart."),
            "confirm": text("plain_text", "Restart"),
            "deny": text("plain_text", "Keep running")})]},
]


async def css(locator: Locator, prop: str) -> str:
    return str(await locator.evaluate("(e, p) => getComputedStyle(e)[p]", prop))


async def px(locator: Locator, prop: str) -> float:
    return float((await css(locator, prop)).removesuffix("px"))


async def test_blocks_and_mrkdwn_render_as_slack_shows_them(console: Console,
                                                           tmp_path: Path) -> None:
    message = await console.open(await console.post("Deploy api-service v2.4", RICH))

    header = message.locator(".header")
    assert await header.inner_text() == "Deploy api-service v2.4"
    assert await px(header, "fontSize") > await px(message.locator(".section-text").first,
                                                   "fontSize")
    assert int(await css(header, "fontWeight")) >= 700

    fields = message.locator(".fields > .field")
    assert await fields.count() == 4
    assert len((await css(message.locator(".fields"), "gridTemplateColumns")).split()) == 2
    boxes = [await fields.nth(i).bounding_box() for i in range(4)]
    first, second, third = boxes[0], boxes[1], boxes[2]
    assert first and second and third
    assert first["y"] == second["y"] and second["x"] > first["x"] + first["width"] / 2
    assert third["y"] > first["y"] and third["x"] == first["x"]
    assert await fields.nth(3).inner_text() == "Cost\n+12.40 USD/month"

    section = message.locator(".section-text").first
    context = message.locator(".context")
    assert "dry run passed · action a1b2c3" in await context.inner_text()
    assert await px(context, "fontSize") < await px(section, "fontSize")
    assert await css(context, "color") == "rgb(97, 96, 97)"
    icon = context.locator("img.icon")
    assert (await icon.bounding_box() or {}).get("width") == 16
    assert await icon.get_attribute("alt") == "ok"

    assert await message.locator("b").first.inner_text() == "Bold"
    assert await message.locator("i").first.inner_text() == "italic"
    assert await message.locator("s").first.inner_text() == "struck"
    assert await message.locator(".section-text code").first.inner_text() == "kubectl get pods"
    assert "a < b && c > d" in await section.inner_text()
    assert await message.locator("blockquote").inner_text() == "quoted line"
    assert await message.locator(".bullet").all_inner_texts() == ["first point", "second point"]

    pre = message.locator("pre")
    assert await pre.text_content() == TABLE  # every space kept
    assert await css(pre, "whiteSpace") == "pre-wrap"  # spaces kept, long lines wrapped
    assert not await pre.evaluate("e => e.scrollWidth > e.clientWidth")  # as Slack: no scroll

    mentions = await message.locator(".mention").all_inner_texts()
    assert mentions == ["@bob", "@U0NOBODY", "#shop", "@carol"]
    links = message.locator("a")
    pairs = "as => as.map(a => [a.textContent, a.getAttribute('href')])"
    assert await links.evaluate_all(pairs) == [
        ["the docs", "https://example.com/docs"],
        ["https://example.com/q?a=1&b=2", "https://example.com/q?a=1&b=2"],
        ["runbook", "https://example.com/rich"]]

    picture = message.locator(".block-image img")
    assert await picture.get_attribute("alt") == "CPU graph"
    assert await picture.evaluate("img => img.decode().then(() => img.naturalWidth)") == 240
    assert await message.locator(".image-title").inner_text() == "CPU, last hour"

    approve, reject = message.locator("[data-action-id='approve']"), message.locator(
        "[data-action-id='reject']")
    assert await css(approve, "backgroundColor") == "rgb(0, 122, 90)"
    assert await css(reject, "backgroundColor") == "rgb(224, 30, 90)"
    restart = message.locator("[data-action-id='restart']")
    assert await css(restart, "backgroundColor") == "rgb(255, 255, 255)"
    assert await message.locator(".accessory [data-action-id='details']").count() == 1

    shot = tmp_path / "console-blocks.png"  # docs/console-blocks.png is a copy of this one
    box = await message.bounding_box()
    assert box
    await console.page.screenshot(path=str(shot), clip={
        "x": box["x"] - 12, "y": box["y"] - 8, "width": box["width"] + 24,
        "height": box["height"] + 12})
    assert shot.read_bytes().startswith(b"\x89PNG")


async def test_a_confirm_dialog_comes_first_and_deny_sends_nothing(console: Console) -> None:
    ts = await console.post("Deploy", RICH)
    message = await console.open(ts)
    dialog = console.page.locator("dialog#confirm")

    await message.locator("[data-action-id='restart']").click()
    await dialog.wait_for(state="visible")
    assert await dialog.locator("h2").inner_text() == "Restart api-service?"
    assert await dialog.locator("#confirm-text").inner_text() == "All 3 pods restart."
    assert await dialog.locator("#confirm-text b").inner_text() == "3"
    assert await dialog.locator("#confirm-ok").inner_text() == "Restart"
    await dialog.locator("#confirm-deny").click()
    await dialog.wait_for(state="hidden")

    # A click sent after the denied one arrives after it would have: nothing in between.
    await message.locator(".accessory [data-action-id='details']").click()
    await until(lambda: console.clicks())
    assert [c["action_id"] for c in console.clicks()] == ["details"]

    await message.locator("[data-action-id='restart']").click()
    await dialog.locator("#confirm-ok").click()
    await until(lambda: len(console.clicks()) == 2)
    restart = console.clicks()[1]
    assert (restart["action_id"], restart["value"]) == ("restart", "restart-value")
    envelope = [e for e in console.slack.hub.delivered if e["type"] == "interactive"][1]
    assert envelope["payload"]["container"]["message_ts"] == ts
    assert envelope["payload"]["user"]["id"] == "U0ALICE"

    await message.locator("[data-action-id='approve']").click()  # no confirm: sent at once
    await until(lambda: len(console.clicks()) == 3)
    assert console.clicks()[2]["action_id"] == "approve"
    assert not await dialog.is_visible()


HOSTILE = ["<script>window.__pwned = 'script'</script>",
           "<img src=x onerror=\"window.__pwned = 'img'\">",
           "\"'><svg onload=\"window.__pwned = 'svg'\">",
           "<javascript:window.__pwned='link'|click me>",
           "<https://example.com/\"onmouseover=\"window.__pwned='attr'|quoted link>"]
EVIL = " ".join(HOSTILE)
NAUGHTY_URL = "javascript:window.__pwned='url'"


def hostile_blocks() -> list[dict[str, Any]]:
    quote = "\"'><img src=x onerror=\"window.__pwned='field'\">"
    return [
        {"type": "header", "text": text("plain_text", HOSTILE[1])},
        {"type": "section", "text": text("mrkdwn", f"{EVIL}\n```{HOSTILE[0]}```"),
         "fields": [text("mrkdwn", HOSTILE[2]), text("plain_text", quote)],
         "accessory": {"type": "image", "image_url": NAUGHTY_URL, "alt_text": quote}},
        {"type": "context", "elements": [text("mrkdwn", HOSTILE[1]), text("plain_text", quote),
                                         {"type": "image", "image_url": "x\" onerror=\"a",
                                          "alt_text": quote}]},
        {"type": "image", "image_url": NAUGHTY_URL, "alt_text": quote,
         "title": text("plain_text", HOSTILE[0])},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": HOSTILE[1]},
            {"type": "link", "url": NAUGHTY_URL, "text": "rich link"}]}]},
        {"type": "actions", "elements": [
            {"type": "button", "text": text("plain_text", "\"'><b>go</b>"), "url": NAUGHTY_URL,
             "action_id": "evil\"'><x>", "value": quote},
            {"type": "button", "text": text("plain_text", "confirm"), "action_id": "c",
             "style": "primary\" onclick=\"window.__pwned='style'",
             "confirm": {"title": text("plain_text", HOSTILE[0][:90]),
                         "text": text("mrkdwn", EVIL),
                         "confirm": text("plain_text", HOSTILE[1][:30]),
                         "deny": text("plain_text", "no")}}]},
    ]


async def test_hostile_content_renders_as_text_and_runs_nothing(console: Console) -> None:
    console.slack.state.add_user("U0EVIL", HOSTILE[1])
    console.slack.state.add_channel("C0EVIL", HOSTILE[0], ["U0ALICE"])
    console.slack.state.post(SHOP, BOT_USER, EVIL + " by <@U0EVIL> in <#C0EVIL>", None, bot=True)
    # slack_sdk refuses a button style other than primary/danger: straight into the state
    ts = console.slack.state.post(SHOP, BOT_USER, "hostile", hostile_blocks(), bot=True)["ts"]
    message = await console.open(ts)
    page = console.page

    messages = page.locator("#messages")
    assert await messages.locator("script, svg, iframe, object, embed").count() == 0
    assert await page.locator("#messages *").evaluate_all(
        "els => els.flatMap(e => [...e.attributes].map(a => a.name))"
        ".filter(n => n.startsWith('on') || n === 'style')") == []
    hrefs = await messages.locator("[href]").evaluate_all("as => as.map(a => a.href)")
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs)
    sources = await messages.locator("img").evaluate_all("is => is.map(i => i.src)")
    assert all(s.startswith(("http://", "https://", "data:image/")) for s in sources)
    assert await message.locator("a:has-text('click me'), a:has-text('rich link')").count() == 0
    assert await message.locator(".not-a-link:has-text('click me')").count() == 1
    assert await message.locator("button.primary").count() == 0  # the forged style is dropped

    assert await message.locator(".header").inner_text() == HOSTILE[1]
    body = await message.locator(".section-text").inner_text()
    for shown in ("<script>window.__pwned = 'script'</script>", HOSTILE[1], HOSTILE[2]):
        assert shown in body
    assert await message.locator("pre").text_content() == HOSTILE[0]
    assert await message.locator(".field").all_inner_texts() == [
        HOSTILE[2], "\"'><img src=x onerror=\"window.__pwned='field'\">"]
    plain = page.locator(".message", has_text=" by @")
    assert f"by @{HOSTILE[1]} in #{HOSTILE[0]}" in await plain.inner_text()
    assert HOSTILE[0] in await page.locator("#convs").inner_text()

    # Were any of it markup, its handlers would have run by the time this one has.
    await page.evaluate("document.body.insertAdjacentHTML('beforeend',"
                        "'<img src=x onerror=\"window.__control = 1\">')")
    await page.wait_for_function("window.__control === 1")
    assert await page.evaluate("window.__pwned") is None

    evil = message.locator("button").first
    assert await evil.inner_text() == "\"'><b>go</b>"
    await evil.click()  # its javascript: url is not opened; the click is sent as written
    await until(lambda: console.clicks())
    assert (console.clicks()[0]["action_id"], console.clicks()[0]["value"]) == (
        "evil\"'><x>", "\"'><img src=x onerror=\"window.__pwned='field'\">")
    assert len(page.context.pages) == 1

    await message.locator("button[data-action-id='c']").click()
    dialog = page.locator("dialog#confirm")
    await dialog.wait_for(state="visible")
    assert await dialog.locator("h2").inner_text() == HOSTILE[0][:90]
    assert await dialog.locator("#confirm-ok").inner_text() == HOSTILE[1][:30]
    assert await dialog.locator("script, img, svg, iframe").count() == 0
    await dialog.locator("#confirm-deny").click()
    await page.evaluate("document.body.insertAdjacentHTML('beforeend',"
                        "'<img src=y onerror=\"window.__control = 2\">')")
    await page.wait_for_function("window.__control === 2")
    assert await page.evaluate("window.__pwned") is None
    assert len(console.clicks()) == 1
