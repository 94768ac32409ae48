"""`hexabot demo`: what a newcomer runs first (``make demo``), on embedded defaults only.

It starts the sandbox cluster, the local Slack emulator with its web console, and the real bot
in Socket Mode against both (embedded PostgreSQL; Ollama if reachable, else command mode).  A
short tour asks the brief's four questions as alice through Slack and prints the bot's answers;
then the console stays up at http://127.0.0.1:PORT until Ctrl-C (``--no-wait`` exits after the
tour).  Nothing is simulated; what is not built yet is listed at the end.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from rich.console import Console

from app import doctor, migrate
from app.database import open_database
from app.run import connected
from app.settings import Settings
from sandbox.directory import demo_directory
from sandbox.kube.serve import sandbox_cluster
from sandbox.slack.server import APP_TOKEN, BOT_TOKEN, SlackEmulator, slack_emulator

NOT_BUILT_YET: tuple[tuple[str, str], ...] = ()
CONVERSATIONS = ("How is my web app doing?", "My API is slow, can you scale it up?",
                 "Set up backups for my database", "My app keeps crashing",
                 "What can I optimise to save money?",
                 "workflow debug_pod_issues name=checkout", "scale api-service 30",
                 "what changed in the last hour?", "pls scale the web app down by one")
# The demo's guardrails: the built-in default plus a cap, so the tour shows a refusal.
DEMO_RULES = [{"name": "shop-caps", "tools": ["scale_deployment"],
               "scope": {"namespaces": ["shop"]},
               "caps": {"max_replicas": 10, "max_scale_step": 5}}]


def demo_policy() -> dict[str, Any]:
    policy = yaml.safe_load(resources.files("confirmations").joinpath(
        "default_policy.yaml").read_text())
    policy["rules"] = [*policy["rules"], *DEMO_RULES]
    return dict(policy)
PEOPLE = (("U0ALICE", "alice", "developer"), ("U0BOB", "bob", "viewer"),
          ("U0CAROL", "carol", "admin"))


async def _answer(emulator: SlackEmulator, channel: str, asked_ts: str) -> dict[str, Any]:
    """The bot's answer to the message ``asked_ts``: the first bot message after it (its
    'working…' placeholder), once replaced.  Approval cards are not answers: the previous
    question's card may land after this question was asked."""
    for _ in range(600):
        first = next((m for m in emulator.state.history(channel)
                      if m.get("bot_id") and m["ts"] > asked_ts
                      and not m["text"].startswith("Approval needed")), None)
        if first is not None and first["text"] != "working…":
            return first
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot did not answer within 30 s")


async def _tour(emulator: SlackEmulator, out: Console) -> None:
    dm = emulator.state.im_with("U0ALICE").id
    for text in CONVERSATIONS:
        out.rule(f"alice (DM): {text}")
        asked = await emulator.say("U0ALICE", dm, text)
        answer = await _answer(emulator, dm, asked["ts"])
        out.print(answer["text"], markup=False, highlight=False)


async def _run(settings: Settings, out: Console, wait: bool) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ[name] = ""  # Socket Mode to the local emulator must not go through a proxy
    async with open_database(settings) as db:
        out.print(f"[bold]PostgreSQL[/]: {db.describe()}")
        state = await migrate.migrate(db.engine)
        out.print(f"[bold]Schema[/]: at head {state.after}"
                  + (f" (migrated from {state.before or 'empty'})" if state.changed else ""))
    for check in await doctor.run_checks(settings):
        out.print(f"[bold]{check.name}[/]: {check.status.value} - {check.detail}")
    async with sandbox_cluster(pod_start_delay=0.5) as sc, slack_emulator() as emulator:
        for user, name, _ in PEOPLE:
            emulator.state.add_user(user, name)
        emulator.state.add_channel("C0SHOP", "shop", [u for u, _, _ in PEOPLE])
        with tempfile.TemporaryDirectory(prefix="hexabot-demo-") as tmp:
            path = Path(tmp) / "directory.yaml"
            path.write_text(yaml.safe_dump(demo_directory(sc)))
            policy = Path(tmp) / "policy.yaml"
            policy.write_text(yaml.safe_dump(demo_policy()))
            bot_settings = settings.model_copy(update={
                "directory_file": path, "policy_file": settings.policy_file or policy,
                "slack_api_url": emulator.api_url,
                "slack_bot_token": settings.slack_bot_token or _secret(BOT_TOKEN),
                "slack_app_token": settings.slack_app_token or _secret(APP_TOKEN),
                "http_host": "127.0.0.1", "http_port": 0})
            async with connected(bot_settings) as bot:
                out.print(f"[bold]Sandbox cluster[/]: {sc.url}; [bold]Slack emulator[/]: "
                          f"{emulator.url}; bot connected in Socket Mode; health, readiness "
                          f"and metrics at {bot.http_url}/healthz, /readyz, /metrics")
                await _tour(emulator, out)
                out.rule("Web console")
                out.print(f"Open {emulator.url}/ — switch between alice, bob and carol.\n"
                          "Try, as alice in #shop: `scale api-service to 4`, then Approve as "
                          "alice (refused: two-person namespace), as bob (refused: viewer) "
                          "and as carol (runs as alice).  Or `workflow scale_application "
                          "name=web-app replicas=4` (approve as carol: the run watches the "
                          "rollout and reports in the thread), `performance`, `/hexabot "
                          "whoami`, `logs checkout-worker --previous`, `/hexabot policy`, "
                          "`exec web-app df -h` or `delete configmap web-app-config` (a "
                          "teammate approves).", highlight=False)
                if wait:
                    out.print("Ctrl-C stops everything.", highlight=False)
                    await _until_signal()


def _secret(value: str) -> SecretStr:
    return SecretStr(value)


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def run(settings: Settings, out: Console, wait: bool = True) -> None:
    out.rule("Hexabot demo")
    asyncio.run(_run(settings, out, wait))
    out.rule("Not built yet")
    for what, issue in NOT_BUILT_YET:
        out.print(f"- {what} (issue {issue})")
    if not NOT_BUILT_YET:
        out.print("Every issue filed so far is built; nothing above was simulated.")
    else:
        out.print("The demo grows as these land; nothing above was simulated.")
