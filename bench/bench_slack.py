"""Slack ack latency and bot memory.

The floor first: the smallest Bolt app in Socket Mode (bench/floor_bolt.py) in its own process
takes 300 DMs at 50 per second from 30 people, and the emulator records each ack's latency.
Then the real bot — `hexabot run` in its own process, command mode, against the Slack emulator
and a sandbox cluster that takes 2 s per API request — takes the same 300 DMs (target: p99
within 10x the floor's), then 500 @mentions at 50 per second, each starting a thread (a session
of its own).  Then more mentions bring the bot to 1,000 sessions and its resident memory is read
from /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.common import Result
from bench.harness import sandbox_process, stop_process, with_postgres
from sandbox.net import free_port
from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, SlackEmulator, slack_emulator
from sandbox.slack.state import BOT_USER

EVENTS, RATE, SESSIONS = 500, 50.0, 1000
DMS, USERS = 300, 30


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _connected(slack: SlackEmulator, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if slack.hub.connections:
            return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.args!r} did not connect to the emulator")


async def _dms(slack: SlackEmulator) -> list[float]:
    """DMS direct messages at RATE per second from USERS people; each one's ack latency (ms)."""
    slack.hub.ack_latencies.clear()
    began, sends = time.monotonic(), []
    for i in range(DMS):
        await asyncio.sleep(max(0.0, began + i / RATE - time.monotonic()))
        user = f"U0BENCH{i % USERS:02d}"
        sends.append(asyncio.create_task(slack.say(user, slack.state.im_with(user).id,
                                                   "pods")))
    await asyncio.gather(*sends)
    return sorted(x * 1000 for x in slack.hub.ack_latencies[:DMS])


def _people(slack: SlackEmulator) -> None:
    slack.state.add_user("U0ALICE", "alice")
    slack.state.add_channel("C0SHOP", "shop", ["U0ALICE"])
    for n in range(USERS):
        slack.state.add_user(f"U0BENCH{n:02d}", f"bench{n:02d}")


async def _floor() -> list[float]:
    """The same DMs against the smallest Bolt app (bench/floor_bolt.py), in its own process."""
    async with slack_emulator(console=False) as slack:
        _people(slack)
        env = {**os.environ, "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "",
               "https_proxy": ""}
        floor = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; nothing blocks)
            [sys.executable, "-m", "bench.floor_bolt", slack.api_url, BOT_TOKEN, APP_TOKEN],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await _connected(slack, floor)
            return await _dms(slack)
        finally:
            floor.terminate()
            await asyncio.to_thread(floor.wait, 60)


def _p(latencies: list[float], q: float) -> float:
    return latencies[max(0, int(len(latencies) * q) - 1)]


# The bot as it was before app.collector: the same command with the collector left as Python
# starts it (no freeze, default thresholds), to measure the difference in the same run.
UNFROZEN = ("import contextlib, app.collector as c; c.frozen = contextlib.nullcontext; "
            "from app.cli import main; main()")


@dataclass
class Bot:
    process: subprocess.Popen[bytes]
    metrics_url: str

    async def full_collections(self) -> tuple[float, float]:
        """(count, seconds) of the bot's full collections so far, from its /metrics."""
        async with httpx.AsyncClient(trust_env=False) as http:
            text = (await http.get(self.metrics_url)).text
        found = {"count": 0.0, "sum": 0.0}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith("hexabot_gc_pause_seconds_") \
                        and sample.labels.get("generation") == "2":
                    found[sample.name.rsplit("_", 1)[1]] = sample.value
        return found["count"], found["sum"]


