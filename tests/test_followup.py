"""An approved change is followed until it converges, and the outcome told in its card's
thread: against the sandbox's controllers (pods start, images crash, metrics follow load) and
the real Bolt app in the Slack emulator."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.kube.images import Crash
from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.prom_stub import PrometheusStub, Workload, serve
from tests.sandbox_support import ThreadedSandbox
from tests.services import fetch_rows, free_port
from tests.slack_support import bot, bot_messages, connected_emulator, people, until

FAST = {"sweep_interval_seconds": 0.2}
WEB_PODS = ["web-app-7c9d8f6b5d-x2k9p", "web-app-7c9d8f6b5d-m4n7q", "web-app-7c9d8f6b5d-t8w3z"]


def thread(slack: SlackEmulator, channel: str, parent: str) -> list[dict[str, Any]]:
    return [m for m in bot_messages(slack, channel) if m.get("thread_ts") == parent]


async def approve(slack: SlackEmulator, request: str) -> tuple[dict[str, Any], str]:
    """alice asks in #shop, carol approves; (the card, the thread it is in)."""
    asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> {request}")
    card = await until(lambda: next((m for m in thread(slack, "C0SHOP", asked["ts"])
                                     if m["text"].startswith("Approval needed")), None))
    await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve",
                      card["blocks"][-1]["elements"][0]["value"])
    await until(lambda: "*Succeeded*" in str(slack.state.messages[("C0SHOP", card["ts"])]
                                             ["blocks"]), 30)
    return card, asked["ts"]


async def followed_rows(database_url: str) -> list[tuple[Any, ...]]:
    """The followups rows, once there are any (one is recorded right after the card says the
    change succeeded)."""
    for _ in range(400):
        rows = await fetch_rows(database_url, "SELECT state FROM followups WHERE state <> "
                                "'proposed'")
        if rows:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError("no followed change was recorded")


def followed(slack: SlackEmulator, parent: str, name: str) -> list[dict[str, Any]]:
    return [m for m in thread(slack, "C0SHOP", parent)
            if m["text"].startswith(f"Deployment {name}")]


