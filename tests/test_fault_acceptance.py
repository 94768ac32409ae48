"""Issue 19's acceptance, end to end with real servers: three `hexabot run` processes on one
Slack emulator, a PostgreSQL of the test's own that it stops and starts, ClickHouse stopped and
started, and the sandbox holding writes.

- a replica that starts while another is executing leaves the live lease alone; the action
  succeeds once the held write lands (never "failed" while the cluster changed);
- the replica executing an action is SIGKILLed with the write in flight: once its lease runs out
  a survivor settles the action from the cluster, and the database agrees with the cluster;
- PostgreSQL stopped: a DM is answered (the placeholder replaced, naming the database), an
  approval click is answered to the clicker, every replica survives, and both work again once
  PostgreSQL is back;
- ClickHouse stopped: events wait in the outbox; afterwards every event is in ClickHouse exactly
  once (none lost, none duplicated), and no action is left executing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.audit.clickhouse import apply_ddl
from app.database import asyncpg_url, ensure_database
from sandbox.kube.faults import Faults, parse_rule
from sandbox.slack.server import SlackEmulator, slack_emulator
from sandbox.slack.state import BOT_USER
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox
from tests.services import ClickHouse, StoppablePostgres, fetch_rows, free_port
from tests.slack_support import answered, bot_messages, people, process_env, start_process, until

LEASE = 3.0  # seconds: a dead replica's action is settled this long after its last heartbeat
BOUND = 20.0  # seconds: every click and message is answered within this, whatever is down
REQUEST_ID = re.compile(r"\(request id [0-9a-f]{12,32}\)")


@pytest.fixture
def postgres(tmp_path: Path) -> Any:
    server = StoppablePostgres(tmp_path / "own-pg")
    yield server
    with contextlib.suppress(Exception):
        server.start()  # cleanup expects a running server
    server.cleanup()


@contextlib.asynccontextmanager
async def replicas() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """The `hexabot run` processes a test starts; all killed at the end."""
    running: list[asyncio.subprocess.Process] = []
    try:
        yield running
    finally:
        for process in running:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def start_replica(slack: SlackEmulator, database_url: str, directory: Path,
                        workdir: Path, clickhouse_url: str) -> asyncio.subprocess.Process:
    env = process_env(slack, database_url, directory, workdir, free_port(),
                      HEXABOT_CLICKHOUSE_URL=clickhouse_url,
                      HEXABOT_EXECUTION_LEASE_SECONDS=str(LEASE),
                      HEXABOT_SWEEP_INTERVAL_SECONDS="0.5")
    return await start_process(env, workdir)


async def state_of(database_url: str, action: str) -> str:
    rows = await fetch_rows(database_url,
                            f"SELECT state FROM pending_actions WHERE id = '{action}'")
    return str(rows[0]["state"])


async def card_for(slack: SlackEmulator, request: str, seen: set[str]) -> tuple[str, str]:
    """alice asks for a change in #shop; the new card's (ts, action id)."""
    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> {request}")
    try:
        card = await until(lambda: next((m for m in bot_messages(slack, "C0SHOP")
                                         if m["text"].startswith("Approval needed")
                                         and m["ts"] not in seen), None), BOUND)
    except AssertionError:
        raise AssertionError(f"no card for {request!r}; the bot said: "
                             f"{[m['text'][:300] for m in bot_messages(slack, 'C0SHOP')]}"
                             ) from None
    seen.add(card["ts"])
    return card["ts"], card["blocks"][-1]["elements"][0]["value"]


def replicas_of(sandbox: ThreadedSandbox, name: str) -> int:
    found = sandbox.obj("apps", "v1", "deployments", "shop", name)
    assert found is not None
    return int(found["spec"]["replicas"])


