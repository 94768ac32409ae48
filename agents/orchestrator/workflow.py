"""Workflow templates: YAML files in ``agents/workflows/``, checked completely at load.

    name: scale_application              # must match the file name
    description: one line
    inputs:
      name: {required: true, description: the Deployment}
      replicas: {required: true}
    steps:
      - id: validate
        agent: deployment                # a specialised agent ...
        action: validate_scale           # ... and one of its actions
        params: {name: "{{ inputs.name }}", replicas: "{{ inputs.replicas }}"}
        permissions: [patch deployments.apps/scale]    # checked as the user before the step
        timeout: 30                      # seconds per attempt
        retries: 2                       # extra attempts, exponential backoff
        backoff: 1                       # first delay in seconds (then 2x, 4x …)
      - id: propose
        depends_on: [validate]
        ...
    output: "Scaled {{ inputs.name }}: {{ steps.monitor.text }}"

Refused at load, naming the file and the step: unknown keys, unknown agents or actions,
unknown or missing action parameters, malformed templates, templates naming an undeclared
input or a step that is not among the step's (transitive) dependencies, unknown
``depends_on`` ids, duplicate ids, cycles, and bad permission strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.orchestrator import template
from agents.orchestrator.specialists import Specialist
from tools.errors import HexabotError
from tools.kube.access import Access

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
TOP_KEYS = {"name", "description", "inputs", "steps", "output"}
STEP_KEYS = {"id", "agent", "action", "params", "permissions", "timeout", "retries", "backoff",
             "depends_on"}
INPUT_KEYS = {"required", "default", "description"}
MAX_TIMEOUT, MAX_RETRIES = 3600.0, 10


class WorkflowError(HexabotError, ValueError):
    """A template that cannot run as written; the message names the file and the step."""

    code = "workflow_invalid"


def parse_permission(text: str) -> Access:
    """kubectl's notation: ``VERB RESOURCE[.GROUP][/SUBRESOURCE]`` (``get pods/log``,
    ``patch deployments.apps/scale``)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"permission {text!r} is not 'VERB RESOURCE[.GROUP][/SUBRESOURCE]'")
    verb, target = parts
    resource, _, subresource = target.partition("/")
    plural, _, group = resource.partition(".")
    if not plural.isidentifier() or not verb.isalpha():
        raise ValueError(f"permission {text!r} is not 'VERB RESOURCE[.GROUP][/SUBRESOURCE]'")
    return Access(group, plural, verb, subresource)


