"""Run a workflow as one user: steps in dependency order, independent ones in parallel.

Per step: render its params from the inputs and earlier outputs, check its permissions with
access reviews as the user, then call its agent's action under the step's timeout, retrying
transient failures (API unavailable, rate limited, conflicts, timeouts) with exponential
backoff.  A failed step skips everything that depends on it; independent branches go on.
A step waiting for a person's approval parks: the run's state is returned as ``waiting`` (the
caller saves it) and :meth:`WorkflowRunner.resume` continues it once the action is decided.  Every
step's outcome is an audit event.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from agents.orchestrator import template
from agents.orchestrator.specialists import Parked, Specialist, StepFailed
from agents.orchestrator.workflow import Step, Workflow
from agents.toolbox import Toolbox
from tools import errors, tracing
from tools.audit import AuditEvent
from tools.kube.access import allowed

TRANSIENT = (errors.Unavailable, errors.RateLimited, errors.Conflict, TimeoutError)
MAX_DELAY = 30.0
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class StepState:
    status: str = "pending"   # pending | running | succeeded | failed | skipped | waiting
    output: dict[str, Any] | None = None
    error: str = ""
    attempts: int = 0
    waiting_on: str = ""
    seconds: float = 0.0


@dataclass
class WorkflowRun:
    workflow: str
    inputs: dict[str, Any]
    steps: dict[str, StepState]
    state: str = "running"    # running | waiting | succeeded | failed
    output: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def waiting_on(self) -> list[str]:
        return [s.waiting_on for s in self.steps.values() if s.status == "waiting"]

    def scope(self) -> dict[str, Any]:
        return {"inputs": self.inputs,
                "steps": {k: s.output for k, s in self.steps.items() if s.output is not None}}

    def to_json(self) -> dict[str, Any]:
        return {"steps": {k: asdict(s) for k, s in self.steps.items()}}

    @classmethod
    def from_json(cls, run_id: str, workflow: str, inputs: dict[str, Any], state: str,
                  output: str, data: dict[str, Any]) -> WorkflowRun:
        return cls(workflow, inputs, {k: StepState(**v) for k, v in data["steps"].items()},
                   state, output, run_id)

    def text(self) -> str:
        marks = {"succeeded": "✓", "failed": "✗", "skipped": "-", "waiting": "…",
                 "pending": " ", "running": "▸"}
        lines = [f"workflow {self.workflow} ({self.state}), run {self.id}"]
        for step_id, step in self.steps.items():
            detail = step.error or (f"waiting for approval #{step.waiting_on}"
                                    if step.status == "waiting" else "")
            tries = f", {step.attempts} attempts" if step.attempts > 1 else ""
            lines.append(f"{marks.get(step.status, '?')} {step_id}: {step.status}{tries}"
                         + (f" — {detail}" if detail else ""))
        if self.output:
            lines.append(self.output)
        return "\n".join(lines)


class WorkflowRunner:
    """Audit events go to ``box.record`` (the caller writes them with the run's state)."""

    def __init__(self, agents: Mapping[str, Specialist], sleep: Sleep = asyncio.sleep) -> None:
        self.agents, self.sleep = agents, sleep

    async def start(self, workflow: Workflow, inputs: Mapping[str, Any],
                    box: Toolbox) -> WorkflowRun:
        bound = workflow.bind(inputs)
        run = WorkflowRun(workflow.name, bound, {s.id: StepState() for s in workflow.steps})
        await self._audit(box, run, "workflow.start", "ok", {"inputs": bound})
        return await self.resume(workflow, run, box)

    async def resume(self, workflow: Workflow, run: WorkflowRun, box: Toolbox) -> WorkflowRun:
        """Run every step that can run now; waiting steps are tried again first."""
        for state in run.steps.values():
            if state.status in ("waiting", "running"):
                state.status = "pending"
        run.state = "running"
        running: dict[asyncio.Task[None], str] = {}
        while True:
            for step in self._ready(workflow, run, set(running.values())):
                run.steps[step.id].status = "running"
                running[asyncio.create_task(self._step(step, run, box))] = step.id
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                running.pop(task)
                task.result()
            self._skip_blocked(workflow, run)
        statuses = {s.status for s in run.steps.values()}
        run.state = ("waiting" if "waiting" in statuses else
                     "failed" if statuses & {"failed", "skipped"} else "succeeded")
        if run.state == "succeeded" and workflow.output:
            try:
                run.output = str(template.render(workflow.output, run.scope()))
            except template.TemplateError as exc:
                run.state, run.output = "failed", f"output: {exc}"
        if run.state != "waiting":
            await self._audit(box, run, "workflow.end", "ok" if run.state == "succeeded"
                              else "failed", {"state": run.state})
        return run

    @staticmethod
    def _ready(workflow: Workflow, run: WorkflowRun, started: set[str]) -> list[Step]:
        return [s for s in workflow.steps if run.steps[s.id].status == "pending"
                and s.id not in started
                and all(run.steps[d].status == "succeeded" for d in s.depends_on)]

    @staticmethod
    def _skip_blocked(workflow: Workflow, run: WorkflowRun) -> None:
        changed = True
        while changed:
            changed = False
            for step in workflow.steps:
                state = run.steps[step.id]
                blocked = [d for d in step.depends_on
                           if run.steps[d].status in ("failed", "skipped")]
                if state.status == "pending" and blocked:
                    state.status, state.error = "skipped", f"{blocked[0]} did not succeed"
                    changed = True

    @tracing.traced(lambda a: f"workflow step {a['step'].id}",
                    attributes=lambda a: {"hexabot.workflow": a["run"].workflow,
                                          "hexabot.run": a["run"].id})
    async def _step(self, step: Step, run: WorkflowRun, box: Toolbox) -> None:
        state, began = run.steps[step.id], time.monotonic()
        try:
            params = template.render(step.params, run.scope())
            await self._check_permissions(step, params, box)
            state.output = await self._attempts(step, params, state, box)
            state.status = "succeeded"
        except Parked as parked:
            state.status, state.waiting_on = "waiting", parked.action_id
        except (StepFailed, template.TemplateError) as exc:
            state.status, state.error = "failed", str(exc)
        except errors.ToolError as exc:
            state.status, state.error = "failed", exc.message
        except TimeoutError:
            state.status, state.error = "failed", f"timed out after {step.timeout:g}s"
        state.seconds = round(time.monotonic() - began, 3)
        await self._audit(box, run, "workflow.step", {"succeeded": "ok", "waiting": "ok"}.get(
            state.status, "failed"), {"step": step.id, "agent": step.agent,
                                      "action": step.action, "status": state.status,
                                      "attempts": state.attempts,
                                      "waiting_on": state.waiting_on}, state.error,
            int(state.seconds * 1000))

    async def _check_permissions(self, step: Step, params: Any, box: Toolbox) -> None:
        namespace = params.get("namespace") if isinstance(params, dict) else None
        for access in step.permissions:
            ok, _ = await allowed(box.env.cluster, access, namespace or box.ctx.namespace)
            if not ok:
                raise errors.Forbidden(f"step {step.id} needs permission to "
                                       f"{access.describe()} in {namespace or box.ctx.namespace}")

    async def _attempts(self, step: Step, params: dict[str, Any], state: StepState,
                        box: Toolbox) -> dict[str, Any]:
        action = self.agents[step.agent].actions[step.action]
        while True:
            state.attempts += 1
            try:
                async with asyncio.timeout(step.timeout):
                    return await action.run(box, params)
            except TRANSIENT:
                if state.attempts > step.retries:
                    raise
            await self.sleep(min(step.backoff * 2 ** (state.attempts - 1), MAX_DELAY))

    async def _audit(self, box: Toolbox, run: WorkflowRun, kind: str, outcome: str,
                     detail: dict[str, Any], error: str = "", duration_ms: int = 0) -> None:
        ctx = box.ctx
        await box.record(AuditEvent(
            kind=kind, actor=ctx.slack_id, outcome=outcome, hexabase_user=ctx.hexabase_user,
            workspace=ctx.workspace, workspace_id=ctx.workspace_id, namespace=ctx.namespace,
            request_id=ctx.request_id,
            session_id=ctx.session_id, detail={"workflow": run.workflow, "run": run.id,
                                               **detail},
            error=error, duration_ms=duration_ms))
