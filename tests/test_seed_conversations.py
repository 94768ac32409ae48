"""The product's seed conversations, end to end: alice asks in #shop (mentioning the bot), the
real Bolt app answers in the thread — command mode, no LLM — against the demo sandbox cluster,
and carol approves where a change is proposed.  Asserted on the Block Kit blocks the Slack
emulator recorded, then shown in the web console in headless Chromium; the screenshots go to
the test's tmp dir, and to docs/seed/ when HEXABOT_WRITE_SCREENSHOTS=1 (so an ordinary run
leaves the checkout alone)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Locator, Page, async_playwright

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.conftest import REPO
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import bot_messages, connected_emulator, until
from tests.test_answer_text import REPR
from tests.test_console_browser import CHROMIUM_FLAGS, chromium
from tests.test_followup import FAST, approve, followed, slow_pods, thread  # noqa: F401

SHOP = "C0SHOP"
SEED = REPO / "docs" / "seed"
BLOCK_TYPES = {"section", "context", "actions", "header", "divider"}
Message = dict[str, Any]


# -- what the bot posted -------------------------------------------------------------------
async def ask(slack: SlackEmulator, text: str, cards: int) -> tuple[str, Message, list[Message]]:
    """alice asks in #shop; (the thread, the answer, the approval cards) once all are posted."""
    asked = await slack.say("U0ALICE", SHOP, f"<@{BOT_USER}> {text}")

    def posted() -> tuple[Message, list[Message]] | None:
        replies = [m for m in thread(slack, SHOP, asked["ts"]) if m["text"] != "working…"]
        answers = [m for m in replies if not is_card(m)]
        found = [m for m in replies if is_card(m)]
        return (answers[0], found) if answers and len(found) == cards else None

    answer, found = await until(posted)
    return asked["ts"], answer, found


def is_card(message: Message) -> bool:
    return message["blocks"][0]["type"] == "header"


def now(slack: SlackEmulator, message: Message) -> Message:
    """``message`` as it stands in the emulator (cards are updated in place)."""
    return slack.state.messages[(message["channel"], message["ts"])]


def posted_at(message: Message) -> tuple[int, ...]:
    return tuple(int(part) for part in message["ts"].split("."))


def sections(message: Message) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"
            and "text" in b]


def facts(message: Message) -> dict[str, str]:
    found = {}
    for block in message["blocks"]:
        for field in block.get("fields") or []:
            label, _, value = field["text"].partition("\n")
            found[label.strip("*")] = value
    return found


def contexts(message: Message) -> list[str]:
    return [e["text"] for b in message["blocks"] if b["type"] == "context"
            for e in b["elements"]]


def buttons(message: Message) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"]]


def readable(messages: list[Message]) -> None:
    """Every message is Block Kit people can read: known blocks, each section with text or
    fields, and no Python repr anywhere."""
    assert messages
    for message in messages:
        shown = json.dumps(message["blocks"])
        assert not REPR.search(shown), shown
        for block in message["blocks"]:
            assert block["type"] in BLOCK_TYPES, block
            if block["type"] == "section":
                assert block.get("text", {}).get("text") or block.get("fields"), block
            if block["type"] in ("context", "actions"):
                assert block["elements"], block


def card_summary(card: Message) -> str:
    assert card["blocks"][0]["text"]["text"] == "Approval needed"
    return card["blocks"][1]["text"]["text"]


def card_text(card: Message) -> str:
    return "\n".join(sections(card))


def by_hand(card: Message) -> str:
    [text] = [t for t in sections(card) if t.startswith("*The same change with kubectl*\n")]
    return text


