"""Server-side ``Table`` rendering: the columns ``kubectl get`` prints (``-o wide`` included).

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``; without a Table it prints
only NAME and AGE.  Columns follow kube-apiserver's printers for the kinds we serve; priority-1
columns are the ones ``-o wide`` adds.  ``as=PartialObjectMetadata(List)`` answers with the
objects' metadata only (:func:`partial_metadata`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, int, Callable[[Obj], Any]]  # name, type, priority, cell


def age(obj: Obj) -> str:
    return since(obj.get("metadata", {}).get("creationTimestamp"))


def since(created: str | None) -> str:
    """kubectl's relative time: 45s, 12m, 5h, 3d."""
    if not created:
        return "<unknown>"
    then = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _get(obj: Obj, path: str, default: Any = "") -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return default if value is None else value


def _pod_ready(pod: Obj) -> str:
    statuses = _get(pod, "status.containerStatuses", [])
    total = len(_get(pod, "spec.containers", [])) or len(statuses)
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def pod_status(pod: Obj) -> str:
    """The STATUS column: a waiting/terminated reason beats the phase, as kubectl shows it."""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    for status in _get(pod, "status.containerStatuses", []):
        state = status.get("state") or {}
        reason = (state.get("waiting") or {}).get("reason") or (
            state.get("terminated") or {}).get("reason")
        if reason:
            return str(reason)
    return str(_get(pod, "status.reason") or _get(pod, "status.phase", "Unknown"))


def _restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount", 0)) for s in _get(pod, "status.containerStatuses", []))


def _ports(svc: Obj) -> str:
    parts = []
    for port in _get(svc, "spec.ports", []):
        text = str(port.get("port"))
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _selector(obj: Obj, path: str) -> str:
    selector = _get(obj, path, {})
    labels = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def _images(obj: Obj, what: str) -> str:
    containers = _get(obj, "spec.template.spec.containers", [])
    return ",".join(str(c.get(what, "")) for c in containers)


def _node_status(node: Obj) -> str:
    for cond in _get(node, "status.conditions", []):
        if cond.get("type") == "Ready":
            status = "Ready" if cond.get("status") == "True" else "NotReady"
            return status + (",SchedulingDisabled" if _get(node, "spec.unschedulable") else "")
    return "Unknown"


def _roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    labels = node.get("metadata", {}).get("labels") or {}
    return ",".join(k[len(prefix):] for k in labels if k.startswith(prefix)) or "<none>"


def _job_status(job: Obj) -> str:
    for cond in _get(job, "status.conditions", []):
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return str(cond["type"])
    return "Running"


def _endpoints(addresses: list[str]) -> str:
    if not addresses:
        return "<none>"
    more = f" + {len(addresses) - 3} more..." if len(addresses) > 3 else ""
    return ",".join(addresses[:3]) + more


def _subsets(endpoints: Obj) -> str:
    return _endpoints([f"{a.get('ip')}:{p.get('port')}" for s in endpoints.get("subsets") or []
                       for p in s.get("ports") or [{}] for a in s.get("addresses") or []])


def _slice_ports(slice_: Obj) -> str:
    ports = [str(p.get("port")) for p in slice_.get("ports") or []]
    return ",".join(ports) if ports else "<unset>"


NAME: Column = ("Name", "string", 0, lambda o: o["metadata"]["name"])
AGE: Column = ("Age", "string", 0, age)

