"""Command mode answers the seeds' four conversations against the demo fixture, with no LLM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.agent import UserChatAgent
from agents.memory import Memory
from agents.types import Ask, Reply
from tests.confirm_support import Rig, rig
from tests.sandbox_support import ThreadedSandbox


@pytest.fixture
async def bot(database_url: str, sandbox: ThreadedSandbox,
              tmp_path: Path) -> AsyncIterator[tuple[UserChatAgent, Rig]]:
    async with rig(database_url, sandbox, tmp_path) as r:
        yield UserChatAgent(r.identity, r.flow, r.envs, None, Memory(r.engine)), r


async def _ask(bot: tuple[UserChatAgent, Rig], text: str, who: str = "U0ALICE") -> Reply:
    return await bot[0].handle(Ask(who, text, f"dm:{who}"))


def tools(reply: Reply) -> list[str]:
    return [c.tool for c in reply.tools_called]


async def test_how_is_my_web_app_doing(bot: tuple[UserChatAgent, Rig]) -> None:
    reply = await _ask(bot, "How is my web app doing?")
    assert reply.mode == "command" and reply.text.endswith("_(command mode)_")
    assert tools(reply) == ["get_deployment_status", "list_pods", "get_resource_usage",
                            "view_logs", "view_logs", "view_logs"]
    assert reply.verdict == ("web-app is healthy: 3/3 ready; CPU 45% and memory 62% of limits "
                             "on average; no errors in the last 15 min of logs")
    assert reply.text.startswith(reply.verdict + "\n")
    assert "deployment shop/web-app: 3/3 ready" in reply.text and "45%" in reply.text
    assert not reply.private  # only a count of error lines is shown, not the logs


async def test_my_api_is_slow_scale_it_up(bot: tuple[UserChatAgent, Rig],
                                          sandbox: ThreadedSandbox) -> None:
    """Analysis first, then only the fix it supports: api-service runs near its CPU limit
    under an HPA (which owns its replica count), so the fix is more CPU per pod."""
    reply = await _ask(bot, "My API is slow, can you scale it up?")
    assert tools(reply)[:2] == ["analyze_performance", "suggest_optimizations"]
    assert "api near its CPU limit (throttling)" in reply.text
    assert "scaled by its HPA (2..6, now 2)" in reply.text
    [proposal] = reply.proposals
    assert proposal.tool == "apply_yaml" and "cpu: 1120m" in proposal.args["manifest"]
    assert "Because api near its CPU limit" in reply.text and "USD/month" in reply.text
    assert sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
        "replicas"] == 2
    calm = await _ask(bot, "web-app is slow, scale it up please")
    assert calm.proposals == () and "no capacity pressure on web-app" in calm.text


async def test_set_up_backups_for_my_database(bot: tuple[UserChatAgent, Rig],
                                             sandbox: ThreadedSandbox) -> None:
    reply = await _ask(bot, "Set up backups for my database")
    assert "user-db is a postgres database (postgres:16.4) on 50Gi of fast-ssd storage" \
        in reply.text
    [proposal] = reply.proposals
    assert proposal.tool == "create_backup_cronjob"
    assert proposal.args["database"] == "user-db" and proposal.args["namespace"] == "data"
    assert "concurrencyPolicy: Forbid" in proposal.diff and "schedule: 30 2 * * *" in \
        proposal.diff
    assert "secretKeyRef" in proposal.diff and "AWS_SECRET_ACCESS_KEY" in proposal.diff
    assert sandbox.obj("batch", "v1", "cronjobs", "data", "backup-user-db") is None
    bob = await _ask(bot, "backup user-db --to data-user-db-0", who="U0BOB")
    assert "found nothing matching 'user-db' in your namespaces (shop, shop-staging)" \
        in bob.text and bob.proposals == ()  # data is not one of bob's namespaces
    carol = await _ask(bot, "backup user-db --to data-user-db-0", who="U0CAROL")
    [one_off] = carol.proposals
    assert one_off.tool == "create_backup_job" and one_off.args["database"] == "user-db"


async def test_my_app_keeps_crashing(bot: tuple[UserChatAgent, Rig],
                                     sandbox: ThreadedSandbox) -> None:
    reply = await _ask(bot, "My app keeps crashing")
    assert tools(reply) == ["troubleshoot_issues", "apply_yaml"]
    assert "OOMKilled Deployment shop/checkout-worker" in reply.text
    assert "512Mi limit (peak 580Mi)" in reply.text and "restartCount=12" in reply.text
    assert "raise the memory limit to 1Gi" in reply.text
    [proposal] = reply.proposals
    assert proposal.tool == "apply_yaml" and "memory: 1Gi" in proposal.args["manifest"]
    changed = [line[0] + line[1:].strip() for line in proposal.diff.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-memory: 512Mi", "+memory: 1Gi"]  # nothing else moves
    limits = sandbox.obj("apps", "v1", "deployments", "shop", "checkout-worker")["spec"][
        "template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "512Mi"  # proposed, not applied


async def test_explicit_commands_ambiguity_and_not_understood(
        bot: tuple[UserChatAgent, Rig]) -> None:
    logs = await _ask(bot, "logs api-service --tail 2")
    assert tools(logs)[-1] == "view_logs" and "p99 latency 910ms" in logs.text
    scale = await _ask(bot, "scale api-service 4")
    assert scale.proposals[0].args["replicas"] == 4
    unknown = await _ask(bot, "what is the meaning of life")
    assert "I did not understand" in unknown.text and "How is my web app doing?" in unknown.text
    nothing = await _ask(bot, "status payments")
    assert "found nothing matching 'payments' in your namespaces" in nothing.text
    assert nothing.proposals == () and "Did you mean `status " in nothing.text
    assert "web-app" in nothing.text  # says what is there instead


async def test_what_is_wrong_with_a_named_workload(bot: tuple[UserChatAgent, Rig]) -> None:
    broken = await _ask(bot, "What is wrong with the checkout worker?")
    assert tools(broken)[0] == "troubleshoot_issues"
    assert "OOMKilled Deployment shop/checkout-worker" in broken.text
    fine = await _ask(bot, "what's wrong with web-app?")
    assert "I found nothing wrong with web-app." in fine.text and not fine.proposals


async def test_help_right_after_an_answer_suggests_what_to_type_next(
        bot: tuple[UserChatAgent, Rig]) -> None:
    pods = await _ask(bot, "show me the pods")
    assert pods.suggestions == ("logs checkout-worker --previous",
                                "troubleshoot checkout-worker")
    helped = await _ask(bot, "help")
    assert "After the last answer, try: `logs checkout-worker --previous`, " \
        "`troubleshoot checkout-worker`" in helped.text
    other = await bot[0].handle(Ask("U0ALICE", "help", "dm:other-session"))
    assert "After the last answer" not in other.text  # per session