@dataclass(frozen=True)
class Input:
    name: str
    required: bool = False
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class Step:
    id: str
    agent: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    permissions: tuple[Access, ...] = ()
    timeout: float = 60.0
    retries: int = 0
    backoff: float = 1.0
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workflow:
    name: str
    description: str
    inputs: tuple[Input, ...]
    steps: tuple[Step, ...]
    output: str = ""
    source: str = ""

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def bind(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The run's inputs: defaults applied; unknown and missing inputs refused."""
        declared = {i.name: i for i in self.inputs}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise WorkflowError(f"workflow {self.name}: unknown input(s) {', '.join(unknown)}"
                                f" (inputs: {', '.join(declared) or 'none'})")
        missing = [i.name for i in self.inputs if i.required and given.get(i.name) is None]
        if missing:
            raise WorkflowError(f"workflow {self.name}: missing input(s) {', '.join(missing)}")
        return {name: given.get(name, spec.default) for name, spec in declared.items()}


def _keys(where: str, raw: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise WorkflowError(f"{where}: expected a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise WorkflowError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                            f"(allowed: {', '.join(sorted(allowed))})")
    return raw


def _number(where: str, raw: Any, low: float, high: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not low <= raw <= high:
        raise WorkflowError(f"{where}: must be a number from {low:g} to {high:g}, got {raw!r}")
    return float(raw)


def _step(where: str, raw: Any, agents: Mapping[str, Specialist]) -> Step:
    data = _keys(where, raw, STEP_KEYS)
    step_id = data.get("id")
    if not isinstance(step_id, str) or not step_id.isidentifier():
        raise WorkflowError(f"{where}: id must be an identifier (letters, digits, _)")
    where = f"{where.rsplit(':', 1)[0]}: step {step_id!r}"
    agent = agents.get(str(data.get("agent")))
    if agent is None:
        raise WorkflowError(f"{where}: unknown agent {data.get('agent')!r} (agents: "
                            f"{', '.join(agents)})")
    action = agent.actions.get(str(data.get("action")))
    if action is None:
        raise WorkflowError(f"{where}: agent {agent.name} has no action "
                            f"{data.get('action')!r} (actions: {', '.join(agent.actions)})")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise WorkflowError(f"{where}: params must be a mapping")
    unknown = sorted(set(params) - action.required - action.optional)
    missing = sorted(action.required - set(params))
    if unknown or missing:
        raise WorkflowError(f"{where}: {agent.name}.{action.name} " + "; ".join(
            ([f"unknown param(s) {', '.join(unknown)}"] if unknown else []) +
            ([f"missing param(s) {', '.join(missing)}"] if missing else [])))
    depends = data.get("depends_on") or []
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise WorkflowError(f"{where}: depends_on must be a list of step ids")
    permissions = data.get("permissions") or []
    try:
        accesses = tuple(parse_permission(str(p)) for p in permissions)
    except ValueError as exc:
        raise WorkflowError(f"{where}: {exc}") from exc
    return Step(id=step_id, agent=agent.name, action=action.name, params=params,
                permissions=accesses,
                timeout=_number(f"{where}: timeout", data.get("timeout", 60), 0.001,
                                MAX_TIMEOUT),
                retries=int(_number(f"{where}: retries", data.get("retries", 0), 0,
                                    MAX_RETRIES)),
                backoff=_number(f"{where}: backoff", data.get("backoff", 1), 0, 60),
                depends_on=tuple(depends))


def _ancestors(steps: dict[str, Step], source: str) -> dict[str, set[str]]:
    """Each step's transitive dependencies; refuses unknown ids and cycles."""
    for step in steps.values():
        for dep in step.depends_on:
            if dep not in steps:
                raise WorkflowError(f"{source}: step {step.id!r}: depends_on names unknown "
                                    f"step {dep!r}")
    done: dict[str, set[str]] = {}

    def visit(step_id: str, path: list[str]) -> set[str]:
        if step_id in path:
            cycle = " -> ".join([*path[path.index(step_id):], step_id])
            raise WorkflowError(f"{source}: step {step_id!r}: dependency cycle {cycle}")
        if step_id not in done:
            found: set[str] = set()
            for dep in steps[step_id].depends_on:
                found |= {dep} | visit(dep, [*path, step_id])
            done[step_id] = found
        return done[step_id]

    for step_id in steps:
        visit(step_id, [])
    return done


def _check_templates(where: str, value: Any, inputs: set[str], reachable: set[str]) -> None:
    try:
        refs = template.references(value)
    except template.TemplateError as exc:
        raise WorkflowError(f"{where}: bad template: {exc}") from exc
    for root, name in refs:
        if root == "inputs" and name not in inputs:
            raise WorkflowError(f"{where}: template names undeclared input {name!r}")
        if root == "steps" and name not in reachable:
            raise WorkflowError(f"{where}: template uses step {name!r}, which is not among "
                                "its dependencies (add it to depends_on)")


def parse(data: Any, source: str, agents: Mapping[str, Specialist]) -> Workflow:
    top = _keys(source, data, TOP_KEYS)
    name = top.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise WorkflowError(f"{source}: name must be an identifier")
    if source.endswith((".yaml", ".yml")) and Path(source).stem != name:
        raise WorkflowError(f"{source}: name {name!r} must match the file name")
    inputs = []
    for input_name, spec in (top.get("inputs") or {}).items():
        spec = _keys(f"{source}: input {input_name!r}", spec or {}, INPUT_KEYS)
        inputs.append(Input(str(input_name), bool(spec.get("required", False)),
                            spec.get("default"), str(spec.get("description", ""))))
    raw_steps = top.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise WorkflowError(f"{source}: steps must be a non-empty list")
    steps: dict[str, Step] = {}
    for index, raw in enumerate(raw_steps):
        step = _step(f"{source}: steps[{index}]", raw, agents)
        if step.id in steps:
            raise WorkflowError(f"{source}: step {step.id!r}: duplicate id")
        steps[step.id] = step
    ancestors = _ancestors(steps, source)
    declared = {i.name for i in inputs}
    for step in steps.values():
        _check_templates(f"{source}: step {step.id!r}", step.params, declared,
                         ancestors[step.id])
    output = top.get("output") or ""
    _check_templates(f"{source}: output", output, declared, set(steps))
    return Workflow(name, str(top.get("description", "")), tuple(inputs),
                    tuple(steps.values()), str(output), source)


def load(path: Path, agents: Mapping[str, Specialist]) -> Workflow:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path}: not valid YAML: {exc}") from exc
    return parse(data, str(path), agents)


def load_all(agents: Mapping[str, Specialist], *extra: Path) -> dict[str, Workflow]:
    """The built-in templates, then those in each ``extra`` directory; a name used twice is
    refused naming both files."""
    found: dict[str, Workflow] = {}
    for directory in (WORKFLOWS_DIR, *extra):
        for path in sorted(directory.glob("*.yaml")):
            workflow = load(path, agents)
            if workflow.name in found:
                raise WorkflowError(f"{path}: workflow {workflow.name!r} is already defined "
                                    f"in {found[workflow.name].source}")
            found[workflow.name] = workflow
    return found
