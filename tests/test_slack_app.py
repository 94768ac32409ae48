"""The real Bolt app (slack_bolt/slack_sdk, Socket Mode) against the local Slack emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import (
    answered,
    bot_messages,
    connected_emulator,
    until,
    until_delivered,
)


@pytest.fixture
async def slack(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEmulator]:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as (emulator, _):
        yield emulator


async def test_direct_message_is_a_personal_session(slack: SlackEmulator) -> None:
    dm = slack.state.im_with("U0ALICE").id
    await slack.say("U0ALICE", dm, "pods")
    [reply] = await until(lambda: answered(slack, dm))
    assert "6 pods in shop" in reply["text"]
    contexts = [b["elements"][0]["text"] for b in reply["blocks"] if b["type"] == "context"]
    assert contexts == ["Do it yourself: `kubectl get pods -n shop -o wide`",
                        "answered in command mode · tools: list_pods"]
    assert reply["blocks"][-1]["block_id"] == "next"  # what to type next, as buttons


async def test_mention_answers_in_thread_and_the_card_flow(slack: SlackEmulator,
                                                           sandbox: ThreadedSandbox) -> None:
    asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale api-service 4")
    card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                     if m["text"].startswith("Approval needed")), None))
    assert card["thread_ts"] == asked["ts"]
    buttons = card["blocks"][-1]["elements"]
    action_id = buttons[0]["value"]
    assert [b["action_id"] for b in buttons] == ["approve", "reject"]

    await slack.click("U0ALICE", "C0SHOP", card["ts"], "approve", action_id)
    own = await until(lambda: [e for e in slack.state.ephemeral if e["user"] == "U0ALICE"])
    assert "needs a second person" in own[0]["text"]
    await slack.click("U0BOB", "C0SHOP", card["ts"], "approve", action_id)
    bob = await until(lambda: [e for e in slack.state.ephemeral if e["user"] == "U0BOB"])
    assert "bob may not patch deployments/scale" in bob[0]["text"]
    assert slack.state.messages[("C0SHOP", card["ts"])]["blocks"][-1]["type"] == "actions"

    await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve", action_id)
    updated = await until(lambda: slack.state.messages[("C0SHOP", card["ts"])]
                          if slack.state.messages[("C0SHOP", card["ts"])]["blocks"][-1][
                              "type"] != "actions" else None)
    assert "*Succeeded* by <@U0CAROL>" in updated["blocks"][-1]["text"]["text"]
    assert sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
        "replicas"] == 4


async def test_slash_command_and_app_home(slack: SlackEmulator) -> None:
    ack = await slack.slash("U0ALICE", "C0SHOP", "whoami")
    assert ack is not None
    whoami = await until(lambda: [e for e in slack.state.ephemeral if e["user"] == "U0ALICE"])
    assert "alice (Hexabase hxb-alice); workspace shop" in whoami[0]["text"]
    await slack.open_home("U0ALICE")
    view = await until(lambda: slack.state.home_views.get("U0ALICE"))
    assert "Acting as *alice*" in view["blocks"][1]["text"]["text"]


async def test_unknown_user_and_redelivery_once(slack: SlackEmulator,
                                                database_url: str) -> None:
    dm = slack.state.im_with("U0MALLORY").id
    await slack.say("U0MALLORY", dm, "pods")
    [reply] = await until(lambda: answered(slack, dm))
    assert "not in Hexabot's directory" in reply["text"]
    # Slack retries an event it thinks was lost: the bot answers it once
    event = slack.hub.delivered[-1]["payload"]
    if event.get("event", {}).get("type") != "message":
        event = next(e["payload"] for e in reversed(slack.hub.delivered)
                     if e["payload"].get("event", {}).get("user") == "U0MALLORY")
    await slack.hub.deliver("events_api", event)
    await until_delivered(database_url, event["event_id"], 2)
    assert len(answered(slack, dm)) == 1


def test_manifest_matches_the_listeners() -> None:
    import yaml

    from tests.conftest import REPO

    manifest = yaml.safe_load((REPO / "manifest.yml").read_text())
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention", "message.im", "app_home_opened"}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/hexabot"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    assert not scopes & {"admin", "channels:history", "users:read.email"}  # minimal


async def test_logs_asked_in_a_channel_go_to_a_dm(slack: SlackEmulator) -> None:
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> logs api-service --tail 2")
    note = await until(lambda: [m for m in answered(slack, "C0SHOP")])
    assert "sent that to you in a direct message" in note[0]["text"]
    dm = slack.state.im_with("U0ALICE").id
    [logs] = await until(lambda: answered(slack, dm))
    assert "p99 latency 910ms" in logs["text"]
    assert "p99 latency 910ms" not in str(slack.state.history("C0SHOP"))


async def test_rate_limited_post_is_retried(slack: SlackEmulator) -> None:
    slack.rate_limited["chat.update"] = 1  # Slack answers 429 + Retry-After once
    dm = slack.state.im_with("U0ALICE").id
    await slack.say("U0ALICE", dm, "help")
    [reply] = await until(lambda: answered(slack, dm))
    assert "command mode" in reply["text"] or "I can answer" in reply["text"]
    assert [m for m, _ in slack.calls].count("chat.update") >= 2


async def test_a_channel_without_the_bot_gets_a_dm_instead(slack: SlackEmulator) -> None:
    slack.state.add_channel("C0OTHER", "other", ["U0ALICE"])
    slack.state.conversations["C0OTHER"].members.discard(BOT_USER)
    await slack.hub.deliver("events_api", slack._event({
        "type": "app_mention", "channel": "C0OTHER", "user": "U0ALICE",
        "text": f"<@{BOT_USER}> pods", "ts": slack.state.next_ts()}))
    dm = slack.state.im_with("U0ALICE").id
    messages = await until(lambda: [m for m in answered(slack, dm) if "6 pods" in m["text"]])
    assert messages and "invite me" in str(slack.state.history(dm))
