"""Every door answers a failure (issue 19, parts 1 and 5): Slack, the CLI, the chat API and
/readyz say what failed, what still works and the request id — never a traceback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agents.types import Ask, Reply
from app.api import boundary
from app.services import Services
from sandbox.kube.faults import Faults, parse_rule
from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.confirm_support import cli_env
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.services import fetch_rows
from tests.slack_support import answered, bot_messages, connected_emulator, until
from tools import errors

REQUEST_ID = re.compile(r"\(request id [0-9a-f]{12,32}\)")
CLOSED_POSTGRES = "postgresql+asyncpg://hexabot:x@127.0.0.1:1/hexabot"  # nothing listens there
REVIEWS_DOWN = parse_rule("fail", "create:subjectaccessreviews=1:503")


async def query_a_stopped_postgres() -> None:
    """What a store does when PostgreSQL is down: the driver's own error escapes."""
    engine = create_async_engine(CLOSED_POSTGRES)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


class DownAgent:
    """The chat agent's interface (``handle``) with PostgreSQL gone under it."""

    async def handle(self, ask: Ask) -> Reply:
        await query_a_stopped_postgres()
        raise AssertionError("unreachable")


class BuggyAgent:
    async def handle(self, ask: Ask) -> Reply:
        raise RuntimeError("secret internals that must not reach the user")


class DownIdentity:
    """The identity service's ``context`` with PostgreSQL gone under it."""

    async def context(self, user: str, **_: Any) -> Any:
        await query_a_stopped_postgres()


@pytest.fixture
async def slack(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch
                ) -> AsyncIterator[tuple[SlackEmulator, Services]]:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as found:
        yield found


async def test_a_dm_with_postgres_down_replaces_the_placeholder(
        slack: tuple[SlackEmulator, Services]) -> None:
    emulator, services = slack
    services.agent = DownAgent()  # type: ignore[assignment]
    dm = emulator.state.im_with("U0ALICE").id
    await emulator.say("U0ALICE", dm, "pods")
    [reply] = await until(lambda: answered(emulator, dm))
    assert len(bot_messages(emulator, dm)) == 1  # the "working…" placeholder, replaced
    assert "Hexabot's database (PostgreSQL) is unavailable" in reply["text"]
    assert "your cluster is untouched and pending approvals are kept" in reply["text"]
    assert REQUEST_ID.search(reply["text"]), reply["text"]


async def test_an_unexpected_error_in_a_mention_answers_with_a_request_id(
        slack: tuple[SlackEmulator, Services]) -> None:
    emulator, services = slack
    services.agent = BuggyAgent()  # type: ignore[assignment]
    asked = await emulator.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> pods")
    [reply] = await until(lambda: answered(emulator, "C0SHOP"))
    assert reply["thread_ts"] == asked["ts"]
    assert reply["text"].startswith("Something went wrong on Hexabot's side")
    assert REQUEST_ID.search(reply["text"]) and "secret internals" not in reply["text"]


async def test_a_slash_command_with_postgres_down_answers_ephemerally(
        slack: tuple[SlackEmulator, Services]) -> None:
    emulator, services = slack
    services.identity = DownIdentity()  # type: ignore[assignment]
    await emulator.slash("U0ALICE", "C0SHOP", "whoami")
    [own] = await until(lambda: [e for e in emulator.state.ephemeral if e["user"] == "U0ALICE"])
    assert "PostgreSQL" in own["text"] and REQUEST_ID.search(own["text"]), own["text"]


async def test_an_approval_with_the_kubernetes_api_down_answers_the_clicker(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults()  # the access reviews fail once the card is up
    sandbox = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, faults=faults).start()
    try:
        async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch) as (
                emulator, _):
            await emulator.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale api-service 4")
            card = await until(lambda: next((m for m in bot_messages(emulator, "C0SHOP")
                                             if m["text"].startswith("Approval needed")), None))
            action_id = card["blocks"][-1]["elements"][0]["value"]
            faults.rules.append(REVIEWS_DOWN)
            await emulator.click("U0CAROL", "C0SHOP", card["ts"], "approve", action_id)
            [own] = await until(lambda: [e for e in emulator.state.ephemeral
                                         if e["user"] == "U0CAROL"])
            assert "The Kubernetes API server is unavailable" in own["text"], own["text"]
            assert "Pending approvals stay pending" in own["text"]
            assert REQUEST_ID.search(own["text"])
            # the card still offers its buttons: nothing was decided
            assert emulator.state.messages[("C0SHOP", card["ts"])]["blocks"][-1][
                "type"] == "actions"
            assert sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
                "replicas"] != 4
    finally:
        sandbox.stop()


