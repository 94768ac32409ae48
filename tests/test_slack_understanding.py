"""Command mode as people type it, through Slack (issue 20): plain requests answered, a vague
write asked back with the choices, the next step suggested under an answer and a click on it
asked as the clicker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.services import Services
from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import answered, bot_messages, connected_emulator, until


@pytest.fixture
async def slack(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch
                ) -> AsyncIterator[tuple[SlackEmulator, Services]]:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as found:
        yield found


def _next(message: dict[str, object]) -> list[dict[str, str]]:
    blocks = message.get("blocks") or []
    assert isinstance(blocks, list)
    return [e for b in blocks if b.get("block_id") == "next" for e in b["elements"]]


async def test_pods_suggest_the_crash_loopers_previous_logs_and_a_click_asks_it(
        slack: tuple[SlackEmulator, Services]) -> None:
    emulator, _ = slack
    dm = emulator.state.im_with("U0ALICE").id
    await emulator.say("U0ALICE", dm, "show me the pods")
    [reply] = await until(lambda: answered(emulator, dm))
    assert "checkout-worker-6b8f9d7c4e-h5j2k" in reply["text"]
    buttons = _next(reply)
    assert [b["value"] for b in buttons] == ["logs checkout-worker --previous",
                                             "troubleshoot checkout-worker"]
    await emulator.click("U0ALICE", dm, reply["ts"], buttons[0]["action_id"],
                         buttons[0]["value"])
    logs = await until(lambda: answered(emulator, dm)[1:])
    assert "previous container's logs of shop/checkout-worker-6b8f9d7c4e-h5j2k" in \
        logs[0]["text"]


async def test_a_teammates_click_in_a_thread_is_asked_as_the_teammate(
        slack: tuple[SlackEmulator, Services]) -> None:
    emulator, services = slack
    asked = await emulator.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> hows the checkout worker")
    [reply] = await until(lambda: answered(emulator, "C0SHOP"))
    assert reply["thread_ts"] == asked["ts"]
    [events] = [b for b in _next(reply) if b["value"] == "events checkout-worker"]
    await emulator.click("U0BOB", "C0SHOP", reply["ts"], events["action_id"], events["value"])
    later = await until(lambda: answered(emulator, "C0SHOP")[1:])
    # events are private output: bob's answer goes to bob's DM, the thread gets a pointer
    assert later[0]["thread_ts"] == asked["ts"] and "direct message" in later[0]["text"]
    bob = emulator.state.im_with("U0BOB").id
    [private] = await until(lambda: answered(emulator, bob))
    assert "checkout-worker" in private["text"]
    rows = await services.confirmations.store.recent("U0BOB")
    assert rows == []  # a read: nothing proposed


async def test_a_vague_write_is_asked_back_and_a_clear_one_proposed(
        slack: tuple[SlackEmulator, Services], sandbox: ThreadedSandbox) -> None:
    emulator, _ = slack
    dm = emulator.state.im_with("U0ALICE").id
    await emulator.say("U0ALICE", dm, "scale web app")
    [vague] = await until(lambda: answered(emulator, dm))
    assert "To how many replicas? web-app has 3." in vague["text"]
    assert [b["value"] for b in _next(vague)] == ["scale web-app 4", "scale web-app 2"]
    await emulator.say("U0ALICE", dm, "pls scale the web app down by one")
    await until(lambda: [m for m in bot_messages(emulator, dm)
                         if m["text"].startswith("Approval needed")])
    assert "from 3 to 2 replicas" in answered(emulator, dm)[1]["text"]
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 3
