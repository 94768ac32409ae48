"""One read of everything the analyzers look at, as the user, in one namespace.

Kinds the user may not list are skipped and named in ``unreadable`` (the diagnosis says what it
could not see instead of guessing).  An OPTIONAL kind the API server does not serve at all (no
NetworkPolicy, IngressClass, StorageClass or admission API) is simply absent: there is nothing
of it to see, and ``Snapshot.seen`` tells an analyzer not to conclude anything from its absence.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    "daemonsets": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "ingresses": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "jobs": "/apis/batch/v1/namespaces/{ns}/jobs",
    "cronjobs": "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "hpas": "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
    "metrics": "/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
    "pdbs": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
    "nodes": "/api/v1/nodes",
    "replicasets": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "limitranges": "/api/v1/namespaces/{ns}/limitranges",
    "pvs": "/api/v1/persistentvolumes",
    "networkpolicies": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
    "ingressclasses": "/apis/networking.k8s.io/v1/ingressclasses",
    "storageclasses": "/apis/storage.k8s.io/v1/storageclasses",
    "validatingwebhooks": "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
    "mutatingwebhooks": "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
}
OPTIONAL = {"networkpolicies", "ingressclasses", "storageclasses", "validatingwebhooks",
            "mutatingwebhooks"}


LOG_PODS = 5          # logs are read for at most this many unhealthy pods
LOG_LINES = 200


@dataclass
class Snapshot:
    namespace: str
    items: dict[str, list[Obj]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)  # pod -> recent (or previous) log
    at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when it was taken

    def __getitem__(self, kind: str) -> list[Obj]:
        return self.items.get(kind, [])

    def seen(self, kind: str) -> bool:
        """Whether ``kind`` was read (an empty list read is seen; unreadable or unserved not)."""
        return kind in self.items

    def events_for(self, name: str) -> list[Obj]:
        return [e for e in self["events"] if (e.get("involvedObject") or {}).get("name") == name]

    def metrics_for(self, pod: str) -> dict[str, Obj]:
        for m in self["metrics"]:
            if m["metadata"]["name"] == pod:
                return {c["name"]: c.get("usage") or {} for c in m.get("containers") or []}
        return {}


async def take(env: ToolEnv, namespace: str, logs: bool = True,
               kinds: tuple[str, ...] = tuple(SOURCES)) -> Snapshot:
    """Everything in ``kinds`` (all by default) and, with ``logs``, recent logs of up to
    LOG_PODS unhealthy pods."""
    snapshot = Snapshot(namespace)

    async def fetch(kind: str, path: str) -> None:
        try:
            listing = await env.cluster.call("GET", path.format(ns=namespace),
                                             what=f"list {kind} in {namespace}")
            snapshot.items[kind] = list(listing.get("items", []))
        except errors.NotFound:
            if kind not in OPTIONAL:
                snapshot.unreadable.append(kind)
        except errors.Forbidden:
            snapshot.unreadable.append(kind)

    await asyncio.gather(*(fetch(kind, SOURCES[kind]) for kind in kinds))
    if logs:
        await _logs(env, snapshot)
    return snapshot


def _unhealthy(pod: Obj) -> tuple[bool, bool]:
    """(unhealthy, restarted) for a pod's containers."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarted = any(int(c.get("restartCount", 0)) for c in statuses)
    return restarted or any(not c.get("ready") for c in statuses), restarted


async def _logs(env: ToolEnv, snapshot: Snapshot) -> None:
    picked = [p for p in snapshot["pods"] if _unhealthy(p)[0]][:LOG_PODS]

    async def read(pod: Obj) -> None:
        name = pod["metadata"]["name"]
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        query: list[tuple[str, object]] = [("tailLines", LOG_LINES), ("limitBytes", 65536),
                                           ("container", containers[0].get("name", ""))]
        if _unhealthy(pod)[1]:
            query.append(("previous", "true"))
        try:
            text = await env.cluster.call("GET", f"/api/v1/namespaces/{snapshot.namespace}/"
                                          f"pods/{name}/log", query=query, what="read logs")
        except errors.Forbidden:
            if "logs" not in snapshot.unreadable:
                snapshot.unreadable.append("logs")
            return
        except (errors.NotFound, errors.InvalidArguments):  # no (previous) container log
            return
        snapshot.logs[name] = str(text or "")

    await asyncio.gather(*(read(p) for p in picked))
