"""The specialised agents a workflow step names: Kubernetes, Monitoring, Deployment, Debugging.

Each is a set of named actions over one :class:`~agents.toolbox.Toolbox` — so every step acts
as the user, through the tools layer, with the same exposure and audit rules as a chat turn:
READ tools run, WRITE tools only ever become proposals.  An action takes its rendered params
and returns a JSON-able dict (the step's output, which later steps' templates read).

``await_approval`` never waits in memory: when the action is still pending it raises
:class:`Parked`, the run is saved, and it resumes when the action is decided.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.resolve import resolve
from agents.toolbox import Toolbox
from confirmations.model import State
from tools import errors, registry
from tools.spec import Effect
from tools.writes.common import MAX_REPLICAS

ActionFn = Callable[[Toolbox, dict[str, Any]], Awaitable[dict[str, Any]]]


class Parked(Exception):
    """The step waits for a person's decision on a proposed action."""

    def __init__(self, action_id: str) -> None:
        super().__init__(f"waiting for approval #{action_id}")
        self.action_id = action_id


class StepFailed(Exception):
    """A step that cannot succeed as asked (not retried)."""


@dataclass(frozen=True)
class Action:
    name: str
    run: ActionFn
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    description: str = ""
    private: bool = False   # its output holds private data (ToolSpec.private): reports go privately


@dataclass(frozen=True)
class Specialist:
    name: str
    description: str
    actions: Mapping[str, Action] = field(default_factory=dict)


def _namespace(box: Toolbox, params: dict[str, Any]) -> str:
    namespace = params.get("namespace") or box.ctx.namespace
    if not box.ctx.allows_namespace(namespace):
        raise errors.InvalidArguments(f"namespace {namespace!r} is not one of yours "
                                      f"(yours: {', '.join(box.ctx.namespaces)})")
    return str(namespace)