# -- the console -----------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def console(slack: SlackEmulator) -> AsyncIterator[Page]:
    """The web console as alice, on #shop."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"{slack.url}/?user=U0ALICE")
            await as_(page, "U0ALICE")
            yield page
        finally:
            await browser.close()


async def as_(page: Page, user: str, conversation: str = "#shop") -> None:
    await page.select_option("#who", user)
    await page.click(f".conv:has-text('{conversation}')")


async def on_screen(page: Page, message: Message) -> Locator:
    shown = page.locator(f".message[data-ts='{message['ts']}']")
    await shown.wait_for(timeout=20_000)
    return shown


async def bold(page: Page, message: Message, block: int = 0) -> str:
    """The bold run opening a block (the verdict; a card's summary, under its header), as the
    console renders it."""
    shown = await on_screen(page, message)
    return await shown.locator(".block").nth(block).locator(".section-text > b").first.inner_text()


async def approve_button(page: Page, card: Message) -> Locator:
    shown = await on_screen(page, card)
    button = shown.locator("button[data-action-id='approve']")
    assert await button.count() == 1
    assert await button.inner_text() == "Approve"
    return button


async def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """The whole conversation in one picture: the viewport grown until the message list no
    longer scrolls."""
    await page.set_viewport_size({"width": 1280, "height": 900})
    rest = await page.evaluate("innerHeight - document.getElementById('messages').clientHeight")
    needed = await page.evaluate("document.getElementById('messages').scrollHeight")
    await page.set_viewport_size({"width": 1280, "height": needed + rest})
    assert await page.evaluate("(m => m.scrollHeight <= m.clientHeight)"
                               "(document.getElementById('messages'))")
    path = tmp_path / name
    await page.screenshot(path=str(path), full_page=True)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", raw[16:24]) == (1280, needed + rest)
    if os.environ.get("HEXABOT_WRITE_SCREENSHOTS") == "1":
        SEED.mkdir(exist_ok=True)
        shutil.copyfile(path, SEED / name)
    return path


# -- the conversations -----------------------------------------------------------------------
WEB_APP = ("web-app is healthy: 3/3 ready; CPU 45% and memory 62% of limits on average; no "
           "errors in the last 15 min of logs")


async def test_1_how_is_my_web_app_doing(database_url: str, sandbox: ThreadedSandbox,
                                        tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        parent, answer, _ = await ask(slack, "How is my web app doing?", cards=0)
        blocks = answer["blocks"]
        assert blocks[0] == {"type": "section",
                             "text": {"type": "mrkdwn", "text": f"*{WEB_APP}*"}}
        assert "fields" in blocks[1] and "text" not in blocks[1]
        assert facts(answer) == {"Ready": "3/3", "Rollout": "complete",
                                 "CPU (of limits, average)": "45%",
                                 "Memory (of limits, average)": "62%", "Restarts": "0",
                                 "Errors in logs (15 min)": "0"}
        evidence = sections(answer)[1]
        assert "deployment shop/web-app: 3/3 ready" in evidence and WEB_APP not in evidence
        [yourself] = [c for c in contexts(answer) if c.startswith("Do it yourself: ")]
        assert "`kubectl get deployment web-app -n shop`" in yourself
        assert contexts(answer).index(yourself) < len(contexts(answer)) - 1  # before "answered in"
        assert contexts(answer)[-1].startswith("answered in command mode · tools: ")
        readable(thread(slack, SHOP, parent))
        async with console(slack) as page:
            assert await bold(page, answer) == WEB_APP
            await screenshot(page, tmp_path, "1-web-app.png")


async def test_2_my_api_is_slow_scale_it_up(database_url: str, sandbox: ThreadedSandbox,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Analysis first, then one fix — more CPU per pod, as api-service runs near its CPU limit
    under an HPA — approved by carol in the console; the thread tells how the rollout went."""
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        parent, answer, [card] = await ask(slack, "My API is slow, can you scale it up?",
                                           cards=1)
        assert contexts(answer)[-1] == ("answered in command mode · tools: analyze_performance, "
                                        "suggest_optimizations, apply_yaml")
        assert sections(answer)[0].startswith(
            "*api-service is under pressure: api near its CPU limit (throttling); its HPA "
            "already sets the replicas (2..6, now 2); proposed for approval: api cpu request "
            "500m → 1120m")  # the verdict first: why, and what is proposed
        analysis = "\n".join(sections(answer))
        assert "⚠ api near its CPU limit (throttling)" in analysis
        assert "api-service is scaled by its HPA (2..6, now 2)" in analysis
        assert analysis.index("scaled by its HPA") < analysis.index("Proposed: ")
        assert posted_at(card) > posted_at(answer)  # the card after the analysis
        assert card_summary(card) == "*Apply 1 object(s) (0 new, 1 changed): Deployment " \
                                     "api-service*"
        assert facts(card)["Risk"] == "high" and facts(card)["Cost"] == "+30.33 USD/month"
        diff = next(t for t in sections(card) if t.startswith("```--- Deployment"))
        assert "-            cpu: '1'\n+            cpu: 1120m" in diff
        assert by_hand(card).startswith("*The same change with kubectl*\n```kubectl apply ")
        assert buttons(card) == ["approve", "reject"]
        async with console(slack) as page:
            assert await bold(page, card, 1) == "Apply 1 object(s) (0 new, 1 changed): " \
                                                   "Deployment api-service"
            await as_(page, "U0CAROL")
            await (await approve_button(page, card)).click()
            await page.click("#confirm-ok")  # a high-risk change asks once more
            await until(lambda: "*Succeeded*" in json.dumps(now(slack, card)["blocks"]), 30)
            [told] = await until(lambda: followed(slack, parent, "api-service"), 30)
            await as_(page, "U0ALICE")
            await on_screen(page, told)
            assert await (await on_screen(page, card)).locator(
                "button[data-action-id='approve']").count() == 0
            await screenshot(page, tmp_path, "2-api-slow.png")
        card = now(slack, card)
        assert sections(card)[-1].startswith("*Succeeded* by <@U0CAROL> at ")
        assert buttons(card) == []
        assert re.fullmatch(r"Deployment api-service: 2/2 ready in [\d.]+ s(; .+)?\.",
                            told["text"]), told["text"]
        assert sections(told) == [told["text"]]
        readable(thread(slack, SHOP, parent))
    limits = sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
        "template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["cpu"] == "1120m"


async def test_3_set_up_backups_for_my_database(database_url: str, sandbox: ThreadedSandbox,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        parent, answer, [card] = await ask(slack, "Set up backups for my database", cards=1)
        plan = sections(answer)[0]
        assert plan.startswith("user-db is a postgres database (postgres:16.4) on 50Gi of "
                               "fast-ssd storage. Plan: a full logical dump every day")
        assert "Proposed: Create CronJob data/backup-user-db" in plan
        summary = card_summary(card)
        assert summary.startswith("*Create CronJob data/backup-user-db: postgres dump of "
                                  "user-db")
        yourself = by_hand(card)
        # the diff above is the whole new CronJob: the command points at it, not a copy
        assert yourself == ("*The same change with kubectl*\n```kubectl apply -n data -f - "
                            "<<'EOF'\n… the manifest above, without the + signs …\nEOF```")
        assert "schedule: 30 2 * * *" in card_text(card) and "&id0" not in card_text(card)
        assert buttons(card) == ["approve", "reject"]
        readable(thread(slack, SHOP, parent))
        async with console(slack) as page:
            assert await bold(page, card, 1) == summary.strip("*")
            await approve_button(page, card)
            shown = await on_screen(page, card)
            assert "kubectl apply -n data -f - <<'EOF'" in await shown.locator(
                "pre").last.inner_text()
            await screenshot(page, tmp_path, "3-backups.png")
    assert sandbox.obj("batch", "v1", "cronjobs", "data", "backup-user-db") is None


async def test_4_my_app_keeps_crashing(database_url: str, sandbox: ThreadedSandbox,
                                       tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The diagnosis reads pod state and events, so it goes to alice's DM; the thread says so
    and carries the proposed fix."""
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        parent, answer, [card] = await ask(slack, "My app keeps crashing", cards=1)
        assert sections(answer) == ["I sent that to you in a direct message (logs, events and "
                                    "command output can hold private data)."]
        dm = slack.state.im_with("U0ALICE").id
        [diagnosis] = await until(lambda: bot_messages(slack, dm))
        verdict = diagnosis["blocks"][0]["text"]["text"]
        assert re.fullmatch(r"\*checkout-worker is failing: container worker is killed for "
                            r"using more memory than its 512Mi limit \(peak 580Mi\) \(and 1 "
                            r"more finding in namespace shop\)\*", verdict), verdict
        assert facts(diagnosis) == {"Critical": "1", "Warning": "1"}
        assert "[critical] OOMKilled Deployment shop/checkout-worker" in sections(diagnosis)[1]
        assert card_summary(card) == "*Apply 1 object(s) (0 new, 1 changed): Deployment " \
                                     "checkout-worker*"
        diff = next(t for t in sections(card) if t.startswith("```--- Deployment"))
        assert "-            memory: 512Mi\n+            memory: 1Gi" in diff
        assert buttons(card) == ["approve", "reject"]
        readable([*thread(slack, SHOP, parent), diagnosis])
        async with console(slack) as page:
            await approve_button(page, card)
            assert "I sent that to you in a direct message" in await (
                await on_screen(page, answer)).inner_text()
            await screenshot(page, tmp_path, "4-crashing.png")
            await as_(page, "U0ALICE", "Hexabot (DM)")
            assert await bold(page, diagnosis) == verdict.strip("*")
            await screenshot(page, tmp_path, "4-crashing-dm.png")


async def test_5_yes_to_a_scale_tells_how_it_went(
        database_url: str, slow_pods: ThreadedSandbox, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's "Yes": pods take a second to start, so the usage baseline is from before."""
    async with connected_emulator(database_url, slow_pods, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        card, parent = await approve(slack, "scale web-app 4")
        [told] = await until(lambda: followed(slack, parent, "web-app"), 30)
        card = now(slack, card)
        assert card_summary(card) == "*Scale deployment shop/web-app from 3 to 4 replicas*"
        assert sections(card)[-1].startswith("*Succeeded* by <@U0CAROL> at ")
        assert buttons(card) == []
        readable(thread(slack, SHOP, parent))
    match = re.fullmatch(r"Deployment web-app: 4/4 ready in [\d.]+ s; CPU (\d+)m → (\d+)m per "
                         r"pod \(\d+% → \d+% of its limit\); memory \d+Mi → \d+Mi per pod "
                         r"\(\d+% → \d+% of its limit\)\.", told["text"])
    assert match, told["text"]
    assert int(match[2]) < int(match[1])  # the load spread over a fourth pod
    assert sections(told) == [told["text"]]
