"""Guardrails through Slack: a refused write gets the reason in the thread and no card;
/hexabot policy lists and explains; a two-person card shows the first approval."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import answered, bot_messages, connected_emulator, until

POLICY = """version: 1
rules:
  - name: shop-caps
    tools: [scale_deployment]
    scope: {namespaces: [shop]}
    caps: {max_replicas: 8}
  - name: shop-two
    tools: [restart]
    scope: {namespaces: [shop]}
    approvals: two_people
"""


@pytest.fixture
async def slack(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEmulator]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  policy_file=policy) as (emulator, _):
        yield emulator


def _ephemeral(slack: SlackEmulator, user: str, count: int) -> list[dict[str, Any]]:
    found = [e for e in slack.state.ephemeral if e["user"] == user]
    return found if len(found) >= count else []


async def test_scale_beyond_the_cap_gets_the_reason_and_no_card(
        slack: SlackEmulator, sandbox: ThreadedSandbox) -> None:
    asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale api-service 20")
    [reply] = await until(lambda: [m for m in answered(slack, "C0SHOP")
                                   if m.get("thread_ts") == asked["ts"]])
    assert "Refused by policy: 20 replicas for Deployment shop/api-service is above the cap " \
           "of 8 (rule shop-caps); at most 8 would be allowed" in reply["text"]
    assert not [m for m in bot_messages(slack, "C0SHOP")
                if m["text"].startswith("Approval needed")]
    assert sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
        "replicas"] != 20


async def test_slash_policy_lists_and_explains(slack: SlackEmulator) -> None:
    await slack.slash("U0ALICE", "C0SHOP", "policy")
    [listing] = await until(lambda: _ephemeral(slack, "U0ALICE", 1))
    assert "shop-caps — scale_deployment in namespaces shop: max replicas 8" in listing["text"]
    await slack.slash("U0ALICE", "C0SHOP", "policy scale_deployment name=web-app replicas=12")
    explained = (await until(lambda: _ephemeral(slack, "U0ALICE", 2)))[1]
    assert "Decision: DENY — 12 replicas" in explained["text"]
    assert "Nothing was proposed or changed." in explained["text"]


async def test_a_two_person_card_shows_the_first_approval(slack: SlackEmulator,
                                                          sandbox: ThreadedSandbox) -> None:
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> restart api-service")
    card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                     if m["text"].startswith("Approval needed")), None))
    fields = str(card["blocks"])
    assert "2 different people other than the requester" in fields and "shop-two" in fields
    action_id = card["blocks"][-1]["elements"][0]["value"]
    await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve", action_id)
    updated = await until(lambda: slack.state.messages[("C0SHOP", card["ts"])]
                          if "Approved so far" in str(slack.state.messages[
                              ("C0SHOP", card["ts"])]["blocks"]) else None)
    assert "<@U0CAROL> (1 of 2)" in str(updated["blocks"])
    assert updated["blocks"][-1]["type"] == "actions"  # still waiting for a second person


async def test_exec_output_goes_to_the_requesters_dm(slack: SlackEmulator) -> None:
    pod = "web-app-7c9d8f6b5d-x2k9p"
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> exec {pod} -- df -h")
    card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                     if m["text"].startswith("Approval needed")), None))
    assert "Run `df -h` in pod shop/" in str(card["blocks"])
    action_id = card["blocks"][-1]["elements"][0]["value"]
    await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve", action_id)
    dm = slack.state.im_with("U0ALICE").id
    [output] = await until(lambda: [m for m in bot_messages(slack, dm)
                                    if "Filesystem" in m["text"]])
    assert output["text"].startswith("$ df -h")
    updated = slack.state.messages[("C0SHOP", card["ts"])]
    assert "The output went to <@U0ALICE> in a direct message." in str(updated["blocks"])
    assert "Filesystem" not in str(updated["blocks"])
