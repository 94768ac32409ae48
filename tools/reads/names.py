"""What is there: workload names in a namespace, for resolving what a person means."""

from __future__ import annotations

from typing import Any

from tools import errors
from tools.spec import ToolEnv

KINDS = (("Deployment", "/apis/apps/v1/namespaces/{ns}/deployments"),
         ("StatefulSet", "/apis/apps/v1/namespaces/{ns}/statefulsets"))


async def workloads(env: ToolEnv, namespace: str) -> list[dict[str, Any]]:
    """[{kind, name, namespace, labels, images, replicas}] the user may list; others skipped."""
    found = []
    for kind, path in KINDS:
        try:
            listing = await env.cluster.call("GET", path.format(ns=namespace),
                                             what=f"list {kind}s in {namespace}")
        except errors.Forbidden:
            continue
        for obj in listing.get("items", []):
            spec = obj.get("spec") or {}
            containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
            found.append({"kind": kind, "name": obj["metadata"]["name"], "namespace": namespace,
                          "labels": obj["metadata"].get("labels") or {},
                          "images": [c.get("image", "") for c in containers],
                          "replicas": spec.get("replicas", 1)})
    return found
