"""The workflow runner on its own: parallel steps, retries with exponential backoff, timeouts,
failure isolation, templating between steps and one audit event per step.  The specialised
agents here are test doubles of the Specialist protocol; nothing touches a cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agents.orchestrator.runner import WorkflowRunner
from agents.orchestrator.specialists import Action, Specialist
from agents.orchestrator.workflow import Workflow, WorkflowError, parse
from agents.toolbox import Toolbox
from tools import errors
from tools.security import KubeconfigCredentials, SecurityContext
from tools.spec import ToolEnv


class Doubles:
    """Actions whose behaviour each test sets; ``calls`` records (action, params)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.left_ready = asyncio.Event()
        self.right_ready = asyncio.Event()
        self.failures = 0

    async def echo(self, box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("echo", params))
        return {"value": params.get("value"), "text": f"echo {params.get('value')}"}

    async def left(self, box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        self.left_ready.set()             # finishes only once `right` has started:
        await self.right_ready.wait()     # run one after the other, these two never end
        return {"side": "left"}

    async def right(self, box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        self.right_ready.set()
        await self.left_ready.wait()
        return {"side": "right"}

    async def flaky(self, box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        self.failures += 1
        if self.failures <= int(params["fail_times"]):
            raise errors.Unavailable(f"API server unavailable (attempt {self.failures})")
        return {"attempt": self.failures}

    async def forbidden(self, box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        self.failures += 1
        raise errors.Forbidden("pods is forbidden")

    async def hang(self, box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    def agents(self) -> dict[str, Specialist]:
        actions = [Action("echo", self.echo, optional=frozenset({"value"})),
                   Action("left", self.left), Action("right", self.right),
                   Action("flaky", self.flaky, frozenset({"fail_times"})),
                   Action("forbidden", self.forbidden), Action("hang", self.hang)]
        return {"test": Specialist("test", "doubles", {a.name: a for a in actions})}


def box() -> Toolbox:
    ctx = SecurityContext("U0ALICE", "hxb-alice", "alice", (), "shop", ("shop",), "shop", (),
                          False, KubeconfigCredentials({}, "alice", "test"))
    return Toolbox(ctx, ToolEnv(ctx, None), None)  # type: ignore[arg-type]


def workflow(doubles: Doubles, steps: list[dict[str, Any]], **top: Any) -> Workflow:
    return parse({"name": "t", "inputs": {"who": {"default": "world"}}, "steps": steps, **top},
                 "t.yaml", doubles.agents())


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_independent_steps_run_in_parallel_and_outputs_flow_downstream() -> None:
    doubles = Doubles()
    flow = workflow(doubles, [
        {"id": "a", "agent": "test", "action": "left", "timeout": 5},
        {"id": "b", "agent": "test", "action": "right", "timeout": 5},
        {"id": "c", "agent": "test", "action": "echo", "depends_on": ["a", "b"],
         "params": {"value": "{{ steps.a.side }}+{{ steps.b.side }} for {{ inputs.who }}"}}],
        output="done: {{ steps.c.value }}")
    run = await WorkflowRunner(doubles.agents()).start(flow, {}, b := box())
    assert run.state == "succeeded", run.text()
    assert doubles.calls == [("echo", {"value": "left+right for world"})]
    assert run.output == "done: left+right for world"
    steps = [e.detail["step"] for e in b.events if e.kind == "workflow.step"]
    assert sorted(steps) == ["a", "b", "c"] and steps[-1] == "c"
    assert [e.kind for e in b.events][0::4] == ["workflow.start", "workflow.end"]


async def test_transient_failures_are_retried_with_exponential_backoff() -> None:
    doubles, sleeps = Doubles(), Sleeps()
    flow = workflow(doubles, [{"id": "f", "agent": "test", "action": "flaky",
                               "params": {"fail_times": 2}, "retries": 3, "backoff": 0.5}])
    run = await WorkflowRunner(doubles.agents(), sleeps).start(flow, {}, box())
    assert run.state == "succeeded"
    assert run.steps["f"].attempts == 3 and run.steps["f"].output == {"attempt": 3}
    assert sleeps.delays == [0.5, 1.0]


async def test_retries_run_out_and_dependents_are_skipped_while_others_go_on() -> None:
    doubles, sleeps = Doubles(), Sleeps()
    flow = workflow(doubles, [
        {"id": "f", "agent": "test", "action": "flaky", "params": {"fail_times": 9},
         "retries": 2, "backoff": 1},
        {"id": "after", "agent": "test", "action": "echo", "depends_on": ["f"]},
        {"id": "later", "agent": "test", "action": "echo", "depends_on": ["after"]},
        {"id": "other", "agent": "test", "action": "echo", "params": {"value": 1}}])
    run = await WorkflowRunner(doubles.agents(), sleeps).start(flow, {}, b := box())
    assert run.state == "failed"
    assert run.steps["f"].status == "failed" and run.steps["f"].attempts == 3
    assert "attempt 3" in run.steps["f"].error and sleeps.delays == [1.0, 2.0]
    assert (run.steps["after"].status, run.steps["later"].status) == ("skipped", "skipped")
    assert run.steps["other"].status == "succeeded"
    failed = [e for e in b.events if e.kind == "workflow.step" and e.outcome == "failed"]
    assert [e.detail["step"] for e in failed] == ["f"] and failed[0].detail["attempts"] == 3


async def test_permission_errors_are_not_retried() -> None:
    doubles, sleeps = Doubles(), Sleeps()
    flow = workflow(doubles, [{"id": "f", "agent": "test", "action": "forbidden",
                               "retries": 5}])
    run = await WorkflowRunner(doubles.agents(), sleeps).start(flow, {}, box())
    assert run.steps["f"].error == "pods is forbidden" and doubles.failures == 1
    assert sleeps.delays == []


async def test_a_step_that_hangs_times_out_on_every_attempt() -> None:
    doubles, sleeps = Doubles(), Sleeps()
    flow = workflow(doubles, [{"id": "h", "agent": "test", "action": "hang",
                               "timeout": 0.05, "retries": 1, "backoff": 0.1}])
    run = await WorkflowRunner(doubles.agents(), sleeps).start(flow, {}, box())
    assert run.steps["h"].status == "failed" and run.steps["h"].attempts == 2
    assert run.steps["h"].error == "timed out after 0.05s" and sleeps.delays == [0.1]


async def test_a_missing_value_at_run_time_fails_the_step_naming_the_field() -> None:
    doubles = Doubles()
    flow = workflow(doubles, [
        {"id": "a", "agent": "test", "action": "echo"},
        {"id": "b", "agent": "test", "action": "echo", "depends_on": ["a"],
         "params": {"value": "{{ steps.a.nothing }}"}}])
    run = await WorkflowRunner(doubles.agents()).start(flow, {}, box())
    assert run.steps["b"].status == "failed"
    assert "steps.a has no field 'nothing'" in run.steps["b"].error


def test_inputs_are_checked_when_a_run_starts() -> None:
    doubles = Doubles()
    flow = parse({"name": "t", "inputs": {"name": {"required": True}},
                  "steps": [{"id": "a", "agent": "test", "action": "echo"}]}, "t.yaml",
                 doubles.agents())
    with pytest.raises(WorkflowError, match="missing input"):
        flow.bind({})
    with pytest.raises(WorkflowError, match=r"unknown input.*colour"):
        flow.bind({"name": "x", "colour": "red"})
    assert flow.bind({"name": "x"}) == {"name": "x"}