COLUMNS: dict[str, list[Column]] = {
    "Pod": [NAME, ("Ready", "string", 0, _pod_ready), ("Status", "string", 0, pod_status),
            ("Restarts", "integer", 0, _restarts), AGE,
            ("IP", "string", 1, lambda o: _get(o, "status.podIP", "<none>")),
            ("Node", "string", 1, lambda o: _get(o, "spec.nodeName", "<none>")),
            ("Nominated Node", "string", 1, lambda o: "<none>"),
            ("Readiness Gates", "string", 1, lambda o: "<none>")],
    "Deployment": [NAME,
                   ("Ready", "string", 0, lambda o: f"{_get(o, 'status.readyReplicas', 0)}/"
                                                    f"{_get(o, 'spec.replicas', 1)}"),
                   ("Up-to-date", "integer", 0, lambda o: _get(o, "status.updatedReplicas", 0)),
                   ("Available", "integer", 0, lambda o: _get(o, "status.availableReplicas", 0)),
                   AGE,
                   ("Containers", "string", 1, lambda o: _images(o, "name")),
                   ("Images", "string", 1, lambda o: _images(o, "image")),
                   ("Selector", "string", 1, lambda o: _selector(o, "spec.selector"))],
    "ReplicaSet": [NAME, ("Desired", "integer", 0, lambda o: _get(o, "spec.replicas", 1)),
                   ("Current", "integer", 0, lambda o: _get(o, "status.replicas", 0)),
                   ("Ready", "integer", 0, lambda o: _get(o, "status.readyReplicas", 0)), AGE],
    "StatefulSet": [NAME, ("Ready", "string", 0, lambda o: f"{_get(o, 'status.readyReplicas', 0)}/"
                                                           f"{_get(o, 'spec.replicas', 1)}"), AGE],
    "DaemonSet": [NAME,
                  ("Desired", "integer", 0, lambda o: _get(o, "status.desiredNumberScheduled", 0)),
                  ("Current", "integer", 0, lambda o: _get(o, "status.currentNumberScheduled", 0)),
                  ("Ready", "integer", 0, lambda o: _get(o, "status.numberReady", 0)),
                  ("Up-to-date", "integer", 0, lambda o: _get(o, "status.updatedNumberScheduled",
                                                              0)),
                  ("Available", "integer", 0, lambda o: _get(o, "status.numberAvailable", 0)),
                  AGE],
    "Service": [NAME, ("Type", "string", 0, lambda o: _get(o, "spec.type", "ClusterIP")),
                ("Cluster-IP", "string", 0, lambda o: _get(o, "spec.clusterIP", "<none>")),
                ("External-IP", "string", 0, lambda o: ",".join(
                    i.get("ip", "") for i in _get(o, "status.loadBalancer.ingress", [])) or
                 "<none>"),
                ("Port(s)", "string", 0, _ports), AGE,
                ("Selector", "string", 1, lambda o: _selector(o, "spec.selector"))],
    "Endpoints": [NAME, ("Endpoints", "string", 0, _subsets), AGE],
    "EndpointSlice": [NAME, ("AddressType", "string", 0, lambda o: o.get("addressType", "")),
                      ("Ports", "string", 0, _slice_ports),
                      ("Endpoints", "string", 0, lambda o: _endpoints(
                          [a for e in o.get("endpoints") or [] for a in e.get("addresses", [])])),
                      AGE],
    "Node": [NAME, ("Status", "string", 0, _node_status), ("Roles", "string", 0, _roles), AGE,
             ("Version", "string", 0, lambda o: _get(o, "status.nodeInfo.kubeletVersion"))],
    "Namespace": [NAME, ("Status", "string", 0, lambda o: _get(o, "status.phase", "Active")), AGE],
    "ConfigMap": [NAME, ("Data", "integer", 0, lambda o: len(o.get("data") or {})
                         + len(o.get("binaryData") or {})), AGE],
    "Secret": [NAME, ("Type", "string", 0, lambda o: o.get("type", "Opaque")),
               ("Data", "integer", 0, lambda o: len(o.get("data") or {})), AGE],
    "PersistentVolumeClaim": [
        NAME, ("Status", "string", 0, lambda o: _get(o, "status.phase", "Pending")),
        ("Volume", "string", 0, lambda o: _get(o, "spec.volumeName")),
        ("Capacity", "string", 0, lambda o: _get(o, "status.capacity.storage")),
        ("Access Modes", "string", 0, lambda o: ",".join(_get(o, "spec.accessModes", []))),
        ("StorageClass", "string", 0, lambda o: _get(o, "spec.storageClassName")), AGE],
    "Event": [("Last Seen", "string", 0, lambda o: since(o.get("lastTimestamp")
                                                           or o.get("eventTime"))),
              ("Type", "string", 0, lambda o: o.get("type", "")),
              ("Reason", "string", 0, lambda o: o.get("reason", "")),
              ("Object", "string", 0, lambda o: f"{_get(o, 'involvedObject.kind').lower()}/"
                                                f"{_get(o, 'involvedObject.name')}"),
              ("Message", "string", 0, lambda o: o.get("message", "")),
              ("Count", "integer", 1, lambda o: o.get("count", 1)),
              ("Name", "string", 1, lambda o: o["metadata"]["name"])],
    "Job": [NAME, ("Status", "string", 0, _job_status),
            ("Completions", "string", 0, lambda o: f"{_get(o, 'status.succeeded', 0)}/"
                                                   f"{_get(o, 'spec.completions', 1)}"), AGE],
    "CronJob": [NAME, ("Schedule", "string", 0, lambda o: _get(o, "spec.schedule")),
                ("Suspend", "boolean", 0, lambda o: bool(_get(o, "spec.suspend", False))),
                ("Active", "integer", 0, lambda o: len(_get(o, "status.active", []))),
                ("Last Schedule", "string", 0,
                 lambda o: _get(o, "status.lastScheduleTime", "<none>")), AGE],
    "HorizontalPodAutoscaler": [
        NAME, ("Reference", "string", 0, lambda o: f"{_get(o, 'spec.scaleTargetRef.kind')}/"
                                                   f"{_get(o, 'spec.scaleTargetRef.name')}"),
        ("MinPods", "integer", 0, lambda o: _get(o, "spec.minReplicas", 1)),
        ("MaxPods", "integer", 0, lambda o: _get(o, "spec.maxReplicas")),
        ("Replicas", "integer", 0, lambda o: _get(o, "status.currentReplicas", 0)), AGE],
    "PodMetrics": [NAME, ("CPU", "string", 0, lambda o: ",".join(
        str(c.get("usage", {}).get("cpu")) for c in o.get("containers", []))), AGE],
}


def table(kind: str, objects: list[Obj], list_meta: dict[str, Any],
          include_object: str = "Metadata") -> dict[str, Any]:
    columns = COLUMNS.get(kind, [NAME, AGE])
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, _, _, cell in columns]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata", {})}
        rows.append(row)
    return {
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
        "columnDefinitions": [
            {"name": name, "type": kind_, "format": "name" if name == "Name" else "",
             "description": name, "priority": priority}
            for name, kind_, priority, _ in columns],
        "rows": rows,
    }


def partial_metadata(body: dict[str, Any], many: bool) -> dict[str, Any]:
    """An object, or a list, as PartialObjectMetadata: metadata only, never data or spec."""
    def one(obj: Obj) -> Obj:
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {})}
    if not many:
        return one(body)
    return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
            "metadata": body.get("metadata", {}), "items": [one(o) for o in body["items"]]}
