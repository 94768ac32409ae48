"""What is there: workload names in a namespace, for resolving what a person means."""

from __future__ import annotations

import asyncio
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
            listing = await env.listing(path.format(ns=namespace),
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


LISTS = (("Deployment", "/apis/apps/v1/namespaces/{ns}/deployments"),
         ("StatefulSet", "/apis/apps/v1/namespaces/{ns}/statefulsets"),
         ("CronJob", "/apis/batch/v1/namespaces/{ns}/cronjobs"),
         ("ConfigMap", "/api/v1/namespaces/{ns}/configmaps"),
         ("Service", "/api/v1/namespaces/{ns}/services"),
         ("Pod", "/api/v1/namespaces/{ns}/pods"))


def _entry(kind: str, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    template = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
                if kind == "CronJob" else spec.get("template")) or {}
    containers = ((template.get("spec") or {}) if kind != "Pod" else spec).get(
        "containers") or []
    entry: dict[str, Any] = {"kind": kind, "name": meta.get("name", ""),
                             "namespace": namespace,
                             "containers": [c.get("name", "") for c in containers],
                             "images": [c.get("image", "") for c in containers]}
    if kind in ("Deployment", "StatefulSet"):
        entry["replicas"] = spec.get("replicas", 1)
        labels = (spec.get("selector") or {}).get("matchLabels") or {}
        entry["selector"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    if kind == "ConfigMap":
        entry["keys"] = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})
        entry["containers"] = entry["images"] = []
    if kind == "Pod":
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        entry["restarts"] = sum(s.get("restartCount", 0) for s in statuses)
        owners = meta.get("ownerReferences") or []
        owner = owners[0]["name"] if owners else ""
        hash_ = (meta.get("labels") or {}).get("pod-template-hash")
        entry["owner"] = owner[:-len(hash_) - 1] if hash_ and owner.endswith(hash_) else owner
    return entry


async def inventory(env: ToolEnv, namespaces: list[str]) -> list[dict[str, Any]]:
    """What a person can name in ``namespaces``: workloads, CronJobs, ConfigMaps (their keys,
    never their values), Services and Pods — lists they may not read are skipped."""
    async def one(kind: str, path: str, namespace: str) -> list[dict[str, Any]]:
        try:
            listing = await env.listing(path.format(ns=namespace),
                                        what=f"list {kind}s in {namespace}")
        except (errors.Forbidden, errors.NotFound):
            return []
        return [_entry(kind, obj, namespace) for obj in listing.get("items", [])]

    found = await asyncio.gather(*(one(kind, path, ns) for ns in namespaces
                                   for kind, path in LISTS))
    return [entry for batch in found for entry in batch]
