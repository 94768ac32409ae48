"""Slack ack latency and bot memory.

The real bot runs as `hexabot run` in its own process against the Slack emulator and a sandbox
cluster that takes 2 s per API request.  500 @mentions arrive at 50 per second, each starting a
thread (a session of its own); the emulator records how long every envelope took to be acked.
Then more mentions bring the bot to 1,000 sessions and its resident memory is read from /proc.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.common import Result
from bench.harness import with_postgres
from sandbox.kube.serve import sandbox_cluster
from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, slack_emulator
from sandbox.slack.state import BOT_USER

EVENTS, RATE, SESSIONS = 500, 50.0, 1000


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _measure(admin_url: str, workdir: Path) -> list[Result]:
    async with sandbox_cluster(latency=2.0) as sc, slack_emulator(console=False) as slack:
        slack.state.add_user("U0ALICE", "alice")
        slack.state.add_channel("C0SHOP", "shop", ["U0ALICE"])
        directory = workdir / "directory.yaml"
        directory.write_text(yaml.safe_dump({"users": [{
            "slack_id": "U0ALICE", "name": "alice", "hexabase_user": "hxb-alice",
            "workspaces": [{"name": "shop", "kubeconfig": str(sc.kubeconfig),
                            "context": "carol", "namespaces": ["shop"]}]}]}))
        env = {**os.environ, "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "",
               "https_proxy": "", "HEXABOT_DATABASE_URL": admin_url,
               "HEXABOT_DIRECTORY_FILE": str(directory), "HEXABOT_SLACK_BOT_TOKEN": BOT_TOKEN,
               "HEXABOT_SLACK_APP_TOKEN": APP_TOKEN, "HEXABOT_SLACK_API_URL": slack.api_url,
               "HEXABOT_LLM": "off"}
        bot = subprocess.Popen(  # noqa: ASYNC220 (starting it is instant; nothing blocks)
            [sys.executable, "-m", "app", "run"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                if slack.hub.connections:
                    break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the bot did not connect to the emulator")
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
            rss = _rss_mib(bot.pid)
        finally:
            bot.terminate()
            await asyncio.to_thread(bot.wait, 60)
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return [
        Result(f"ack latency, {EVENTS} events at {RATE:.0f}/s, tools taking 2 s per API call",
               f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} acked)", "p99 < 300 ms",
               p99 < 300 and len(latencies) == EVENTS),
        Result(f"bot process memory after {SESSIONS:,} sessions", f"{rss:.0f} MiB RSS",
               "reported", True),
    ]


def run() -> list[Result]:
    return with_postgres(_measure)
