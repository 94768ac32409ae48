"""Big namespaces for the sandbox: N pods of 20 apps, with PodMetrics, some of them in trouble.

Shared by the tests of answer size and severity (tests/test_read_severity.py) and the benchmark
of tool output size (bench/bench_tools.py), so both measure the same objects.  A healthy pod is
Running and ready with its requests and limits; ``trouble`` turns the pods at chosen positions
into one of :data:`TROUBLE`, ``usage`` sets chosen pods' live CPU and memory.
"""

from __future__ import annotations

from typing import Any

APPS = 20
TROUBLE = ("CrashLoopBackOff", "OOMKilled", "Error", "ImagePullBackOff", "Pending", "NotReady",
           "Restarting")
RUNNING = {"running": {"startedAt": "2026-11-20T08:00:05Z"}}
WARNINGS = {"CrashLoopBackOff": ("BackOff", "Back-off restarting failed container app"),
            "OOMKilled": ("OOMKilling", "Memory cgroup out of memory: Killed process 42 (app)"),
            "Error": ("BackOff", "Back-off restarting failed container app"),
            "ImagePullBackOff": ("Failed", "Failed to pull image: not found"),
            "Pending": ("FailedScheduling", "0/5 nodes are available: 5 Insufficient cpu."),
            "NotReady": ("Unhealthy", "Readiness probe failed: HTTP probe failed with 503"),
            "Restarting": ("BackOff", "Back-off restarting failed container app")}


def app_of(index: int) -> str:
    return f"service-{index % APPS:02d}"


def pod_name(index: int) -> str:
    return f"{app_of(index)}-7c9d8f6b5d-{index:05d}"


def _status(index: int, app: str, trouble: str | None) -> dict[str, Any]:
    image = f"registry.example.com/{app}:1.{index % 7}.0"
    container: dict[str, Any] = {"name": "app", "image": image, "ready": True, "restartCount": 0,
                                 "state": RUNNING, "lastState": {}}
    phase = "Running"
    if trouble == "CrashLoopBackOff":
        container.update(ready=False, restartCount=7,
                         state={"waiting": {"reason": "CrashLoopBackOff"}},
                         lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}})
    elif trouble in ("OOMKilled", "Error"):
        container.update(ready=False, restartCount=3, state={"terminated": {
            "reason": trouble, "exitCode": 137 if trouble == "OOMKilled" else 1}})
    elif trouble == "ImagePullBackOff":
        phase = "Pending"
        container.update(ready=False, state={"waiting": {"reason": "ImagePullBackOff"}})
    elif trouble == "NotReady":
        container.update(ready=False)
    elif trouble == "Restarting":
        container.update(restartCount=9, lastState={"terminated": {"reason": "Error",
                                                                   "exitCode": 2}})
    if trouble == "Pending":
        return {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": WARNINGS["Pending"][1]}]}
    ready = "True" if container["ready"] else "False"
    return {"phase": phase, "podIP": f"10.4.{index // 250}.{index % 250}",
            "hostIP": f"10.0.0.{index % 5}", "startTime": "2026-11-20T08:00:00Z",
            "conditions": [{"type": t, "status": "True" if t in ("PodScheduled", "Initialized")
                            else ready} for t in ("PodScheduled", "Initialized",
                                                  "ContainersReady", "Ready")],
            "containerStatuses": [container]}


def pod(index: int, namespace: str, trouble: str | None = None) -> dict[str, Any]:
    app = app_of(index)
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name(index), "namespace": namespace,
                     "labels": {"app": app, "pod-template-hash": "7c9d8f6b5d",
                                "team": "payments"},
                     "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {**({} if trouble == "Pending" else {"nodeName": f"node-{index % 5}"}),
                 "serviceAccountName": app, "containers": [
                     {"name": "app", "image": f"registry.example.com/{app}:1.{index % 7}.0",
                      "ports": [{"containerPort": 8080, "name": "http"}],
                      "env": [{"name": "LOG_LEVEL", "value": "info"}],
                      "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                    "limits": {"cpu": "500m", "memory": "512Mi"}},
                      "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]},
        "status": _status(index, app, trouble),
    }


def metrics(index: int, namespace: str, cpu: str | None = None,
            memory: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": pod_name(index), "namespace": namespace},
            "timestamp": "2026-11-23T10:00:00Z", "window": "30s",
            "containers": [{"name": "app", "usage": {
                "cpu": cpu or f"{100 + index % 300}m", "memory": memory or
                f"{200 + index % 250}Mi"}}]}


def _event(namespace: str, name: str, kind: str, about: str, reason: str, message: str,
           type_: str, count: int, minute: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{about}.{name}", "namespace": namespace},
            "involvedObject": {"kind": kind, "name": about, "namespace": namespace},
            "reason": reason, "message": message, "type": type_, "count": count,
            "firstTimestamp": "2026-11-23T08:00:00Z",
            "lastTimestamp": f"2026-11-23T09:{minute % 60:02d}:00Z"}


def service_name(index: int) -> str:
    return f"svc-{index:04d}"


def namespace_docs(namespace: str, pods: int, trouble: dict[int, str] | None = None,
                   usage: dict[int, tuple[str, str]] | None = None, services: int = 0,
                   ghosts: frozenset[int] = frozenset(), events: bool = False
                   ) -> list[dict[str, Any]]:
    """``pods`` pods (and PodMetrics for those the scheduler placed); ``services`` Services
    (:func:`service_name`), each selecting one app's pods but the ``ghosts``, whose selector
    matches none; with ``events`` a Normal ``Started`` event per pod and a Warning per pod in
    trouble."""
    trouble, usage = trouble or {}, usage or {}
    docs: list[dict[str, Any]] = []
    for index in range(pods):
        wrong = trouble.get(index)
        docs.append(pod(index, namespace, wrong))
        if wrong not in ("Pending", "ImagePullBackOff"):
            docs.append(metrics(index, namespace, *usage.get(index, (None, None))))
        if events:
            docs.append(_event(namespace, "started", "Pod", pod_name(index), "Started",
                               "Started container app", "Normal", 1, index))
            if wrong:
                reason, message = WARNINGS[wrong]
                docs.append(_event(namespace, "warning", "Pod", pod_name(index), reason,
                                   message, "Warning", 5 + index % 50, index))
    for index in range(services):
        app = f"gone-{index}" if index in ghosts else app_of(index)
        docs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": service_name(index), "namespace": namespace},
                     "spec": {"selector": {"app": app},
                              "ports": [{"port": 80, "targetPort": "http"}]}})
    return docs