@contextlib.asynccontextmanager
async def _bot(slack: SlackEmulator, admin_url: str, kubeconfig: Path, workdir: Path,
               code: str | None = None) -> AsyncIterator[Bot]:
    """``hexabot run`` (or ``python -c code run``) in its own process, connected."""
    directory = workdir / "directory.yaml"
    directory.write_text(yaml.safe_dump({"users": [{
        "slack_id": slack_id, "name": name, "hexabase_user": f"hxb-{name}",
        "workspaces": [{"name": "shop", "kubeconfig": str(kubeconfig),
                        "context": "carol", "namespaces": ["shop"]}]}
        for slack_id, name in [("U0ALICE", "alice"), *(
            (f"U0BENCH{n:02d}", f"bench{n:02d}") for n in range(USERS))]]}))
    port = free_port()
    env = {**os.environ, "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "",
           "https_proxy": "", "HEXABOT_DATABASE_URL": admin_url,
           "HEXABOT_DIRECTORY_FILE": str(directory), "HEXABOT_SLACK_BOT_TOKEN": BOT_TOKEN,
           "HEXABOT_SLACK_APP_TOKEN": APP_TOKEN, "HEXABOT_SLACK_API_URL": slack.api_url,
           "HEXABOT_LLM": "off", "HEXABOT_HTTP_PORT": str(port)}
    argv = ["-m", "app"] if code is None else ["-c", code]
    bot = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; nothing blocks)
        [sys.executable, *argv, "run"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        await _connected(slack, bot)
        yield Bot(bot, f"http://127.0.0.1:{port}/metrics")
    finally:
        await stop_process(bot)


async def _profiled_dms(slack: SlackEmulator, bot: Bot) -> tuple[list[float], str]:
    """The DMs' ack latencies and what the bot's full collections cost meanwhile."""
    count, seconds = await bot.full_collections()
    dms = await _dms(slack)
    after_count, after_seconds = await bot.full_collections()
    return dms, (f"{after_count - count:.0f} full collections, "
                 f"{(after_seconds - seconds) * 1000:.0f} ms in all")


async def _measure(admin_url: str, workdir: Path) -> list[Result]:
    floor = await _floor()
    async with sandbox_process(workdir, "--latency", "2") as sandbox:
        kubeconfig = sandbox.kubeconfig
        async with slack_emulator(console=False) as slack:
            _people(slack)
            async with _bot(slack, admin_url, kubeconfig, workdir, UNFROZEN) as bot:
                unfrozen, unfrozen_gc = await _profiled_dms(slack, bot)
        async with slack_emulator(console=False) as slack:
            _people(slack)
            async with _bot(slack, admin_url, kubeconfig, workdir) as bot:
                dms, dms_gc = await _profiled_dms(slack, bot)
                slack.hub.ack_latencies.clear()
                began = time.monotonic()
                sends = []
                for i in range(EVENTS):
                    target = began + i / RATE
                    await asyncio.sleep(max(0.0, target - time.monotonic()))
                    sends.append(asyncio.create_task(slack.say(
                        "U0ALICE", "C0SHOP", f"<@{BOT_USER}> pods")))
                await asyncio.gather(*sends)
                latencies = sorted(x * 1000 for x in slack.hub.ack_latencies[:EVENTS])
                for _ in range(EVENTS, SESSIONS):
                    await slack.say("U0ALICE", "C0SHOP", f"<@{BOT_USER}> help")
                await asyncio.sleep(5)
                rss = _rss_mib(bot.process.pid)
    p50, p99 = statistics.median(latencies), _p(latencies, 0.99)
    ratio = _p(dms, 0.99) / _p(floor, 0.99)
    return [
        Result(f"ack latency floor: the smallest Bolt app, {DMS} DMs at {RATE:.0f}/s from "
               f"{USERS} people", f"p50 {statistics.median(floor):.1f} ms, p99 "
               f"{_p(floor, 0.99):.1f} ms", "-", len(floor) == DMS),
        Result(f"ack latency, Hexabot with the collector as Python starts it (before), the same "
               f"{DMS} DMs", f"p50 {statistics.median(unfrozen):.1f} ms, p99 "
               f"{_p(unfrozen, 0.99):.1f} ms ({_p(unfrozen, 0.99) / _p(floor, 0.99):.1f}x); "
               f"{unfrozen_gc}", "-", len(unfrozen) == DMS),
        Result(f"ack latency, Hexabot, the same {DMS} DMs (command mode, 2 s API calls)",
               f"p50 {statistics.median(dms):.1f} ms, p99 {_p(dms, 0.99):.1f} ms "
               f"({ratio:.1f}x the floor's p99); {dms_gc}", "within 10x the floor",
               ratio <= 10 and len(dms) == DMS),
        Result(f"ack latency, {EVENTS} events at {RATE:.0f}/s, tools taking 2 s per API call",
               f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} acked)", "p99 < 300 ms",
               p99 < 300 and len(latencies) == EVENTS),
        Result(f"bot process memory after {SESSIONS:,} sessions", f"{rss:.0f} MiB RSS",
               "reported", True),
    ]


def run() -> list[Result]:
    return with_postgres(_measure)
