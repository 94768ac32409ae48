"""The real Bolt app connected over Socket Mode to the Slack emulator, and waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.services import Services
from app.settings import load_settings
from app.slack.run import connected
from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, SlackEmulator, slack_emulator
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox


@contextlib.asynccontextmanager
async def bot(emulator: SlackEmulator, database_url: str, sandbox: ThreadedSandbox,
              tmp_path: Path, **settings: Any) -> AsyncIterator[Services]:
    """One bot process's worth (Bolt app, background work, HTTP side server) connected to
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


def bot_messages(emulator: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in emulator.state.history(channel) if m.get("bot_id")]


def answered(emulator: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in bot_messages(emulator, channel) if m["text"] != "working…"]