async def test_replicas_survive_held_writes_kills_and_outages(
        postgres: StoppablePostgres, clickhouse: ClickHouse, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    admin = asyncpg_url(postgres.admin_url())
    await ensure_database(admin, "hexabot")
    database_url = admin.set(database="hexabot").render_as_string(hide_password=False)
    audit_db = "fa_" + tmp_path.name.replace("-", "_")[-24:]
    clickhouse.query(f"CREATE DATABASE IF NOT EXISTS {audit_db}")
    clickhouse_url = f"clickhouse://default@127.0.0.1:{clickhouse.tcp_port}/{audit_db}"
    await apply_ddl(clickhouse_url)
    faults = Faults()
    sandbox = ThreadedSandbox(None, tmp_path / "sandbox", pod_start_delay=0.05,
                              job_run_seconds=0.1, faults=faults).start()
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    held = parse_rule("hold", "patch:deployments")
    seen: set[str] = set()
    try:
        async with slack_emulator() as slack:
            people(slack)
            async with replicas() as running:
                async def start(name: str) -> asyncio.subprocess.Process:
                    (tmp_path / name).mkdir()
                    process = await start_replica(slack, database_url, directory,
                                                  tmp_path / name, clickhouse_url)
                    running.append(process)
                    await until(lambda: len(slack.hub.connections) == len(
                        [p for p in running if p.returncode is None]), BOUND)
                    return process

                await start("a")
                await start("b")

                # 1. a replica starting mid-execution leaves the live lease alone
                _, first = await card_for(slack, "scale api-service 4", seen)
                sandbox.call(lambda: faults.rules.append(held))
                await slack.click("U0CAROL", *_card(slack, first), "approve", first)
                await until(lambda: sandbox.call(lambda: faults.held) == 1, BOUND)
                await start("c")  # its start-up recovery runs before it is ready
                await asyncio.sleep(2 * LEASE)  # heartbeats keep the lease; sweeps run
                assert await state_of(database_url, first) == "executing"
                sandbox.call(lambda: faults.rules.remove(held))  # proposals dry-run writes
                assert sandbox.call(faults.release) == 1
                await until_state(database_url, first, "succeeded")
                assert replicas_of(sandbox, "api-service") == 4

                # 2. the executing replica dies with the write in flight
                _, second = await card_for(slack, "scale web-app 5", seen)
                sandbox.call(lambda: faults.rules.append(held))
                await slack.click("U0CAROL", *_card(slack, second), "approve", second)
                await until(lambda: sandbox.call(lambda: faults.held) == 1, BOUND)
                [row] = await fetch_rows(database_url, "SELECT lease_owner FROM "
                                         f"pending_actions WHERE id = '{second}'")
                pid = int(row["lease_owner"].split(":")[1])
                victim = next(p for p in running if p.pid == pid)
                os.kill(pid, signal.SIGKILL)
                await victim.wait()
                sandbox.call(lambda: faults.rules.remove(held))
                assert sandbox.call(faults.release) == 1  # the server commits it anyway
                await until_state(database_url, second, "succeeded", LEASE + BOUND)
                assert replicas_of(sandbox, "web-app") == 5  # the database agrees

                # 3. PostgreSQL stopped: messages and clicks are answered, replicas survive
                _, third = await card_for(slack, "scale api-service 3", seen)
                dm = slack.state.im_with("U0ALICE").id
                before = len(answered(slack, dm))
                postgres.stop()
                try:
                    await slack.say("U0ALICE", dm, "pods")
                    reply = await until(lambda: answered(slack, dm)[before:], BOUND)
                    assert "Hexabot's database (PostgreSQL) is unavailable" in reply[0]["text"]
                    assert REQUEST_ID.search(reply[0]["text"]), reply[0]["text"]
                    assert all(m["text"] != "working…" for m in bot_messages(slack, dm))
                    await slack.click("U0CAROL", *_card(slack, third), "approve",
                                      third)
                    [own] = await until(lambda: [e for e in slack.state.ephemeral
                                                 if e["user"] == "U0CAROL"], BOUND)
                    assert "PostgreSQL" in own["text"], own["text"]
                    await asyncio.sleep(2)  # background loops meet the outage too
                finally:
                    postgres.start()
                alive = [p for p in running if p.returncode is None]
                assert len(alive) == 2, "a replica died of the PostgreSQL outage"
                await slack.say("U0ALICE", dm, "pods")
                await until(lambda: "web-app" in answered(slack, dm)[-1]["text"], BOUND)
                await slack.click("U0CAROL", *_card(slack, third), "approve", third)
                await until_state(database_url, third, "succeeded")
                assert replicas_of(sandbox, "api-service") == 3

                # 4. ClickHouse stopped: the audit waits in the outbox and lands exactly once
                clickhouse.pause()
                try:
                    _, fourth = await card_for(slack, "restart web-app", seen)
                    await slack.click("U0CAROL", *_card(slack, fourth), "approve",
                                      fourth)
                    await until_state(database_url, fourth, "succeeded")
                    await asyncio.sleep(2)  # shippers meet the outage
                finally:
                    clickhouse.resume()
                await until_shipped(database_url)

            outbox = await fetch_rows(database_url, "SELECT event_id::text AS id FROM "
                                      "audit_outbox")
            stored = clickhouse.query(f"SELECT event_id FROM {audit_db}.audit_events").split()
            assert len(stored) == len(set(stored)), "an audit event was shipped twice"
            assert set(stored) == {r["id"] for r in outbox}, "an audit event was lost"
            stuck = await fetch_rows(database_url, "SELECT id, state FROM pending_actions "
                                     "WHERE state IN ('approved', 'executing')")
            assert stuck == []
            executed = await fetch_rows(database_url, "SELECT event->>'confirmation_id' AS id,"
                                        " count(*) AS n FROM audit_outbox WHERE event->>'kind'"
                                        " = 'confirmation.execute' GROUP BY 1")
            assert {r["id"]: r["n"] for r in executed} == {
                first: 1, second: 1, third: 1, fourth: 1}
    finally:
        sandbox.stop()


def _card(slack: SlackEmulator, action: str) -> tuple[str, str]:
    """The channel and ts of the card for ``action``."""
    for (channel, ts), message in slack.state.messages.items():
        blocks = message.get("blocks") or []
        if blocks and any(e.get("value") == action for e in blocks[-1].get("elements", [])):
            return channel, ts
    raise AssertionError(f"no card for {action}")


async def until_state(database_url: str, action: str, state: str, seconds: float = BOUND
                      ) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    current = ""
    while asyncio.get_running_loop().time() < deadline:
        with contextlib.suppress(OSError):
            current = await state_of(database_url, action)
            if current == state:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{action} is {current!r}, not {state!r}")


async def until_shipped(database_url: str, seconds: float = BOUND) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        rows = await fetch_rows(database_url, "SELECT count(*) AS n FROM audit_outbox "
                                "WHERE shipped_at IS NULL")
        if rows[0]["n"] == 0:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{rows[0]['n']} audit events still unshipped")
