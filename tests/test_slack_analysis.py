"""Issue #9 through Slack: a performance answer with its PNG chart uploaded to the
conversation, and a workflow whose approval card, once clicked, resumes the run and reports
in the thread.  The real Bolt app against the Slack emulator, the sandbox and Postgres."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.prom_stub import PrometheusStub, Workload, serve
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import answered, bot_messages, connected_emulator, until

WEB_PODS = ["web-app-7c9d8f6b5d-x2k9p", "web-app-7c9d8f6b5d-m4n7q", "web-app-7c9d8f6b5d-t8w3z"]


@pytest.fixture
async def slack(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackEmulator]:
    stub = PrometheusStub({"web-app": Workload("shop", WEB_PODS, cpu=[0.4, 0.6, 0.5],
                                               memory=[8e8, 9e8, 8.5e8], latency=0.09,
                                               errors=0.01)})
    async with serve(stub), connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                               prometheus_url=stub.url) as (emulator, _):
        yield emulator


async def test_performance_answer_comes_with_its_chart(slack: SlackEmulator) -> None:
    dm = slack.state.im_with("U0ALICE").id
    await slack.say("U0ALICE", dm, "performance web-app")
    shared = await until(lambda: [m for m in answered(slack, dm) if m.get("files")])
    [file] = shared[0]["files"]
    assert (file["name"], file["mimetype"]) == ("shop-usage.png", "image/png")
    [stored] = [f for f in slack.state.files if f["id"] == file["id"]]
    assert stored["content"].startswith(b"\x89PNG\r\n\x1a\n") and stored["shared"][0] == dm
    [text] = [m for m in answered(slack, dm) if not m.get("files")]
    assert "p95 latency 90.0 ms, errors 1.00%" in text["text"]


async def test_workflow_card_click_resumes_the_run_in_its_thread(
        slack: SlackEmulator, sandbox: ThreadedSandbox) -> None:
    asked = await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> workflow scale_application "
                            "name=web-app replicas=4")
    card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                     if m["text"].startswith("Approval needed")), None))
    assert card["thread_ts"] == asked["ts"]
    await slack.click("U0CAROL", "C0SHOP", card["ts"], "approve",
                      card["blocks"][-1]["elements"][0]["value"])
    report = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                       if "(succeeded)" in m["text"]), None))
    assert report["thread_ts"] == asked["ts"]
    assert re.search(r"Scaled shop/web-app from 3 to 4 \(approval #\w+ by U0CAROL\)",
                     report["text"]), report["text"]
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"][
        "replicas"] == 4
