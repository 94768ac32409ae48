"""Workload helpers shared by the controllers, and what a real cluster's seeded state implies.

A fixture describes a cluster mid-life, often tersely; the kubelet and the workload controllers
would already have filled in some fields: a Running pod has an IP, and a workload whose status
is given has observed its generation (a fixture freezes a not-yet-observed spec by writing a
lower ``observedGeneration`` itself).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sandbox.kube.cluster import Cluster
from sandbox.kube.resources import Kind
from sandbox.kube.store import Obj

HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"


def template_hash(template: Obj) -> str:
    clean = copy.deepcopy(template)
    (clean.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:10]


def owner_ref(owner: Obj) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


def daemon_nodes(cluster: Cluster, daemonset: Obj) -> list[str]:
    """The nodes a DaemonSet's pods belong on (its template's nodeSelector)."""
    nodes = cluster.registry.require("", "v1", "nodes")
    wanted = ((daemonset["spec"].get("template") or {}).get("spec") or {}).get(
        "nodeSelector") or {}
    return [n["metadata"]["name"] for n in cluster.store.iter(nodes)
            if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]


def pod_counts(kind: str, owner: Obj, pods: list[Obj], nodes: list[str]) -> dict[str, Any]:
    """The status fields a ReplicaSet, StatefulSet or DaemonSet controller writes for ``pods``."""
    ready = sum(1 for p in pods if all(
        s.get("ready") for s in (p.get("status") or {}).get("containerStatuses") or [{}]))
    status: dict[str, Any] = {"observedGeneration": owner["metadata"].get("generation", 1)}
    current = template_hash(owner["spec"].get("template") or {})
    if kind == "DaemonSet":
        updated = sum(1 for p in pods if p["metadata"].get("labels", {}).get(
            REVISION_LABEL) == current)
        status.update(desiredNumberScheduled=len(nodes), currentNumberScheduled=len(pods),
                      numberReady=ready, numberAvailable=ready, updatedNumberScheduled=updated,
                      numberMisscheduled=0, numberUnavailable=len(pods) - ready)
    elif kind == "ReplicaSet":
        status.update(replicas=len(pods), readyReplicas=ready, availableReplicas=ready,
                      fullyLabeledReplicas=len(pods))
    else:
        revision = f"{owner['metadata']['name']}-{current}"
        status.update(replicas=len(pods), readyReplicas=ready, availableReplicas=ready,
                      currentReplicas=len(pods), updatedReplicas=len(pods),
                      currentRevision=revision, updateRevision=revision)
    return status


def _ident(obj: Obj) -> str:
    return f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def complete_seeded_state(cluster: Cluster, workloads: Iterable[Kind]) -> None:
    """What the kubelet and the workload controllers would already have written: a Running
    pod has an IP; a workload status records the generation it observed."""
    store = cluster.store
    for pod in list(store.iter(cluster.pods)):
        if (pod.get("status") or {}).get("phase") == "Running" and not pod["status"].get(
                "podIP"):
            pod = copy.deepcopy(pod)
            digest = hashlib.sha256(_ident(pod).encode()).digest()
            pod["status"]["podIP"] = f"10.244.{digest[0] % 250}.{digest[1] % 250 + 2}"
            store.update(cluster.pods, pod, check_version=False)
    for kind in workloads:
        for obj in list(store.iter(kind)):
            if obj.get("status") and "observedGeneration" not in obj["status"]:
                obj = copy.deepcopy(obj)
                obj["status"]["observedGeneration"] = obj["metadata"].get("generation", 1)
                store.update(kind, obj, check_version=False)
