"""Ready proposals the analyses attach to what they find: ``{"tool": …, "args": {…}}`` that
a write tool can plan as it stands (a person still approves the plan)."""

from __future__ import annotations

from typing import Any

import yaml

from tools.analysis.snapshot import Obj

Changes = dict[str, dict[str, dict[str, str]]]  # container -> {"requests"|"limits": {res: qty}}


def resources(workload: Obj | None, changes: Changes) -> dict[str, Any] | None:
    """apply_yaml of the workload with the containers' requests/limits changed (only the
    fields a server-side apply needs: replicas, selector, template, serviceName)."""
    if workload is None or not changes:
        return None
    manifest = {"apiVersion": workload.get("apiVersion", "apps/v1"),
                "kind": workload.get("kind", "Deployment"),
                "metadata": {"name": workload["metadata"]["name"],
                             "namespace": workload["metadata"]["namespace"]},
                "spec": {k: v for k, v in (workload.get("spec") or {}).items()
                         if k in ("replicas", "selector", "template", "serviceName")}}
    for container in manifest["spec"]["template"]["spec"]["containers"]:
        for section, values in changes.get(container["name"], {}).items():
            current = container.setdefault("resources", {})
            current[section] = {**(current.get(section) or {}), **values}
    return {"tool": "apply_yaml", "args": {"manifest": yaml.safe_dump(manifest)}}


def scale(name: str, replicas: int) -> dict[str, Any]:
    return {"tool": "scale_deployment", "args": {"name": name, "replicas": replicas}}


def manifest(obj: Obj) -> dict[str, Any]:
    return {"tool": "apply_yaml", "args": {"manifest": yaml.safe_dump(obj)}}
