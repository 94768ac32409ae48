"""The real Bolt app connected over Socket Mode to the Slack emulator, and waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.run import connected
from app.services import Services
from app.settings import load_settings
from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, SlackEmulator, slack_emulator
from tests.confirm_support import DIRECTORY
from tests.conftest import REPO
from tests.sandbox_support import ThreadedSandbox


@contextlib.asynccontextmanager
async def bot(emulator: SlackEmulator, database_url: str, sandbox: ThreadedSandbox,
              tmp_path: Path, **settings: Any) -> AsyncIterator[Services]:
    """One bot process's worth (Bolt app, background work, the HTTP server) connected to
    ``emulator`` in Socket Mode; several may share one emulator and one database."""
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    loaded = load_settings(**{"database_url": database_url, "directory_file": directory,
                              "slack_bot_token": BOT_TOKEN, "slack_app_token": APP_TOKEN,
                              "slack_api_url": emulator.api_url, "http_host": "127.0.0.1",
                              "http_port": 0, **settings})
    before = len(emulator.hub.connections)
    async with connected(loaded) as services:
        await until(lambda: len(emulator.hub.connections) > before)
        yield services


def people(emulator: SlackEmulator) -> None:
    """Users alice, bob, carol, mallory; #shop with the first three."""
    for user, name in (("U0ALICE", "alice"), ("U0BOB", "bob"), ("U0CAROL", "carol"),
                       ("U0MALLORY", "mallory")):
        emulator.state.add_user(user, name)
    emulator.state.add_channel("C0SHOP", "shop", ["U0ALICE", "U0BOB", "U0CAROL"])


@contextlib.asynccontextmanager
async def connected_emulator(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch,
                             **settings: Any) -> AsyncIterator[tuple[SlackEmulator, Services]]:
    """The emulator with :func:`people`, and one bot connected to it."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "")
    async with slack_emulator() as emulator:
        people(emulator)
        async with bot(emulator, database_url, sandbox, tmp_path, **settings) as services:
            yield emulator, services


async def until(condition: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def until_delivered(database_url: str, event_id: str, times: int) -> None:
    """Until the bot has recorded ``times`` deliveries of ``event_id`` (its de-duplication
    counts every repeat before dropping it): the fact a "did not happen twice" check needs."""
    from tests.services import fetch_rows

    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        rows = await fetch_rows(database_url, "SELECT deliveries FROM slack_events WHERE "
                                f"event_id = '{event_id}'")
        if rows and rows[0]["deliveries"] >= times:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"event {event_id} not delivered {times} times")


def bot_messages(emulator: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in emulator.state.history(channel) if m.get("bot_id")]


def answered(emulator: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in bot_messages(emulator, channel) if m["text"] != "working…"]


def process_env(emulator: SlackEmulator, database_url: str, directory: Path, workdir: Path,
                http_port: int, **extra: str) -> dict[str, str]:
    """The environment of a `hexabot run` process against ``emulator`` (no proxies)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXABOT_")}
    env.update({"HEXABOT_DATABASE_URL": database_url, "HEXABOT_DIRECTORY_FILE": str(directory),
                "HEXABOT_SLACK_BOT_TOKEN": BOT_TOKEN, "HEXABOT_SLACK_APP_TOKEN": APP_TOKEN,
                "HEXABOT_SLACK_API_URL": emulator.api_url, "HEXABOT_HTTP_HOST": "127.0.0.1",
                "HEXABOT_HTTP_PORT": str(http_port), "HEXABOT_DATA_DIR": str(workdir / "data"),
                "PYTHONPATH": str(REPO), "HTTP_PROXY": "", "HTTPS_PROXY": "",
                "http_proxy": "", "https_proxy": "", **extra})
    return env


async def start_process(env: dict[str, str], cwd: Path,
                        stdout: int = subprocess.DEVNULL) -> asyncio.subprocess.Process:
    """`hexabot run` in a process of its own, once its /readyz says ready."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "run", cwd=cwd, env=env, stdout=stdout,
        stderr=subprocess.PIPE)
    ready = f"http://127.0.0.1:{env['HEXABOT_HTTP_PORT']}/readyz"
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(ready)).status_code == 200:
                    return process
            await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError((await process.communicate())[1].decode())
