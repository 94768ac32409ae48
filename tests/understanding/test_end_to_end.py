"""The issue's examples end to end in command mode, on the corpus's cluster: what each request
ran as alice, what it proposed (and that nothing was applied)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.agent import UserChatAgent
from agents.memory import Memory
from agents.types import Ask, Reply
from tests.confirm_support import rig
from tests.sandbox_support import ThreadedSandbox
from tests.understanding.support import fixture


@pytest.fixture
async def bot(database_url: str, tmp_path: Path
              ) -> AsyncIterator[tuple[UserChatAgent, ThreadedSandbox]]:
    sandbox = ThreadedSandbox(fixture(tmp_path), tmp_path, pod_start_delay=0.0).start()
    try:
        sandbox.settle(0.3)
        async with rig(database_url, sandbox, tmp_path) as r:
            yield UserChatAgent(r.identity, r.flow, r.envs, None,
                                Memory(r.engine)), sandbox
    finally:
        sandbox.stop()


async def ask(bot: tuple[UserChatAgent, ThreadedSandbox], text: str) -> Reply:
    return await bot[0].handle(Ask("U0ALICE", text, "dm:U0ALICE"))


def calls(reply: Reply) -> list[tuple[str, dict[str, object]]]:
    return [(c.tool, c.args) for c in reply.tools_called]


async def test_logs_of_a_two_container_pod_read_the_app_container(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    reply = await ask(bot, "give me the last 20 lines of the checkout-api logs")
    [(tool, args)] = calls(reply)
    assert tool == "view_logs" and args["container"] == "checkout-api"
    assert args["tail_lines"] == 20 and str(args["pod"]).startswith("checkout-api-")
    assert reply.tools_called[0].ok, reply.text
    sidecar = await ask(bot, "checkout-api sidecar logs")
    assert calls(sidecar)[0][1]["container"] == "istio-proxy"


async def test_relative_scaling_is_proposed_and_nothing_applied(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    down = await ask(bot, "scale ledger down to 2")
    [proposal] = down.proposals
    assert proposal.tool == "scale_deployment" and proposal.args["replicas"] == 2
    more = await ask(bot, "one more replica for the ledger pls")
    assert more.proposals[0].args["replicas"] == 5
    vague = await ask(bot, "scale ledger")
    assert vague.proposals == () and "To how many replicas? ledger has 4." in vague.text
    assert "`scale ledger 5`" in vague.text
    assert bot[1].obj("apps", "v1", "deployments", "shop", "ledger")["spec"]["replicas"] == 4


async def test_slow_is_analysed_before_anything_is_offered(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    reply = await ask(bot, "why is api-service slow")
    assert [t for t, _ in calls(reply)] == ["analyze_performance"]
    assert reply.proposals == ()


async def test_something_wrong_with_a_workload_is_diagnosed(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    reply = await ask(bot, "Something is wrong with checkout-worker")
    assert calls(reply)[0][0] == "troubleshoot_issues"
    assert "checkout-worker" in reply.text


async def test_changes_and_rollback_go_to_their_tools(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    changed = await ask(bot, "what changed in the last hour?")
    assert calls(changed) == [("recent_changes", {"since_minutes": 60})]
    back = await ask(bot, "rollback web-app to the previous version")
    [(tool, args)] = calls(back)
    assert tool == "rollback_deployment" and args["name"] == "web-app"
    assert back.proposals == () and "previous" in back.text  # one revision: nothing to go to


async def test_a_configmap_flag_and_an_ambiguous_name(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    flag = await ask(bot, "turn on new_checkout in feature-flags")
    [proposal] = flag.proposals
    assert proposal.tool == "update_configmap"
    assert proposal.args["set"] == {"new_checkout": "true"}
    which = await ask(bot, "restart checkout")
    assert which.proposals == ()
    assert "checkout-api" in which.text and "checkout-worker" in which.text


async def test_restart_by_slang_and_a_statefulset_is_refused_by_name(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    bounce = await ask(bot, "bounce the ledger pls")
    [proposal] = bounce.proposals
    assert proposal.tool == "restart" and proposal.args["kind"] == "deployment"
    db = await ask(bot, "restart user-db")
    assert db.proposals == () and "user-db is a StatefulSet" in db.text


async def test_exec_picks_a_pod_and_the_app_container(
        bot: tuple[UserChatAgent, ThreadedSandbox]) -> None:
    ran = await ask(bot, "exec checkout-api -- cat /etc/hosts")
    [proposal] = ran.proposals
    assert proposal.tool == "exec_command" and proposal.args["container"] == "checkout-api"
    assert str(proposal.args["pod"]).startswith("checkout-api-")
    assert proposal.args["command"] in ("cat /etc/hosts", ["cat", "/etc/hosts"])
