"""Workflow templates are checked whole at load: every mistake is refused naming the file and
the step.  The shipped templates load with the real specialised agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.orchestrator.specialists import default_agents
from agents.orchestrator.template import TemplateError, references, render
from agents.orchestrator.workflow import WorkflowError, load, load_all

AGENTS = default_agents()


def test_the_shipped_templates_load() -> None:
    found = load_all(AGENTS)
    assert {"debug_pod_issues", "scale_application", "backup_database",
            "performance_review"} <= set(found)
    scale = found["scale_application"]
    assert [s.id for s in scale.steps] == ["find", "validate", "propose", "approval", "monitor"]
    assert scale.step("validate").permissions[0].describe() == \
        'patch deployments/scale (API group "apps")'


def write(tmp_path: Path, steps: list[dict[str, Any]], name: str = "wf",
          **top: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "inputs": {"app": {"required": True}},
                                    "steps": steps, **top}))
    return path


FIND = {"id": "find", "agent": "kubernetes", "action": "find_workload",
        "params": {"name": "{{ inputs.app }}"}}


@pytest.mark.parametrize(("steps", "where", "problem"), [
    ([{**FIND, "agent": "wizard"}], "step 'find'", "unknown agent 'wizard'"),
    ([{**FIND, "action": "fly"}], "step 'find'", "agent kubernetes has no action 'fly'"),
    ([{**FIND, "params": {"name": "x", "colour": "red"}}], "step 'find'",
     "unknown param(s) colour"),
    ([{**FIND, "params": {}}], "step 'find'", "missing param(s) name"),
    ([{**FIND, "params": {"name": "{{ inputs.app"}}], "step 'find'", "unbalanced braces"),
    ([{**FIND, "params": {"name": "{{ os.system('x') }}"}}], "step 'find'",
     "bad template"),
    ([{**FIND, "params": {"name": "{{ inputs.nope }}"}}], "step 'find'",
     "undeclared input 'nope'"),
    ([FIND, {"id": "logs", "agent": "debugging", "action": "worst_pod",
             "params": {"name": "{{ steps.find.name }}"}}], "step 'logs'",
     "uses step 'find', which is not among its dependencies"),
    ([{**FIND, "depends_on": ["ghost"]}], "step 'find'", "unknown step 'ghost'"),
    ([FIND, FIND], "step 'find'", "duplicate id"),
    ([{**FIND, "timeout": -1}], "step 'find': timeout", "must be a number"),
    ([{**FIND, "retries": 99}], "step 'find': retries", "must be a whole number"),
    ([{**FIND, "permissions": ["delete"]}], "step 'find'", "is not 'VERB RESOURCE"),
    ([{**FIND, "sudo": True}], "step 'find'", "unknown key(s) sudo"),
])
def test_mistakes_are_refused_naming_file_and_step(tmp_path: Path, steps: list[dict[str, Any]],
                                                   where: str, problem: str) -> None:
    path = write(tmp_path, steps)
    with pytest.raises(WorkflowError) as caught:
        load(path, AGENTS)
    assert str(caught.value).startswith(str(path)), caught.value
    assert where in str(caught.value) and problem in str(caught.value), caught.value


def test_cycles_are_refused_with_the_cycle(tmp_path: Path) -> None:
    steps = [{**FIND, "depends_on": ["c"]},
             {"id": "b", "agent": "debugging", "action": "diagnose", "depends_on": ["find"]},
             {"id": "c", "agent": "debugging", "action": "diagnose", "depends_on": ["b"]}]
    with pytest.raises(WorkflowError, match=r"dependency cycle find -> c -> b -> find"):
        load(write(tmp_path, steps), AGENTS)


DIAGNOSE = {"agent": "debugging", "action": "diagnose"}


@pytest.mark.parametrize(("steps", "message"), [
    ([{**FIND, "sudo": True, "su": 1}],
     "step 'find': unknown key(s) su, sudo (allowed: action, agent, backoff, depends_on, id, "
     "params, permissions, retries, timeout)"),
    ([{**FIND, "backoff": 61}], "step 'find': backoff: must be a number from 0 to 60, got 61"),
    ([{**FIND, "timeout": "soon"}],
     "step 'find': timeout: must be a number from 0.001 to 3600, got 'soon'"),
    ([{**FIND, "retries": True}],
     "step 'find': retries: must be a whole number from 0 to 10, got True"),
    ([FIND, {**DIAGNOSE, "id": "a", "depends_on": ["find", "c"]},
      {**DIAGNOSE, "id": "b", "depends_on": ["a"]},
      {**DIAGNOSE, "id": "c", "depends_on": ["b"]}],
     "step 'a': dependency cycle a -> c -> b -> a"),
    ([{**DIAGNOSE, "id": "c", "depends_on": ["b"]}, {**DIAGNOSE, "id": "a", "depends_on": ["c"]},
      {**DIAGNOSE, "id": "b", "depends_on": ["a"]}],
     "step 'c': dependency cycle c -> b -> a -> c"),
    ([FIND, {**DIAGNOSE, "id": "check", "depends_on": ["find", "fnid"]}],
     "step 'check': depends_on names unknown step 'fnid'"),
    ([FIND, {**DIAGNOSE, "id": "check", "depends_on": ["find", 7]}],
     "step 'check': depends_on[1]: Input should be a valid string"),
    ([{**FIND, "id": "find-it"}],
     "step 'find-it': id: must be an identifier (letters, digits, _), got 'find-it'"),
    ([{**FIND, "id": None}], "steps[0]: id: Input should be a valid string"),
    ([{**FIND, "permissions": ["get pods", "pods"]}],
     "step 'find': permissions[1]: permission 'pods' is not 'VERB RESOURCE"),
])
def test_shape_and_graph_faults_name_file_step_and_fault(
        tmp_path: Path, steps: list[dict[str, Any]], message: str) -> None:
    path = write(tmp_path, steps)
    with pytest.raises(WorkflowError) as caught:
        load(path, AGENTS)
    assert str(caught.value).startswith(f"{path}: {message}"), caught.value


def test_every_shape_fault_is_listed_one_per_line(tmp_path: Path) -> None:
    path = write(tmp_path, [{**FIND, "timeout": 0}, {"id": "b", "agent": "debugging"}],
                 inputs={"app": {"required": True, "secret": True}, "ns": None})
    with pytest.raises(WorkflowError) as caught:
        load(path, AGENTS)
    assert str(caught.value).splitlines() == [
        f"{path}: input 'app': unknown key(s) secret (allowed: default, description, required)",
        f"{path}: step 'find': timeout: must be a number from 0.001 to 3600, got 0",
        f"{path}: step 'b': action: required key is missing"]


def test_empty_keys_mean_their_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, [{**FIND, "permissions": None, "depends_on": None}],
                 inputs={"app": None}, description=None)
    workflow = load(path, AGENTS)
    assert workflow.inputs[0].required is False and workflow.description == ""
    assert workflow.steps[0].permissions == () and workflow.steps[0].timeout == 60.0


def test_file_level_mistakes(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="must match the file name"):
        load(write(tmp_path, [FIND], name="wf").rename(tmp_path / "other.yaml"), AGENTS)
    with pytest.raises(WorkflowError, match=r"wf\.yaml: unknown key\(s\) schedule"):
        load(write(tmp_path, [FIND], schedule="daily"), AGENTS)
    (tmp_path / "listed.yaml").write_text("- a list\n")
    with pytest.raises(WorkflowError, match=r"listed\.yaml: expected a mapping, got list"):
        load(tmp_path / "listed.yaml", AGENTS)
    with pytest.raises(WorkflowError, match=r"wf\.yaml: steps: List should have at least 1"):
        load(write(tmp_path, []), AGENTS)
    with pytest.raises(WorkflowError, match="output: template names undeclared input 'x'"):
        load(write(tmp_path, [FIND], output="{{ inputs.x }}"), AGENTS)
    (tmp_path / "broken.yaml").write_text("steps: [\n")
    with pytest.raises(WorkflowError, match=r"broken\.yaml: not valid YAML"):
        load(tmp_path / "broken.yaml", AGENTS)


def test_rendering_keeps_types_and_defaults() -> None:
    scope = {"inputs": {"n": 3, "none": None}, "steps": {"a": {"pods": [{"name": "p-1"}]}}}
    assert render("{{ inputs.n }}", scope) == 3
    assert render("x{{ inputs.n }}y", scope) == "x3y"
    assert render({"k": ["{{ steps.a.pods.0.name }}"]}, scope) == {"k": ["p-1"]}
    assert render("{{ inputs.none | default(5) }}", scope) == 5
    assert render("{{ inputs.none }}", scope) is None
    with pytest.raises(TemplateError, match="has no value"):
        render("{{ steps.a.pods.7.name }}", scope)
    assert references("{{ inputs.n }} and {{ steps.a.b }}") == [("inputs", "n"),
                                                               ("steps", "a")]


def test_extra_templates_load_beside_the_built_in_ones(tmp_path: Path) -> None:
    write(tmp_path, [FIND], name="find_app")
    assert "find_app" in load_all(AGENTS, tmp_path) and "scale_application" in \
        load_all(AGENTS, tmp_path)
    clash = tmp_path / "again"
    clash.mkdir()
    write(clash, [FIND], name="scale_application")
    with pytest.raises(WorkflowError, match=r"'scale_application' is already defined in .*"
                                            r"agents/workflows/scale_application\.yaml"):
        load_all(AGENTS, clash)
