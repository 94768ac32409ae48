"""The one decision service (ARCHITECTURE decision 8): every door — the chat API, the CLI, the
expiry sweeper, Slack — hands what follows a decision to ``services.decisions``, which tells
people through a notifier port in a fixed order.  A recording notifier (a fake of our
``Notifier`` Protocol) shows the steps; the Slack case shows the real notifier on the emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text
from typer.testing import CliRunner

from agents.orchestrator.runner import WorkflowRun
from agents.orchestrator.runs import Owner
from app import decisions
from app.api import routes
from app.background import run_background
from app.cli import cli
from app.services import Services, open_services
from app.settings import load_settings
from confirmations.model import PendingAction, State
from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox
from tests.slack_support import bot_messages, connected_emulator, until
from tests.test_api import KEY, api, auth

__all__ = ["api"]  # the chat API on a bot connected to the Slack emulator (a fixture)

WORKFLOW = """name: exec_report
description: Run df in one pod of shop once approved, and report.
inputs: {}
steps:
  - id: propose
    agent: deployment
    action: propose
    params: {tool: exec_command, args: {pod: web-app-7c9d8f6b5d-x2k9p, command: [df, -h]}}
  - id: approval
    agent: deployment
    action: await_approval
    depends_on: [propose]
    params: {action: "{{ steps.propose.id }}"}