@pytest.fixture
def slow_pods(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """The demo cluster with pods that take a second to become ready (as real ones take
    seconds): the usage baseline, read right after the change is applied, is from before the
    new pods share the load."""
    sb = ThreadedSandbox(None, tmp_path, pod_start_delay=1.0).start()
    sb.settle(0.1)
    yield sb
    sb.stop()


async def test_a_scale_is_followed_until_ready(database_url: str, slow_pods: ThreadedSandbox,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With Prometheus configured, latency and errors before and after are told too (the
    stub's figures change once the change is applied, as traffic spreads)."""
    stub = PrometheusStub({"web-app": Workload("shop", WEB_PODS, latency=0.18, errors=0.012)})
    async with serve(stub), connected_emulator(database_url, slow_pods, tmp_path, monkeypatch,
                                               prometheus_url=stub.url, **FAST) as (slack, _):
        asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale web-app 4")
        card = await until(lambda: next((m for m in thread(slack, "C0SHOP", asked["ts"])
                                         if m["text"].startswith("Approval needed")), None))
        await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve",
                          card["blocks"][-1]["elements"][0]["value"])
        await followed_rows(database_url)  # the baseline is read: now traffic spreads
        stub.workloads["web-app"].latency, stub.workloads["web-app"].errors = 0.12, 0.001
        parent = asked["ts"]
        [told] = await until(lambda: followed(slack, parent, "web-app"), 30)
    text = told["text"]
    match = re.fullmatch(r"Deployment web-app: 4/4 ready in ([\d.]+) s; CPU (\d+)m → (\d+)m "
                         r"per pod \((\d+)% → (\d+)% of its limit\); memory (\d+)Mi → (\d+)Mi "
                         r"per pod \(\d+% → \d+% of its limit\); p95 latency 180 → 120 ms; "
                         r"errors 1\.20% → 0\.10%\.", text)
    assert match, text
    before, after = int(match[2]), int(match[3])
    assert after < before  # the same load over four pods instead of three
    assert abs(after - before * 3 / 4) <= 2
    assert match[6] == match[7]  # memory does not spread with load
    rows = await fetch_rows(database_url, "SELECT state, outcome FROM followups")
    assert rows == [("converged", text)]
    kinds = await fetch_rows(database_url, "SELECT event->>'kind', event->>'outcome' FROM "
                             "audit_outbox WHERE event->>'kind' LIKE 'followup.%' ORDER BY id")
    assert kinds == [("followup.start", "ok"), ("followup.converged", "ok")]


async def test_a_crash_looping_rollout_gets_the_diagnosis_and_a_rollback_card(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The image web-app runs was overwritten with a broken build: a restart pulls it.  The
    registry is mended, the rollback approved: it is followed too, until ready — and a
    rollback that converges proposes no undo of its own."""
    sandbox.call(lambda: sandbox.sc.cluster.images.set(
        "nginx:1.27", Crash(exit_code=1, reason="Error", message="config not found")))
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        card, parent = await approve(slack, "restart web-app")
        [told] = await until(lambda: followed(slack, parent, "web-app"), 30)
        rollback = await until(lambda: [m for m in thread(slack, "C0SHOP", parent)
                                        if m["text"].startswith("Approval needed")
                                        and m["ts"] != card["ts"]])
        action = rollback[0]["blocks"][-1]["elements"][0]["value"]
        [(state, undo)] = await fetch_rows(database_url, "SELECT state, rollback_action FROM "
                                           "followups WHERE state <> 'proposed'")
        assert state == "failed" and undo == action
        [(pending,)] = await fetch_rows(database_url, "SELECT state FROM pending_actions "
                                        f"WHERE id = '{action}'")
        assert pending == "pending"  # proposed, never applied on the bot's say-so
        # the rollback is followed from the usage read when it was proposed
        assert await fetch_rows(database_url, "SELECT action_id FROM followups WHERE state = "
                                "'proposed'") == [(action,)]

        sandbox.call(lambda: sandbox.sc.cluster.images.set("nginx:1.27", None))
        await slack.click("U0CAROL", "C0SHOP", rollback[0]["ts"], "approve", action)
        second = await until(lambda: followed(slack, parent, "web-app")[1:], 30)
    assert told["text"].startswith("Deployment web-app did not converge: ")
    assert "CrashLoopBackOff" in told["text"] and "Diagnosis: " in told["text"]
    assert "The undo needs approval: Roll back deployment shop/web-app from revision 2 to " \
        "revision 1" in told["text"]
    assert "Roll back deployment shop/web-app" in rollback[0]["text"]
    # the old revision's crash-looping pods are gone or going: the rollback is judged on its own
    assert second[0]["text"].startswith("Deployment web-app: 3/3 ready in "), second[0]["text"]
    assert [s for (s,) in await fetch_rows(database_url, "SELECT state FROM followups ORDER "
                                           "BY started_at")] == ["failed", "converged"]


async def test_new_replicas_that_crash_get_the_old_count_proposed(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A scale whose new pods cannot run: the undo is the old replica count, not a
    rollback of a template that did not change."""
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale web-app 5")
        card = await until(lambda: next((m for m in thread(slack, "C0SHOP", asked["ts"])
                                         if m["text"].startswith("Approval needed")), None))
        sandbox.call(lambda: sandbox.sc.cluster.images.set("nginx:1.27", Crash()))
        await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve",
                          card["blocks"][-1]["elements"][0]["value"])
        [told] = await until(lambda: followed(slack, asked["ts"], "web-app"), 30)
    assert told["text"].startswith("Deployment web-app did not converge: 3/5 ready; 2 of 5 "
                                   "pods CrashLoopBackOff"), told["text"]
    assert "The undo needs approval: Scale deployment shop/web-app from 5 to 3 replicas" \
        in told["text"]


async def test_a_replica_restart_in_between_still_tells_once(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The replica that executed the change stops before the rollout is ready (its background
    loop never ran: a long sweep interval); two replicas started afterwards find the row in
    Postgres and one of them tells the outcome."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    sandbox.call(lambda: sandbox.sc.cluster.images.set("nginx:1.27", None))
    async with contextlib.AsyncExitStack() as stack:
        from sandbox.slack.server import slack_emulator

        slack = await stack.enter_async_context(slack_emulator())
        people(slack)
        (tmp_path / "one").mkdir()
        async with bot(slack, database_url, sandbox, tmp_path / "one",
                       sweep_interval_seconds=3600):
            _, parent = await approve(slack, "scale web-app 5")
            assert await followed_rows(database_url) == [("following",)]
        for replica in ("two", "three"):
            (tmp_path / replica).mkdir()
            await stack.enter_async_context(bot(slack, database_url, sandbox,
                                                tmp_path / replica, **FAST))
        await until(lambda: followed(slack, parent, "web-app"), 30)
        await asyncio.sleep(1.0)  # both replicas' loops run several rounds meanwhile
        told = followed(slack, parent, "web-app")
    assert len(told) == 1 and told[0]["text"].startswith("Deployment web-app: 5/5 ready in ")
    ends = await fetch_rows(database_url, "SELECT count(*) FROM audit_outbox WHERE "
                            "event->>'kind' = 'followup.converged'")
    assert ends == [(1,)]


async def test_a_rejected_change_is_not_followed(database_url: str, sandbox: ThreadedSandbox,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  **FAST) as (slack, _):
        asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale web-app 4")
        card = await until(lambda: next((m for m in thread(slack, "C0SHOP", asked["ts"])
                                         if m["text"].startswith("Approval needed")), None))
        assert await fetch_rows(database_url, "SELECT state FROM followups") == [
            ("proposed",)]  # the baseline, read when proposed
        await slack.click("U0CAROL", "C0SHOP", card["ts"], "reject",
                          card["blocks"][-1]["elements"][1]["value"])
        await until(lambda: "*Rejected*" in str(slack.state.messages[("C0SHOP", card["ts"])]
                                                ["blocks"]))
        for _ in range(100):
            if not await fetch_rows(database_url, "SELECT 1 FROM followups"):
                break
            await asyncio.sleep(0.05)
        assert await fetch_rows(database_url, "SELECT 1 FROM followups") == []
        assert not followed(slack, asked["ts"], "web-app")


async def test_a_prometheus_that_does_not_answer_leaves_out_its_figures(
        database_url: str, slow_pods: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault: Prometheus (optional) is down — the change is still followed and told, with the
    metrics-server figures only."""
    dead = f"http://127.0.0.1:{free_port()}"
    async with connected_emulator(database_url, slow_pods, tmp_path, monkeypatch,
                                  prometheus_url=dead, **FAST) as (slack, _):
        _, parent = await approve(slack, "scale web-app 4")
        [told] = await until(lambda: followed(slack, parent, "web-app"), 30)
    assert told["text"].startswith("Deployment web-app: 4/4 ready in "), told["text"]
    assert "CPU " in told["text"] and "latency" not in told["text"]
    assert await fetch_rows(database_url, "SELECT state FROM followups") == [("converged",)]
