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

The document's shape (keys, types, bounds) is checked by pydantic models and the dependency
graph by :class:`graphlib.TopologicalSorter`.  Refused at load, naming the file and the step:
unknown keys, unknown agents or actions, unknown or missing action parameters, malformed
templates, templates naming an undeclared input or a step that is not among the step's
(transitive) dependencies, unknown ``depends_on`` ids, duplicate ids, cycles, numbers out of
bounds and bad permission strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from agents.orchestrator import template
from agents.orchestrator.specialists import Specialist
from tools.errors import HexabotError
from tools.kube.access import Access

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
MAX_TIMEOUT = 3600.0
MAX_RETRIES = 10
MAX_BACKOFF = 60.0
PERMISSION_FORM = "VERB RESOURCE[.GROUP][/SUBRESOURCE]"

Loc = tuple[int | str, ...]


class WorkflowError(HexabotError, ValueError):
    """A template that cannot run as written; the message names the file and the step."""

    code = "workflow_invalid"


def parse_permission(text: str) -> Access:
    """kubectl's notation: ``VERB RESOURCE[.GROUP][/SUBRESOURCE]`` (``get pods/log``,
    ``patch deployments.apps/scale``)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"permission {text!r} is not '{PERMISSION_FORM}'")
    verb, target = parts
    resource, _, subresource = target.partition("/")
    plural, _, group = resource.partition(".")
    if not plural.isidentifier() or not verb.isalpha():
        raise ValueError(f"permission {text!r} is not '{PERMISSION_FORM}'")
    return Access(group, plural, verb, subresource)


def _permission(value: Any) -> Access:
    if isinstance(value, Access):
        return value
    return parse_permission(str(value))


def _identifier(value: str) -> str:
    if not value.isidentifier():
        raise ValueError(f"must be an identifier (letters, digits, _), got {value!r}")
    return value


class _Strict(BaseModel):
    """Unknown keys are refused; a key left empty in YAML (``params:``) means its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_default(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {key: value for key, value in data.items()
                if value is not None or key not in fields or fields[key].is_required()}


class _InputSpec(_Strict):
    required: bool = False
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class Input:
    name: str
    required: bool = False
    default: Any = None
    description: str = ""


class Step(_Strict):
    """One step as written; ``agent``/``action`` are checked against the agents at parse."""

    id: str
    agent: str
    action: str
    params: dict[str, Any] = {}
    permissions: tuple[Annotated[Access, BeforeValidator(_permission)], ...] = ()
    timeout: float = Field(60.0, ge=0.001, le=MAX_TIMEOUT, strict=True)
    retries: int = Field(0, ge=0, le=MAX_RETRIES, strict=True)
    backoff: float = Field(1.0, ge=0, le=MAX_BACKOFF, strict=True)
    depends_on: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _identifier(value)


class _Document(_Strict):
    name: str
    description: str = ""
    inputs: dict[str, _InputSpec] = {}
    steps: list[Step] = Field(min_length=1)
    output: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier(value)

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        """``name:`` with nothing after it declares an optional input."""
        if not isinstance(value, dict):
            return value
        return {key: {} if spec is None else spec for key, spec in value.items()}


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


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` in the document."""
    if not loc:
        return _Document
    if len(loc) == 2 and loc[0] == "inputs":
        return _InputSpec
    if len(loc) == 2 and loc[0] == "steps":
        return Step
    return None


def _path(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _step_name(data: Any, index: int | str) -> str:
    """``step 'find'`` when the step at ``index`` has a string id, else ``steps[2]``."""
    steps = data.get("steps") if isinstance(data, dict) else None
    raw = steps[index] if isinstance(steps, list) and isinstance(index, int) else None
    step_id = raw.get("id") if isinstance(raw, dict) else None
    return f"step {step_id!r}" if isinstance(step_id, str) else f"steps[{index}]"


def _where(loc: Loc, data: Any) -> str:
    """Where ``loc`` is, in the words of the other messages: ``step 'find': timeout``."""
    head, rest = "", loc
    if len(loc) >= 2 and loc[0] == "steps":
        head, rest = _step_name(data, loc[1]), loc[2:]
    elif len(loc) >= 2 and loc[0] == "inputs":
        head, rest = f"input {loc[1]!r}", loc[2:]
    return ": ".join(part for part in (head, _path(rest)) if part)


def _bounds(loc: Loc) -> tuple[float, float, str] | None:
    """The (low, high) bounds of the number field at ``loc``, if it has both, and what kind of
    number it takes ("a whole number" or "a number")."""
    model = _model_at(loc[:-1]) if loc else None
    field = model.model_fields.get(str(loc[-1])) if model else None
    if field is None:
        return None
    low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
    kind = "a whole number" if field.annotation is int else "a number"
    return None if low is None or high is None else (low, high, kind)


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] in ("model_type", "dict_type"):
        return f"expected a mapping, got {type(error['input']).__name__}"
    bounds = _bounds(tuple(error["loc"]))
    if bounds is not None:
        low, high, kind = bounds
        return f"must be {kind} from {low:g} to {high:g}, got {error['input']!r}"
    return str(error["msg"]).removeprefix("Value error, ")


def _problems(exc: ValidationError, data: Any, source: str) -> str:
    """One line per fault, each naming the file and where in it; unknown keys first, listed
    together per mapping with the keys it allows."""
    unknown: dict[Loc, list[str]] = {}
    others: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            unknown.setdefault(loc[:-1], []).append(str(loc[-1]))
        else:
            others.append(": ".join(p for p in (source, _where(loc, data), _reason(error)) if p))
    lines = []
    for loc, keys in unknown.items():
        model = _model_at(loc)
        allowed = f" (allowed: {', '.join(sorted(model.model_fields))})" if model else ""
        where = _where(loc, data)
        lines.append(": ".join(p for p in (source, where) if p)
                     + f": unknown key(s) {', '.join(sorted(keys))}{allowed}")
    return "\n".join(lines + others)


def _check_action(where: str, step: Step, agents: Mapping[str, Specialist]) -> None:
    agent = agents.get(step.agent)
    if agent is None:
        raise WorkflowError(f"{where}: unknown agent {step.agent!r} (agents: "
                            f"{', '.join(agents)})")
    action = agent.actions.get(step.action)
    if action is None:
        raise WorkflowError(f"{where}: agent {agent.name} has no action "
                            f"{step.action!r} (actions: {', '.join(agent.actions)})")
    unknown = sorted(set(step.params) - action.required - action.optional)
    missing = sorted(action.required - set(step.params))
    faults = []
    if unknown:
        faults.append(f"unknown param(s) {', '.join(unknown)}")
    if missing:
        faults.append(f"missing param(s) {', '.join(missing)}")
    if faults:
        raise WorkflowError(f"{where}: {agent.name}.{action.name} {'; '.join(faults)}")


def _cycle(error: CycleError, order: Sequence[str]) -> list[str]:
    """The cycle as a chain of "depends on", from the step written first: ``a -> b -> a``."""
    members = list(reversed(error.args[1]))[:-1]
    start = min(range(len(members)), key=lambda i: order.index(members[i]))
    chain = members[start:] + members[:start]
    return [*chain, chain[0]]


def _ancestors(steps: dict[str, Step], source: str) -> dict[str, set[str]]:
    """Each step's transitive dependencies; refuses unknown ids and cycles."""
    for step in steps.values():
        for dep in step.depends_on:
            if dep not in steps:
                raise WorkflowError(f"{source}: step {step.id!r}: depends_on names unknown "
                                    f"step {dep!r}")
    sorter = TopologicalSorter({step.id: step.depends_on for step in steps.values()})
    try:
        order = list(sorter.static_order())
    except CycleError as exc:
        cycle = _cycle(exc, list(steps))
        raise WorkflowError(f"{source}: step {cycle[0]!r}: dependency cycle "
                            f"{' -> '.join(cycle)}") from exc
    found: dict[str, set[str]] = {}
    for step_id in order:
        found[step_id] = set()
        for dep in steps[step_id].depends_on:
            found[step_id] |= {dep} | found[dep]
    return found


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
    try:
        document = _Document.model_validate(data)
    except ValidationError as exc:
        raise WorkflowError(_problems(exc, data, source)) from exc
    if source.endswith((".yaml", ".yml")) and Path(source).stem != document.name:
        raise WorkflowError(f"{source}: name {document.name!r} must match the file name")
    steps: dict[str, Step] = {}
    for step in document.steps:
        where = f"{source}: step {step.id!r}"
        _check_action(where, step, agents)
        if step.id in steps:
            raise WorkflowError(f"{where}: duplicate id")
        steps[step.id] = step
    ancestors = _ancestors(steps, source)
    declared = set(document.inputs)
    for step in steps.values():
        _check_templates(f"{source}: step {step.id!r}", step.params, declared,
                         ancestors[step.id])
    _check_templates(f"{source}: output", document.output, declared, set(steps))
    inputs = tuple(Input(name, spec.required, spec.default, spec.description)
                   for name, spec in document.inputs.items())
    return Workflow(document.name, document.description, inputs, tuple(steps.values()),
                    document.output, source)


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
