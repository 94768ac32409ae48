"""Two replicas of the bot against one Slack emulator, one Postgres and the sandbox: one is a
real `hexabot run` process, the other runs in this test.  The emulator spreads envelopes over
both connections, as Slack does.  Each event is answered once (also when Slack re-delivers it
to the other replica), two clicks on one card landing on different replicas execute once, and
after the process replica is killed (SIGKILL) nothing is lost: the card it posted is approved
through the survivor and runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sandbox.slack.server import slack_emulator
from sandbox.slack.state import BOT_USER
from tests.sandbox_support import ThreadedSandbox
from tests.services import fetch_rows, free_port
from tests.slack_support import (
    answered,
    bot,
    bot_messages,
    people,
    process_env,
    start_process,
    until,
    until_delivered,
)


async def test_two_replicas_share_the_work_once_and_survive_a_kill(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    async with slack_emulator() as slack:
        people(slack)
        async with bot(slack, database_url, sandbox, tmp_path):  # replica B, in this test
            env = process_env(slack, database_url, tmp_path / "directory.yaml", tmp_path,
                              free_port())
            replica_a = await start_process(env, tmp_path)
            try:
                await until(lambda: len(slack.hub.connections) == 2)

                # each event once, spread over both replicas
                dm = slack.state.im_with("U0ALICE").id
                first = len(slack.hub.routes)
                for _ in range(6):
                    await slack.say("U0ALICE", dm, "pods")
                await until(lambda: len(answered(slack, dm)) >= 6)
                assert set(slack.hub.routes[first:]) == {0, 1}
                # Slack re-delivers the last event (its ack was "lost"): to the other replica
                event = next(e for e in reversed(slack.hub.delivered)
                             if e["type"] == "events_api")
                await slack.hub.deliver("events_api", event["payload"])
                await until_delivered(database_url, event["payload"]["event_id"], 2)
                assert len(answered(slack, dm)) == 6

                # two clicks on one card, one on each replica: one execution
                await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale api-service 5")
                card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                                 if m["text"].startswith("Approval needed")),
                                                None))
                action = card["blocks"][-1]["elements"][0]["value"]
                await asyncio.gather(*(slack.click("U0CAROL", "C0SHOP", card["ts"], "approve",
                                                   action) for _ in range(2)))
                await until(lambda: sandbox.obj("apps", "v1", "deployments", "shop",
                                                "api-service")["spec"]["replicas"] == 5)
                executed = await fetch_rows(
                    database_url, "SELECT count(*) AS n FROM audit_outbox WHERE event->>'kind'"
                    f" = 'confirmation.execute' AND event->>'confirmation_id' = '{action}'")
                assert executed[0]["n"] == 1
                assert (await fetch_rows(database_url, "SELECT state FROM pending_actions "
                                         f"WHERE id = '{action}'"))[0]["state"] == "succeeded"

                # a card posted before the kill is approved through the survivor
                await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale web-app 4")
                second = await until(lambda: next(
                    (m for m in bot_messages(slack, "C0SHOP") if m["text"].startswith(
                        "Approval needed") and m["ts"] != card["ts"]), None))
                replica_a.kill()  # SIGKILL: no graceful shutdown at all
                await replica_a.wait()
                await until(lambda: len(slack.hub.connections) == 1)
                await slack.click("U0CAROL", "C0SHOP", second["ts"], "approve",
                                  second["blocks"][-1]["elements"][0]["value"])
                await until(lambda: sandbox.obj("apps", "v1", "deployments", "shop",
                                                "web-app")["spec"]["replicas"] == 4)
                await slack.say("U0ALICE", dm, "pods")
                await until(lambda: len(answered(slack, dm)) == 7)
            finally:
                if replica_a.returncode is None:
                    replica_a.kill()
                    await replica_a.wait()
