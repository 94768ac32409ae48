"""One read of everything the analyzers look at, as the user, in one namespace.

Kinds the user may not list are skipped and named in ``unreadable`` (the diagnosis says what it
could not see instead of guessing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from tools import errors
from tools.spec import ToolEnv

Obj = dict[str, Any]
SOURCES = {
    "pods": "/api/v1/namespaces/{ns}/pods",
    "services": "/api/v1/namespaces/{ns}/services",
    "endpoints": "/api/v1/namespaces/{ns}/endpoints",
    "events": "/api/v1/namespaces/{ns}/events",
    "pvcs": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "quotas": "/api/v1/namespaces/{ns}/resourcequotas",
    "deployments": "/apis/apps/v1/namespaces/{ns}/deployments",
    "statefulsets": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "jobs": "/apis/batch/v1/namespaces/{ns}/jobs",
    "cronjobs": "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "hpas": "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
    "metrics": "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
    "nodes": "/api/v1/nodes",
}


@dataclass
class Snapshot:
    namespace: str
    items: dict[str, list[Obj]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    def __getitem__(self, kind: str) -> list[Obj]:
        return self.items.get(kind, [])

    def events_for(self, name: str) -> list[Obj]:
        return [e for e in self["events"] if (e.get("involvedObject") or {}).get("name") == name]

    def metrics_for(self, pod: str) -> dict[str, Obj]:
        for m in self["metrics"]:
            if m["metadata"]["name"] == pod:
                return {c["name"]: c.get("usage") or {} for c in m.get("containers") or []}
        return {}


async def take(env: ToolEnv, namespace: str) -> Snapshot:
    snapshot = Snapshot(namespace)

    async def fetch(kind: str, path: str) -> None:
        try:
            listing = await env.cluster.call("GET", path.format(ns=namespace),
                                             what=f"list {kind} in {namespace}")
            snapshot.items[kind] = list(listing.get("items", []))
        except (errors.Forbidden, errors.NotFound):
            snapshot.unreadable.append(kind)

    await asyncio.gather(*(fetch(kind, path) for kind, path in SOURCES.items()))
    return snapshot