# -- Kubernetes: the read tools, name resolution, backup strategy -----------------------------
def _read_tool(tool: str) -> Action:
    spec = registry.get(tool)
    fields = spec.args.model_fields

    async def run(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
        result = await box.read(tool, params)
        return {**result.data, "text": result.text}

    return Action(tool, run, frozenset(n for n, f in fields.items() if f.is_required()),
                  frozenset(n for n, f in fields.items() if not f.is_required()),
                  spec.description, spec.private)


async def find_workload(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    """The workload a person means by ``name`` (fuzzy, as in chat); ambiguity fails."""
    found = await box.workloads()
    match = resolve(str(params["name"]), found, params.get("kind"),
                    prefer_namespace=box.ctx.namespace)
    if match.found is not None:
        return dict(match.found)
    if match.ambiguous:
        raise StepFailed(f"{params['name']!r} is ambiguous: " + ", ".join(
            f"{w['kind']} {w['namespace']}/{w['name']}" for w in match.candidates))
    raise StepFailed(f"nothing matches {params['name']!r} in your namespaces "
                     f"({', '.join(box.ctx.namespaces)})")


async def backup_strategy(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    strategy, _ = await box.backup_strategy(_namespace(box, params), str(params["database"]))
    return {**strategy.__dict__, "text": strategy.text()}


# -- Debugging: the diagnosis engine and the pod to look at ------------------------------------
async def diagnose(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    findings, unreadable = await box.diagnose(_namespace(box, params))
    if params.get("name"):
        findings = [f for f in findings if f.name == params["name"]]
    rendered = [f.as_json() for f in findings]
    text = "\n".join(f.text() for f in findings[:5]) or "no findings"
    return {"count": len(rendered), "findings": rendered,
            "top": rendered[0] if rendered else None, "unreadable": unreadable, "text": text}


async def worst_pod(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    """The workload's pod with the most restarts (the one whose logs tell the story)."""
    namespace = _namespace(box, params)
    pods = (await box.read("list_pods", {"namespace": namespace})).data["pods"]
    owned = [p for p in pods if p["name"].startswith(f"{params['name']}-")]
    if not owned:
        raise StepFailed(f"{params['name']} has no pods in {namespace}")
    pod = max(owned, key=lambda p: p["restarts"])
    return {**pod, "namespace": namespace, "previous": pod["restarts"] > 0}


# -- Deployment: validate, propose, wait for the decision --------------------------------------


async def validate_scale(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    namespace, name = _namespace(box, params), str(params["name"])
    try:
        replicas = int(params["replicas"])
    except (TypeError, ValueError) as exc:
        raise StepFailed(f"replicas must be a whole number, got {params['replicas']!r}") from exc
    if not 0 <= replicas <= MAX_REPLICAS:
        raise StepFailed(f"replicas must be from 0 to {MAX_REPLICAS}, got {replicas}")
    status = await box.read("get_deployment_status", {"name": name, "namespace": namespace})
    current = int(status.data["desired"])
    if replicas == current:
        raise StepFailed(f"{namespace}/{name} already has {current} replicas")
    return {"name": name, "namespace": namespace, "current": current, "replicas": replicas,
            "direction": "up" if replicas > current else "down"}


async def propose(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    tool = str(params["tool"])
    if registry.get(tool).effect is not Effect.WRITE:
        raise StepFailed(f"{tool} only reads: use the kubernetes agent's {tool} action")
    args = dict(params.get("args") or {})
    proposal = await box.propose(tool, args)
    return {"id": proposal.id, "tool": tool, "summary": proposal.summary,
            "risk": proposal.risk, "cost_delta": proposal.cost_delta}


async def await_approval(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    action_id = str(params["action"])
    action = await box.flow.store.get(action_id)
    if action is None or action.requester != box.ctx.slack_id:
        raise StepFailed(f"no action #{action_id} of yours")
    if not action.state.final:
        raise Parked(action_id)
    if action.state is not State.SUCCEEDED:
        by = f" by {action.approver}" if action.approver else ""
        raise StepFailed(f"action #{action_id} was {action.state.value}{by}"
                         + (f": {action.error}" if action.error else ""))
    result = action.result or ""
    if registry.private_output(action.tool):  # e.g. exec output: only for the requester's DM
        result = "(private output: sent to the requester directly)"
    return {"id": action_id, "state": action.state.value, "approver": action.approver,
            "result": result}


# -- Monitoring: watch a rollout until it is done ---------------------------------------------
async def watch_rollout(box: Toolbox, params: dict[str, Any]) -> dict[str, Any]:
    """Poll the Deployment until every replica is updated and available (the step's timeout
    bounds the wait); the output says how long it took."""
    namespace, name = _namespace(box, params), str(params["name"])
    interval = float(params.get("interval") or 1.0)
    began = time.monotonic()
    while True:
        status = (await box.read("get_deployment_status",
                                 {"name": name, "namespace": namespace})).data
        desired = int(status["desired"])
        want = params.get("replicas")
        if (want is None or desired == int(want)) and status["rollout"] == "complete":
            seconds = round(time.monotonic() - began, 1)
            return {"name": name, "namespace": namespace, "ready": status["readyReplicas"],
                    "desired": desired, "seconds": seconds,
                    "text": f"{namespace}/{name}: {status['readyReplicas']}/{desired} ready, "
                            f"rollout complete (watched {seconds}s)"}
        await asyncio.sleep(interval)


def _specialist(name: str, description: str, *actions: Action) -> Specialist:
    return Specialist(name, description, {a.name: a for a in actions})


def _act(fn: ActionFn, required: set[str], optional: set[str] | None = None,
         private: bool = False) -> Action:
    return Action(fn.__name__, fn, frozenset(required), frozenset(optional or ()),
                  (fn.__doc__ or "").strip().split("\n")[0], private)


def default_agents(extra: tuple[Specialist, ...] = ()) -> dict[str, Specialist]:
    """The four specialised agents (plus any ``extra``, e.g. from the performance tools)."""
    reads = [_read_tool(spec.name) for spec in registry.TOOLS if spec.effect is Effect.READ]
    agents = (
        _specialist("kubernetes", "Reads the cluster as the user.", *reads,
                    _act(find_workload, {"name"}, {"kind"}),
                    _act(backup_strategy, {"database"}, {"namespace"})),
        _specialist("debugging", "Finds root causes.",
                    _act(diagnose, set(), {"namespace", "name"},
                         private=registry.private_output("troubleshoot_issues")),
                    _act(worst_pod, {"name"}, {"namespace"})),
        _specialist("deployment", "Proposes changes and follows their decisions.",
                    _act(validate_scale, {"name", "replicas"}, {"namespace"}),
                    _act(propose, {"tool"}, {"args"}),
                    _act(await_approval, {"action"})),
        _specialist("monitoring", "Watches workloads and their performance.",
                    _read_tool("analyze_performance"), _read_tool("suggest_optimizations"),
                    _act(watch_rollout, {"name"}, {"namespace", "replicas", "interval"})),
        *extra,
    )
    merged: dict[str, Specialist] = {}
    for agent in agents:
        if agent.name in merged:
            old = merged[agent.name]
            merged[agent.name] = Specialist(old.name, old.description,
                                            {**old.actions, **agent.actions})
        else:
            merged[agent.name] = agent
    return merged
