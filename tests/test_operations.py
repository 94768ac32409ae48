"""Operating the bot: the HTTP server's health, readiness and metrics, and
graceful shutdown — in process against the Slack emulator, and `hexabot run` as a real process
stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from app.audit.clickhouse import apply_ddl
from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, slack_emulator
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox
from tests.services import ClickHouse, fetch_rows, free_port
from tests.slack_support import (
    answered,
    connected_emulator,
    process_env,
    start_process,
    until,
)


def metric(page: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text page (0 when absent)."""
    for line in page.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_health_readiness_and_metrics(database_url: str, sandbox: ThreadedSandbox,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as (
            slack, bot), httpx.AsyncClient(base_url=bot.http_url, trust_env=False) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["slack"] == {"ok": True, "detail": "connected"}
        assert ready.json()["checks"]["database"]["detail"].startswith("schema at head")

        before = (await http.get("/metrics")).text
        dm = slack.state.im_with("U0ALICE").id
        await slack.say("U0ALICE", dm, "pods")
        await until(lambda: answered(slack, dm))
        await slack.say("U0ALICE", "C0SHOP", "<@UHEXABOT> scale api-service 3")
        await until(lambda: [m for m in answered(slack, "C0SHOP")
                             if m["text"].startswith("Approval needed")])
        page = (await http.get("/metrics")).text
        kind = {"type": "events_api"}
        assert metric(page, "hexabot_slack_events_received_total", **kind) >= \
            metric(before, "hexabot_slack_events_received_total", **kind) + 2
        assert metric(page, "hexabot_slack_events_acked_total", **kind) >= 2
        assert metric(page, "hexabot_slack_ack_seconds_count", **kind) >= 2
        assert metric(page, "hexabot_tool_calls_total", tool="list_pods", effect="read",
                      outcome="ok") >= 1
        assert metric(page, "hexabot_confirmation_events_total", step="propose",
                      outcome="ok") >= 1
        assert metric(page, "hexabot_confirmations", state="pending") == 1
        assert metric(page, "hexabot_audit_outbox_unshipped") >= 3  # no ClickHouse here
        assert "hexabot_kubernetes_api_errors_total" in page
        # start-up's objects are out of the collector's way while the bot runs (app.collector)
        assert metric(page, "hexabot_gc_pause_seconds_count", generation="2") >= 1
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


async def test_graceful_shutdown_finishes_work_in_flight(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        clickhouse: ClickHouse) -> None:
    database = "shutdown_" + tmp_path.name.replace("-", "_")[-24:]
    clickhouse.query(f"CREATE DATABASE IF NOT EXISTS {database}")
    url = f"clickhouse://default@127.0.0.1:{clickhouse.tcp_port}/{database}"
    await apply_ddl(url)
    slow = ThreadedSandbox(None, tmp_path, latency=0.7).start()  # each API call takes 0.7 s
    try:
        async with httpx.AsyncClient(trust_env=False) as http, \
                contextlib.AsyncExitStack() as stack:
            slack, bot = await stack.enter_async_context(connected_emulator(
                database_url, slow, tmp_path, monkeypatch, shutdown_timeout_seconds=20,
                clickhouse_url=url))
            readyz = f"{bot.http_url}/readyz"
            dm = slack.state.im_with("U0ALICE").id
            await slack.say("U0ALICE", dm, "How is my web app doing?")  # several slow calls
            await until(lambda: [m for m in slack.state.history(dm) if m.get("bot_id")])
            shutdown = asyncio.create_task(stack.aclose())
            drained = await until(lambda: not slack.hub.connections)
            assert drained and (await http.get(readyz)).status_code == 503
            assert answered(slack, dm) == []  # still working when the socket closed …
            await shutdown
        [reply] = answered(slack, dm)  # … and finished before the bot stopped
        assert "deployment shop/web-app: 3/3 ready" in reply["text"]
        # the audit of that late turn was flushed to ClickHouse on the way out
        [left] = await fetch_rows(database_url, "SELECT count(*) AS n FROM audit_outbox "
                                  "WHERE shipped_at IS NULL")
        assert left["n"] == 0
        shipped = clickhouse.query(f"SELECT count() FROM {database}.audit_events WHERE "
                                   "kind = 'chat.request'").strip()
        assert shipped == "1"
    finally:
        slow.stop()


def test_hexabot_run_exits_cleanly_on_sigterm(database_url: str, sandbox: ThreadedSandbox,
                                              tmp_path: Path) -> None:
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    port = free_port()

    async def scenario() -> tuple[int, str, str]:
        async with slack_emulator() as emulator:
            env = process_env(emulator, database_url, directory, tmp_path, port,
                              HEXABOT_LOG_FORMAT="json", HEXABOT_LOG_LEVEL="DEBUG")
            process = await start_process(env, tmp_path, stdout=subprocess.PIPE)
            assert emulator.hub.connections
            process.send_signal(signal.SIGTERM)
            output, errors = await asyncio.wait_for(process.communicate(), 60)
            await until(lambda: not emulator.hub.connections)
            return process.returncode or 0, output.decode(), errors.decode()

    code, output, log = asyncio.run(scenario())
    assert code == 0, log
    assert output.splitlines()[-1] == "stopped"
    entries = [json.loads(line) for line in log.splitlines()]  # every log line is JSON
    assert any(e["logger"] == "hexabot.slack" and "connected to Slack" in e["message"]
               for e in entries)
    assert any(e["level"] == "DEBUG" for e in entries)  # the chatty libraries too …
    password = database_url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    for secret in (BOT_TOKEN, APP_TOKEN, *([password] if password else [])):
        assert secret not in log and secret not in output  # … and still no secret


def test_llm_calls_are_counted_from_their_audit_events() -> None:
    from tools import metrics
    from tools.audit import AuditEvent

    def value(name: str, **labels: str) -> float:
        return metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("hexabot_llm_tokens_total", provider="ollama", model="m1",
                   direction="input")
    metrics.observe(AuditEvent(kind="llm.call", actor="U0ALICE", outcome="ok", detail={
        "provider": "ollama", "model": "m1", "input_tokens": 800, "output_tokens": 40,
        "cost_usd": 0.0012}))
    assert value("hexabot_llm_tokens_total", provider="ollama", model="m1",
                 direction="input") == before + 800
    assert value("hexabot_llm_calls_total", provider="ollama", model="m1", outcome="ok") >= 1
    assert value("hexabot_llm_cost_usd_total", provider="ollama", model="m1") >= 0.0012
