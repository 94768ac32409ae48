"""Answers people read in Slack: the verdict first (bold), the facts it rests on as fields,
the evidence after — posted by the real Bolt app into the emulator, asserted on its blocks."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.slack.server import SlackEmulator
from tests.sandbox_support import ThreadedSandbox
from tests.services import fetch_rows
from tests.slack_support import answered, connected_emulator, until
from tests.test_answer_text import REPR


@pytest.fixture
async def slack(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEmulator]:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as (emulator, _):
        yield emulator


async def _ask(slack: SlackEmulator, text: str) -> dict[str, Any]:
    dm = slack.state.im_with("U0ALICE").id
    before = len(answered(slack, dm))
    await slack.say("U0ALICE", dm, text)
    def reply() -> list[dict[str, Any]]:  # the answer, not an approval card posted after it
        return [m for m in answered(slack, dm)[before:] if m["blocks"][0]["type"] != "header"]
    return (await until(reply))[0]


def _shown(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


def _fields(blocks: list[dict[str, Any]]) -> dict[str, str]:
    found = {}
    for block in blocks:
        for field in block.get("fields") or []:
            label, _, value = field["text"].partition("\n")
            found[label.strip("*")] = value
    return found


@pytest.mark.parametrize(("asked", "verdict", "facts"), [
    ("How is my web app doing?",
     "*web-app is healthy: 3/3 ready; CPU 45% and memory 62% of limits on average; no errors "
     "in the last 15 min of logs*",
     {"Ready": "3/3", "Restarts": "0", "Errors in logs (15 min)": "0"}),
    ("status checkout-worker",
     "*checkout-worker is failing: 0/1 ready; OOMKilled 12 times, 580Mi used against a 512Mi "
     "limit*", {"Ready": "0/1", "Restarts": "12"}),
    ("services", "*Both Services in shop have ready endpoints.*", {"Services": "2"}),
    ("pods",
     "*1 of 6 pods in shop is not healthy: checkout-worker-6b8f9d7c4e-h5j2k CrashLoopBackOff "
     "(OOMKilled, 12 restarts)*", {"Pods": "6", "Not healthy": "1"}),
])
async def test_the_verdict_comes_first(slack: SlackEmulator, asked: str, verdict: str,
                                       facts: dict[str, str]) -> None:
    reply = await _ask(slack, asked)
    first = reply["blocks"][0]
    assert first["type"] == "section" and first["text"]["text"] == verdict
    assert facts.items() <= _fields(reply["blocks"]).items()
    assert reply["blocks"][1].get("fields"), "the facts follow the verdict"
    assert not REPR.search(_shown(reply["blocks"])), _shown(reply["blocks"])
    evidence = "".join(b["text"]["text"] for b in reply["blocks"][2:]
                       if b["type"] == "section" and "text" in b)
    assert verdict.strip("*") not in evidence  # said once, not repeated in the evidence


async def test_my_app_keeps_crashing_names_the_cause_first(slack: SlackEmulator) -> None:
    reply = await _ask(slack, "My app keeps crashing")
    first = reply["blocks"][0]["text"]["text"]
    assert re.fullmatch(r"\*checkout-worker is failing: container worker is killed for using "
                        r"more memory than its 512Mi limit \(peak 580Mi\) \(and \d+ more "
                        r"findings? in namespace shop\)\*", first), first
    assert _fields(reply["blocks"])["Critical"] == "1"


async def test_an_answer_without_a_verdict_is_unchanged(slack: SlackEmulator) -> None:
    reply = await _ask(slack, "changes")
    assert not reply["blocks"][0]["text"]["text"].startswith("*")  # no bold verdict
    assert not _fields(reply["blocks"])


async def test_answers_and_cards_say_how_to_do_it_yourself(slack: SlackEmulator) -> None:
    reply = await _ask(slack, "How is my web app doing?")
    [yourself] = [b["elements"][0]["text"] for b in reply["blocks"] if b["type"] == "context"
                  and b["elements"][0]["text"].startswith("Do it yourself: ")]
    assert "`kubectl get deployment web-app -n shop`" in yourself
    assert "`kubectl top pods -n shop -l app=web-app --containers`" in yourself
    await slack.say("U0ALICE", "C0SHOP", "<@UHEXABOT> scale web-app 4")
    card = await until(lambda: next((m for m in answered(slack, "C0SHOP")
                                     if m["blocks"][0]["type"] == "header"), None))
    [by_hand] = [b["text"]["text"] for b in card["blocks"] if b["type"] == "section"
                 and b.get("text", {}).get("text", "").startswith("*The same change")]
    assert "kubectl scale deployment/web-app -n shop --replicas=4" in by_hand


async def test_a_long_answer_is_collapsed_and_the_rest_sent_to_the_clicker_alone(
        slack: SlackEmulator, sandbox: ThreadedSandbox) -> None:
    scaled = sandbox.kubectl("carol", "scale", "deployment/web-app", "-n", "shop",
                             "--replicas=20")
    assert scaled.returncode == 0, scaled.stderr
    await until(lambda: len(sandbox.names("", "v1", "pods", "shop", "web-app-")) == 20)
    asked = await slack.say("U0ALICE", "C0SHOP", "<@UHEXABOT> pods")
    reply = await until(lambda: next((m for m in answered(slack, "C0SHOP")
                                      if m.get("thread_ts") == asked["ts"]), None))
    shown = _shown(reply["blocks"])
    [more] = [b for b in reply["blocks"] if b.get("block_id") == "more"]
    button = more["elements"][0]
    assert button["action_id"] == "show_all" and button["value"] == "pods"
    assert re.fullmatch(r"Show all \(\d+ more lines, to you only\)", button["text"]["text"])
    await slack.click("U0BOB", "C0SHOP", reply["ts"], "show_all", "pods")
    [private] = await until(lambda: [e for e in slack.state.ephemeral if e["user"] == "U0BOB"])
    everything = _shown(private["blocks"])
    assert everything.count("web-app-") >= 20 > shown.count("web-app-")  # collapsed in #shop
    assert not [e for e in slack.state.ephemeral if e["user"] != "U0BOB"]
    assert "Show all" not in everything  # the whole answer, nothing collapsed


async def test_show_all_never_proposes_a_change(slack: SlackEmulator,
                                                database_url: str) -> None:
    """A button's value is whatever a client sends: "Show all" carrying a write request asks
    it read-only — no pending action, no card, the clicker told why."""
    asked = await slack.say("U0ALICE", "C0SHOP", "<@UHEXABOT> services")
    reply = await until(lambda: next((m for m in answered(slack, "C0SHOP")
                                      if m.get("thread_ts") == asked["ts"]), None))
    await slack.click("U0CAROL", "C0SHOP", reply["ts"], "show_all", "restart web-app")
    [told] = await until(lambda: [e for e in slack.state.ephemeral if e["user"] == "U0CAROL"])
    assert "it proposes no change: ask for the change in a message of your own" in told["text"]
    assert await fetch_rows(database_url, "SELECT id FROM pending_actions") == []
    assert not [m for m in answered(slack, "C0SHOP") if m["text"].startswith("Approval")]