output: "df after approval by {{ steps.approval.approver }}"
"""


class Recording:
    """A :class:`agents.notify.Notifier` that remembers what it was told, in order."""

    def __init__(self) -> None:
        self.told: list[tuple[Any, ...]] = []

    async def proposed(self, action: PendingAction, where: tuple[str, str | None] | None
                       ) -> None:
        self.told.append(("proposed", action.id, where))

    async def action_changed(self, action: PendingAction, card: tuple[str, str] = ("", "")
                             ) -> None:
        self.told.append(("card", action.id, action.state.value))

    async def private_result(self, action: PendingAction) -> None:
        self.told.append(("private", action.id, action.requester))

    async def run_report(self, owner: Owner, run: WorkflowRun, private: bool) -> None:
        self.told.append(("report", owner.slack_id, run.state, private))

    async def home_changed(self, user: str) -> None:
        self.told.append(("home", user))


def _settings(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> dict[str, Any]:
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    workflows = tmp_path / "workflows"
    workflows.mkdir(exist_ok=True)
    (workflows / "exec_report.yaml").write_text(WORKFLOW)
    public = tmp_path / "platform.pem"
    public.write_bytes(KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"database_url": database_url, "directory_file": directory,
            "workflows_dir": workflows, "api_token_public_key_file": public}


@pytest.fixture
async def told(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path
               ) -> AsyncIterator[tuple[Services, Recording]]:
    async with open_services(load_settings(**_settings(database_url, sandbox, tmp_path))
                             ) as services:
        services.decisions.notifier = recording = Recording()
        yield services, recording


async def _exec_run(services: Services) -> str:
    """alice starts the workflow; it waits on her exec action in shop (two people)."""
    alice = await services.identity.context("U0ALICE", namespace="shop")
    run, [proposal] = await services.orchestrator.start(alice, "exec_report", {})
    assert run.state == "waiting"
    return proposal.id


async def test_a_teammates_api_approval_of_an_exec_action_goes_through_the_service_in_order(
        told: tuple[Services, Recording]) -> None:
    services, recording = told
    action = await _exec_run(services)
    transport = httpx.ASGITransport(app=routes.build(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api/api/v1/ai") as api:
        approved = await api.post(f"/actions/{action}/approve", headers=auth("carol"))
    assert approved.status_code == 200, approved.text
    assert recording.told == [
        ("card", action, "succeeded"),         # 1. every card of the action
        ("private", action, "U0ALICE"),        # 2. the exec output to its requester only
        ("home", "U0CAROL"), ("home", "U0ALICE"),  # 3. App Home of those concerned
        ("report", "U0ALICE", "succeeded", False),  # 4. the run resumed; its report only
    ]                                               #    says the output went to alice


async def test_a_proposal_through_the_chat_api_goes_through_the_service(
        told: tuple[Services, Recording]) -> None:
    services, recording = told
    transport = httpx.ASGITransport(app=routes.build(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://api/api/v1/ai") as api:
        answer = await api.post("/chat", json={"message": "scale web-app 5"},
                                headers=auth("alice"))
    assert answer.status_code == 200, answer.text
    [proposal] = answer.json()["proposals"]
    assert recording.told == [("proposed", proposal["id"], None), ("home", "U0ALICE")]


async def test_a_chat_api_proposal_is_carded_in_the_requesters_dm_and_updated_there(
        api: tuple[httpx.AsyncClient, SlackEmulator]) -> None:
    client, slack = api
    answer = await client.post("/chat", json={"message": "scale web-app 5"},
                               headers=auth("alice"))
    [proposal] = answer.json()["proposals"]
    dm = slack.state.im_with("U0ALICE").id
    [card] = await until(lambda: [m for m in bot_messages(slack, dm)
                                  if m["text"].startswith("Approval needed")])
    assert card["blocks"][-1]["elements"][0]["value"] == proposal["id"]
    await until(lambda: "U0ALICE" in slack.state.home_views)
    approved = await client.post(f"/actions/{proposal['id']}/approve", headers=auth("carol"))
    assert approved.status_code == 200, approved.text
    await until(lambda: slack.state.messages[(dm, card["ts"])]["text"].startswith(
        "succeeded:"))


async def test_the_sweeper_expires_through_the_service(told: tuple[Services, Recording]
                                                       ) -> None:
    services, recording = told
    action = await _exec_run(services)
    async with services.database.engine.begin() as conn:
        await conn.execute(text("UPDATE pending_actions SET expires_at = :t WHERE id = :id"),
                           {"t": datetime.now(UTC) - timedelta(seconds=1), "id": action})
    stop = asyncio.Event()
    task = asyncio.create_task(run_background(services, stop, interval=0.2))
    try:
        await until(lambda: any(t[0] == "report" for t in recording.told))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert recording.told == [("card", action, "expired"), ("home", "U0ALICE"),
                              ("report", "U0ALICE", "failed", False)]


def test_the_cli_door_goes_through_the_service(database_url: str, sandbox: ThreadedSandbox,
                                               tmp_path: Path, clean_env: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(database_url, sandbox, tmp_path)
    recording = Recording()
    monkeypatch.setattr(decisions, "NullNotifier", lambda: recording)  # what the CLI installs

    async def propose() -> str:
        async with open_services(load_settings(**settings)) as services:
            return await _exec_run(services)

    action = asyncio.run(propose())
    env = {**clean_env, "HEXABOT_DATABASE_URL": database_url,
           "HEXABOT_DIRECTORY_FILE": str(settings["directory_file"]),
           "HEXABOT_WORKFLOWS_DIR": str(settings["workflows_dir"])}
    done = CliRunner().invoke(cli, ["approve", action, "--as", "carol"], env=env)
    assert done.exit_code == 0, done.output
    assert "Filesystem" not in done.output and "private to them" in done.output
    assert recording.told == [("card", action, "succeeded"), ("private", action, "U0ALICE"),
                              ("home", "U0CAROL"), ("home", "U0ALICE"),
                              ("report", "U0ALICE", "succeeded", False)]


async def test_an_expired_actions_slack_card_is_updated_through_the_service(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with connected_emulator(database_url, sandbox, tmp_path, monkeypatch,
                                  sweep_interval_seconds=0.2) as (slack, services):
        await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> scale web-app 5")
        [card] = await until(lambda: [m for m in bot_messages(slack, "C0SHOP")
                                      if m["text"].startswith("Approval needed")])
        async with services.database.engine.begin() as conn:
            await conn.execute(text("UPDATE pending_actions SET expires_at = :t"),
                               {"t": datetime.now(UTC) - timedelta(seconds=1)})
        await until(lambda: [m for m in bot_messages(slack, "C0SHOP")
                             if m["ts"] == card["ts"] and m["text"].startswith("expired:")])
        [row] = [a for a in await services.confirmations.store.recent("U0ALICE")]
        assert row.state is State.EXPIRED
        await until(lambda: "U0ALICE" in slack.state.home_views)  # and the requester's Home
