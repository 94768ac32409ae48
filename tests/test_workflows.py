"""The shipped workflow templates end to end: the sandbox cluster, a real Postgres (runs,
pending actions, audit outbox), the decision flow, command mode and the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.agent import UserChatAgent
from agents.command import CommandMode
from agents.orchestrator.runs import RunStore
from agents.orchestrator.service import Orchestrator
from agents.types import Ask
from tests.confirm_support import Rig, cli_env, rig
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tools.audit import AuditEvent
from tools.security import SecurityContext


@pytest.fixture
async def bench(database_url: str, sandbox: ThreadedSandbox,
                tmp_path: Path) -> AsyncIterator[tuple[Orchestrator, Rig]]:
    async with rig(database_url, sandbox, tmp_path) as r:
        yield Orchestrator(r.identity, r.flow, r.envs, RunStore(r.engine)), r


async def test_scale_application_waits_for_approval_then_watches_the_rollout(
        bench: tuple[Orchestrator, Rig], sandbox: ThreadedSandbox) -> None:
    orchestrator, r = bench
    alice = await r.identity.context("U0ALICE", session_id="dm:U0ALICE")
    run, [proposal] = await orchestrator.start(alice, "scale_application",
                                               {"name": "web app", "replicas": 5})
    assert run.state == "waiting", run.text()
    assert [run.steps[s].status for s in ("find", "validate", "propose", "approval",
                                          "monitor")] == [
        "succeeded", "succeeded", "succeeded", "waiting", "pending"]
    assert proposal.tool == "scale_deployment" and proposal.args == {
        "name": "web-app", "namespace": "shop", "replicas": 5}
    [row] = await r.rows("SELECT state, waiting_on, slack_id FROM workflow_runs")
    assert (row["state"], row["waiting_on"], row["slack_id"]) == ("waiting", [proposal.id],
                                                                  "U0ALICE")
    assert await orchestrator.resume_for(proposal.id) == []  # not decided yet: stays waiting
    assert (await r.rows("SELECT state FROM workflow_runs"))[0]["state"] == "waiting"

    decision = await r.flow.approve(proposal.id, "U0CAROL")  # shop needs a second person
    assert decision.ok, decision.message
    [(owner, done)] = await orchestrator.resume_for(proposal.id)
    assert owner.session_id == "dm:U0ALICE" and done.state == "succeeded", done.text()
    assert re.search(r"Scaled shop/web-app from 3 to 5 \(approval #\w+ by U0CAROL\)\. "
                     r"shop/web-app: 5/5 ready, rollout complete", done.output), done.output
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 5
    assert (await r.rows("SELECT state FROM workflow_runs"))[0]["state"] == "succeeded"
    audited = await r.rows("SELECT event->>'kind' AS kind, event->'detail'->>'step' AS step, "
                           "event->>'outcome' AS outcome FROM audit_outbox WHERE "
                           f"event->'detail'->>'run' = '{run.id}' ORDER BY seq")
    assert [(a["kind"], a["step"]) for a in audited] == [
        ("workflow.start", None), ("workflow.step", "find"), ("workflow.step", "validate"),
        ("workflow.step", "propose"), ("workflow.step", "approval"),
        ("workflow.step", "approval"), ("workflow.step", "monitor"), ("workflow.end", None)]
    assert orchestrator.runs is not None and await orchestrator.resume_for(proposal.id) == []


async def test_a_rejected_proposal_ends_the_run_and_the_sweeper_resumes_it(
        bench: tuple[Orchestrator, Rig], sandbox: ThreadedSandbox) -> None:
    orchestrator, r = bench
    alice = await r.identity.context("U0ALICE")
    run, [proposal] = await orchestrator.start(alice, "scale_application",
                                               {"name": "api-service", "replicas": 4})
    assert (await r.flow.reject(proposal.id, "U0CAROL")).ok
    [(_, done)] = await orchestrator.resume_due()  # as the background sweeper does
    assert done.id == run.id and done.state == "failed"
    assert done.steps["approval"].error == f"action #{proposal.id} was rejected by U0CAROL"
    assert done.steps["monitor"].status == "skipped"
    assert sandbox.obj("apps", "v1", "deployments", "shop", "api-service")["spec"][
        "replicas"] == 2
    assert await orchestrator.resume_due() == []


async def test_a_viewer_is_stopped_by_the_step_permission_before_any_proposal(
        bench: tuple[Orchestrator, Rig]) -> None:
    orchestrator, r = bench
    bob = await r.identity.context("U0BOB")
    run, proposals = await orchestrator.start(bob, "scale_application",
                                              {"name": "web-app", "replicas": 4})
    assert run.state == "failed" and proposals == []
    assert run.steps["validate"].error == (
        'step validate needs permission to patch deployments/scale (API group "apps") in shop')
    assert await r.rows("SELECT id FROM pending_actions") == []


async def test_debug_pod_issues_tells_the_oom_story_with_logs_and_events(
        bench: tuple[Orchestrator, Rig]) -> None:
    orchestrator, r = bench
    alice = await r.identity.context("U0ALICE")
    run, _ = await orchestrator.start(alice, "debug_pod_issues", {"name": "checkout"})
    assert run.state == "succeeded", run.text()
    assert run.steps["diagnose"].output["top"]["code"] == "OOMKilled"  # type: ignore[index]
    assert run.steps["pod"].output["previous"] is True  # type: ignore[index]
    assert run.output.startswith("Deployment shop/checkout-worker:\n[critical] OOMKilled")
    assert "OOMKilled" in run.output and "restarts), logs:" in run.output


async def test_workflows_in_command_mode(bench: tuple[Orchestrator, Rig]) -> None:
    orchestrator, r = bench
    agent = UserChatAgent(r.identity, r.flow, r.envs,
                          command=CommandMode(orchestrator))
    listing = await agent.handle(Ask("U0ALICE", "workflows", "dm:U0ALICE"))
    assert "`scale_application` (name, replicas)" in listing.text
    reply = await agent.handle(Ask("U0ALICE", "workflow scale_application name=web-app "
                                   "replicas=4", "dm:U0ALICE"))
    [proposal] = reply.proposals  # the run's proposal gets a card like any other
    assert proposal.args["replicas"] == 4 and "approval: waiting" in reply.text
    bad = await agent.handle(Ask("U0ALICE", "workflow scale_application name=web-app",
                                 "dm:U0ALICE"))
    assert "missing input(s) replicas" in bad.text


def test_cli_run_then_approve_resumes(clean_env: dict[str, str], database_url: str,
                                      sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    env = cli_env(clean_env, database_url, sandbox, tmp_path)
    listing = run_cli(["workflow", "list"], env, tmp_path)
    assert listing.returncode == 0 and "backup_database" in listing.stdout
    started = run_cli(["workflow", "run", "scale_application", "--as", "alice",
                       "name=web-app", "replicas=2", "--json"], env, tmp_path)
    assert started.returncode == 0, started.stderr
    body = json.loads(started.stdout[:started.stdout.rindex("}") + 1])
    assert body["state"] == "waiting"
    action = body["steps"]["approval"]["waiting_on"]
    approved = run_cli(["approve", action, "--as", "carol"], env, tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "workflow scale_application (succeeded)" in approved.stdout
    assert "from 3 to 2" in approved.stdout
    shown = run_cli(["workflow", "show", body["id"], "--as", "bob"], env, tmp_path)
    assert shown.returncode == 1 and f"no workflow run {body['id']} of yours" in shown.stderr


class Departed:
    """A ContextSource for someone who has left the directory since starting a run."""

    async def context(self, who: str, session_id: str = "", request_id: str = "",
                      workspace: str | None = None,
                      namespace: str | None = None,
                      workspace_id: str | None = None) -> SecurityContext:
        raise LookupError(f"{who} is not in Hexabot's directory")


async def test_a_run_whose_owner_left_is_stopped_not_resumed(
        bench: tuple[Orchestrator, Rig], sandbox: ThreadedSandbox) -> None:
    orchestrator, r = bench
    alice = await r.identity.context("U0ALICE")
    _, [proposal] = await orchestrator.start(alice, "scale_application",
                                             {"name": "web-app", "replicas": 6})
    assert (await r.flow.approve(proposal.id, "U0CAROL")).ok
    orchestrator.identity = Departed()
    [(_, done)] = await orchestrator.resume_due()
    assert done.state == "failed" and done.steps["monitor"].status == "pending"
    assert done.output == ("stopped: cannot act for U0ALICE any more (U0ALICE is not in "
                           "Hexabot's directory)")
    [row] = await r.rows("SELECT state FROM workflow_runs")
    assert row["state"] == "failed" and await orchestrator.resume_due() == []
    [end] = await r.rows("SELECT event->>'outcome' AS outcome FROM audit_outbox WHERE "
                         "event->>'kind' = 'workflow.end'")
    assert end["outcome"] == "denied"


async def test_a_run_forgotten_while_it_resumes_does_not_come_back(
        bench: tuple[Orchestrator, Rig]) -> None:
    """Logout deletes the person's runs; a replica resuming one of them at that moment stores
    nothing afterwards (the run stays forgotten) but what its steps did is still audited."""
    orchestrator, r = bench
    alice = await r.identity.context("U0ALICE")
    run, _ = await orchestrator.start(alice, "scale_application",
                                      {"name": "api-service", "replicas": 4})
    assert orchestrator.runs is not None
    claimed = await orchestrator.runs.claim(run.id)
    assert claimed is not None
    assert await orchestrator.runs.forget("U0ALICE") == 1  # logout, meanwhile
    owner, resumed = claimed
    resumed.state = "failed"
    before = len(await r.rows("SELECT id FROM audit_outbox"))
    event = AuditEvent(kind="workflow.end", actor="U0ALICE", outcome="ok",
                       detail={"run": run.id})
    assert await orchestrator.runs.update(owner, resumed, [event]) is False
    assert await r.rows("SELECT id FROM workflow_runs") == []
    assert len(await r.rows("SELECT id FROM audit_outbox")) == before + 1