async def test_readiness_names_a_dependency_that_is_down(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  clickhouse_url="clickhouse://default@127.0.0.1:1/none") as (
            _, services), httpx.AsyncClient(trust_env=False) as http:
        ready = await http.get(f"{services.http_url}/readyz")
    body = ready.json()
    assert ready.status_code == 200, body  # ClickHouse down: degraded, still in rotation
    assert body["down"] == ["clickhouse"]
    assert body["checks"]["clickhouse"]["ok"] is False
    assert "Audit events wait in Hexabot's database" in body["checks"]["clickhouse"]["impact"]


async def test_cli_approve_with_the_kubernetes_api_down_is_one_line(
        clean_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    faults = Faults()  # the access reviews fail once the action is proposed
    sandbox = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, faults=faults).start()
    try:
        env = cli_env(clean_env, database_url, sandbox, tmp_path)
        proposed = run_cli(["tools", "run", "scale_deployment", "--as", "alice",
                            "name=api-service", "replicas=4"], env, tmp_path)
        assert proposed.returncode == 0, proposed.stdout + proposed.stderr
        [row] = await fetch_rows(database_url, "SELECT id FROM pending_actions")
        faults.rules.append(REVIEWS_DOWN)
        action_id = row["id"]
        approved = run_cli(["approve", action_id, "--as", "carol"], env, tmp_path)
    finally:
        sandbox.stop()
    assert approved.returncode == 2, approved.stdout + approved.stderr
    assert "Traceback" not in approved.stderr
    [line] = approved.stderr.strip().splitlines()
    assert line.startswith("kubernetes unavailable: The Kubernetes API server is unavailable")
    assert REQUEST_ID.search(line)


def test_cli_audit_ship_with_clickhouse_down_is_one_line(
        clean_env: dict[str, str], database_url: str, sandbox: ThreadedSandbox,
        tmp_path: Path) -> None:
    env = cli_env(clean_env, database_url, sandbox, tmp_path)
    read = run_cli(["tools", "run", "list_pods", "--as", "alice"], env, tmp_path)
    assert read.returncode == 0, read.stderr  # one audit event waits in the outbox
    env["HEXABOT_CLICKHOUSE_URL"] = "clickhouse://default@127.0.0.1:1/none"
    shipped = run_cli(["audit", "ship"], env, tmp_path)
    assert shipped.returncode == 2, shipped.stdout + shipped.stderr
    assert "Traceback" not in shipped.stderr
    [line] = shipped.stderr.strip().splitlines()
    assert line.startswith("clickhouse unavailable: The audit store (ClickHouse) is unavailable")
    assert "Audit events wait in Hexabot's database" in line and REQUEST_ID.search(line)


def api_app() -> FastAPI:
    """The chat API's boundary, registered as ``app.api.routes.build`` registers it."""
    app = FastAPI()
    app.add_exception_handler(errors.HexabotError, boundary.on_domain_error)
    app.add_middleware(boundary.Boundary)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals")

    @app.get("/postgres")
    async def postgres() -> None:
        await query_a_stopped_postgres()

    @app.get("/kubernetes")
    async def kubernetes() -> None:
        raise errors.Unavailable("access review: HTTP 503")

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise errors.Forbidden("alice may not")

    return app


async def test_chat_api_answers_failures_in_its_error_shape() -> None:
    transport = httpx.ASGITransport(app=api_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        bug, down, kube, refused = [await http.get(p) for p in
                                    ("/bug", "/postgres", "/kubernetes", "/forbidden")]
    assert bug.status_code == 500 and bug.json()["error"]["code"] == "internal"
    assert "secret" not in bug.text and REQUEST_ID.search(bug.json()["error"]["message"])
    assert bug.headers["X-Request-Id"] in bug.json()["error"]["message"]
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "database_unavailable"
    assert kube.status_code == 503 and kube.json()["error"]["code"] == "kubernetes_unavailable"
    assert refused.status_code == 403 and refused.json()["error"] == {
        "code": "forbidden", "message": f"alice may not (request id "
                                        f"{refused.headers['X-Request-Id']})"}
