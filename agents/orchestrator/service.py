"""The orchestrator: start a workflow as a person, save its state, resume it after approvals.

A run always acts as its owner: the SecurityContext is resolved from the directory on start
and again on every resume (so a person who lost access cannot be acted for later).  Runs live
in Postgres (:mod:`agents.orchestrator.runs`); ``resume_for`` is called right after a decision
and ``resume_due`` by the background sweeper, and the claim makes either safe on any replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.orchestrator.runner import Sleep, WorkflowRun, WorkflowRunner
from agents.orchestrator.runs import Owner, RunStore
from agents.orchestrator.specialists import Specialist, default_agents
from agents.orchestrator.workflow import Workflow, WorkflowError, load_all
from agents.toolbox import Toolbox
from agents.types import Proposal
from confirmations.flow import ContextSource, DecisionFlow
from tools.audit import AuditEvent
from tools.env import Environments
from tools.security import SecurityContext


class Orchestrator:
    def __init__(self, identity: ContextSource, flow: DecisionFlow, envs: Environments,
                 runs: RunStore,
                 agents: Mapping[str, Specialist] | None = None,
                 workflows: Mapping[str, Workflow] | None = None,
                 workflows_dir: Path | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.identity, self.flow, self.envs, self.runs = identity, flow, envs, runs
        self.agents = dict(agents) if agents is not None else default_agents()
        self.workflows = dict(workflows) if workflows is not None else load_all(
            self.agents, *([workflows_dir] if workflows_dir else []))
        self.runner = WorkflowRunner(self.agents, sleep)

    def workflow(self, name: str) -> Workflow:
        found = self.workflows.get(name)
        if found is None:
            raise WorkflowError(f"no workflow named {name!r}; workflows: "
                                f"{', '.join(sorted(self.workflows)) or 'none'}")
        return found

    def private(self, run: WorkflowRun) -> bool:
        """Whether a run's report holds private output: a step of its workflow is an action
        whose output is private (``ToolSpec.private``); an unknown workflow counts as private."""
        workflow = self.workflows.get(run.workflow)
        if workflow is None:
            return True
        return any(self.agents[s.agent].actions[s.action].private for s in workflow.steps)

    def _box(self, ctx: SecurityContext) -> Toolbox:
        return Toolbox(ctx, self.envs.for_context(ctx), self.flow)

    async def start(self, ctx: SecurityContext, name: str, inputs: Mapping[str, Any],
                    reply_channel: str | None = None, reply_ts: str | None = None
                    ) -> tuple[WorkflowRun, list[Proposal]]:
        """The run (saved) and the proposals its steps made (for cards)."""
        workflow = self.workflow(name)
        owner = Owner(ctx.slack_id, ctx.workspace, ctx.namespace, ctx.session_id,
                      reply_channel, reply_ts, ctx.workspace_id)
        box = self._box(ctx)
        run = await self.runner.start(workflow, inputs, box)
        await self.runs.save(owner, run, box.events)
        return run, box.proposals

    async def resume(self, run_id: str) -> tuple[Owner, WorkflowRun] | None:
        """Continue a waiting run if one of its actions has been decided; None otherwise."""
        claimed = await self.runs.claim(run_id)
        if claimed is None:
            return None
        owner, run = claimed
        decided = False
        for action_id in run.waiting_on:
            action = await self.flow.store.get(action_id)
            decided = decided or action is None or action.state.final
        if not decided:
            await self.runs.release(run_id)
            return None
        try:
            if not owner.workspace_id:
                raise LookupError("the run was saved before workspaces were identified by "
                                  "their cluster")
            ctx = await self.identity.context(owner.slack_id, session_id=owner.session_id,
                                              workspace_id=owner.workspace_id,
                                              namespace=owner.namespace)
        except LookupError as exc:  # left the directory, or lost the workspace/namespace
            run.state, run.output = "failed", f"stopped: cannot act for {owner.slack_id} " \
                                              f"any more ({exc})"
            await self.runs.update(owner, run, [AuditEvent(
                kind="workflow.end", actor=owner.slack_id, outcome="denied",
                workspace=owner.workspace, workspace_id=owner.workspace_id,
                namespace=owner.namespace, error=str(exc),
                detail={"workflow": run.workflow, "run": run.id, "state": run.state})])
            return owner, run
        box = self._box(ctx)
        run = await self.runner.resume(self.workflow(run.workflow), run, box)
        if not await self.runs.update(owner, run, box.events):
            return None  # forgotten meanwhile (logout): nothing to report
        return owner, run

    async def resume_for(self, action_id: str) -> list[tuple[Owner, WorkflowRun]]:
        """Resume the runs waiting on one action (call after it was decided)."""
        resumed = [await self.resume(run_id) for run_id in await self.runs.waiting(action_id)]
        return [r for r in resumed if r is not None]

    async def resume_due(self) -> list[tuple[Owner, WorkflowRun]]:
        """Resume every waiting run whose action has been decided (the background sweeper)."""
        resumed = [await self.resume(run_id) for run_id in await self.runs.waiting()]
        return [r for r in resumed if r is not None]
