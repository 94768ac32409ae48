"""The checks the real API server makes that our clients could trip over.

Not the whole of kube-apiserver's validation: the fields a ChatOps tool writes (workload
selectors and templates, replica counts, containers, ConfigMap data, CronJob schedules) are
checked with the same field paths and wording, so a bad write fails here as it would there.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube import errors
from sandbox.kube.resources import Kind
from sandbox.kube.selectors import selector_from_match

WORKLOADS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"}


def _containers(spec: Any, path: str) -> list[str]:
    problems = []
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not isinstance(containers, list) or not containers:
        return [f"{path}.containers: Required value"]
    names = set()
    for i, container in enumerate(containers):
        if not isinstance(container, dict):
            problems.append(f"{path}.containers[{i}]: Invalid value: must be an object")
            continue
        if not container.get("name"):
            problems.append(f"{path}.containers[{i}].name: Required value")
        elif container["name"] in names:
            problems.append(f'{path}.containers[{i}].name: Duplicate value: "{container["name"]}"')
        names.add(container.get("name"))
        if not container.get("image"):
            problems.append(f"{path}.containers[{i}].image: Required value")
    return problems


def _replicas(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, int) or isinstance(value, bool):
        return [f"{path}: Invalid value: {value!r}: must be an integer"]
    if value < 0:
        return [f"{path}: Invalid value: {value}: must be greater than or equal to 0"]
    return []


def _workload(obj: dict[str, Any]) -> list[str]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return ["spec: Required value"]
    problems = _replicas(spec.get("replicas"), "spec.replicas")
    selector = spec.get("selector")
    template = spec.get("template")
    if not isinstance(selector, dict) or not (selector.get("matchLabels")
                                              or selector.get("matchExpressions")):
        problems.append("spec.selector: Required value")
    if not isinstance(template, dict):
        return [*problems, "spec.template: Required value"]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if isinstance(selector, dict) and not selector_from_match(selector)({"metadata": {
            "labels": labels}}):
        problems.append(f"spec.template.metadata.labels: Invalid value: {labels!r}: "
                        "`selector` does not match template `labels`")
    problems.extend(_containers(template.get("spec"), "spec.template.spec"))
    return problems


def validate(kind: Kind, obj: dict[str, Any]) -> None:
    """Raise 422 Invalid with every problem found, each with its field path."""
    problems: list[str] = []
    if kind.kind in WORKLOADS:
        problems = _workload(obj)
    elif kind.kind == "Pod":
        problems = _containers(obj.get("spec"), "spec")
    elif kind.kind == "ConfigMap":
        for key, value in (obj.get("data") or {}).items():
            if not isinstance(value, str):
                problems.append(f"data[{key}]: Invalid value: must be a string")
    elif kind.kind == "CronJob":
        spec = obj.get("spec") or {}
        if not spec.get("schedule"):
            problems.append("spec.schedule: Required value")
        elif len(str(spec["schedule"]).split()) not in (5, 6) and not str(
                spec["schedule"]).startswith("@"):
            problems.append(f'spec.schedule: Invalid value: "{spec["schedule"]}": '
                            "expected exactly 5 fields")
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        problems.extend(_containers((job_spec.get("template") or {}).get("spec"),
                                    "spec.jobTemplate.spec.template.spec"))
    elif kind.kind == "Job":
        problems = _containers(((obj.get("spec") or {}).get("template") or {}).get("spec"),
                               "spec.template.spec")
    if problems:
        raise errors.invalid(kind, obj.get("metadata", {}).get("name", ""), problems)
