"""Diagnosis speed: a 500-pod namespace, analysed in < 2 s excluding network.

The snapshot is read once from the sandbox (its time is the cluster's and the network's); the
analysis itself — every analyzer and the correlation — is timed on that snapshot, median of 5.
The optimisation suggestions (per-workload usage, rightsizing, replicas, structure) are timed
the same way on the same snapshot; the issue sets no target for them, so they are reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.common import Result, admin_fixture
from bench.harness import admin_env, on_fixture
from tools.analysis import optimize, usage
from tools.analysis import snapshot as snapshot_mod
from tools.analysis.diagnosis import analyse
from tools.spec import Pricing

PODS = 500


def _fixture(path: Path) -> None:
    docs: list[dict[str, Any]] = admin_fixture("big")
    for s in range(50):
        labels = {"app": f"svc-{s:02d}"}
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": {"name": f"svc-{s:02d}", "namespace": "big"},
                     "spec": {"replicas": 10, "selector": {"matchLabels": labels},
                              "template": {"metadata": {"labels": labels}, "spec": {
                                  "containers": [{"name": "app", "image": "app:1"}]}}},
                     "status": {"replicas": 10, "readyReplicas": 10}})
        docs.append({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": f"svc-{s:02d}", "namespace": "big"},
                     "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}})
        docs.append({"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": f"svc-{s:02d}", "namespace": "big"},
                     "subsets": [{"addresses": [{"ip": f"10.9.{s}.{k}"} for k in range(10)],
                                  "ports": [{"port": 8080}]}]})
    for i in range(PODS):
        s = i % 50
        oom = i % 97 == 0
        docs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"svc-{s:02d}-abc-{i:04d}", "namespace": "big",
                         "labels": {"app": f"svc-{s:02d}"}},
            "spec": {"containers": [{"name": "app", "image": "app:1",
                                     "ports": [{"containerPort": 8080}],
                                     "resources": {"limits": {"cpu": "500m",
                                                              "memory": "512Mi"}}}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "app", "image": "app:1", "ready": not oom, "restartCount": 5 if oom
                else 0, "state": {"running": {}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
                if oom else {}}]}})
        docs.append({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                     "metadata": {"name": f"svc-{s:02d}-abc-{i:04d}", "namespace": "big"},
                     "containers": [{"name": "app", "usage": {"cpu": f"{100 + i % 350}m",
                                                              "memory": "200Mi"}}]})
    path.write_text(yaml.safe_dump_all(docs))


def _median(work: Callable[[], object]) -> tuple[float, Any]:
    timings, value = [], None
    for _ in range(5):
        began = time.perf_counter()
        value = work()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings), value


async def _measure(document: dict[str, Any]) -> list[Result]:
    env = admin_env(document, "big")
    snap = await snapshot_mod.take(env, "big")
    median, findings = _median(lambda: analyse(snap))
    optimise, suggestions = _median(lambda: optimize.suggest(usage.workloads(snap),
                                                             Pricing(), 0.3))
    return [Result(f"diagnose a {PODS}-pod namespace (analysis, excluding network)",
                   f"{median * 1000:.0f} ms, {len(findings)} findings from "
                   f"{len(snap['pods'])} pods", "< 2 s", median < 2),
            Result(f"suggest optimisations for a {PODS}-pod namespace (excluding network)",
                   f"{optimise * 1000:.0f} ms, {len(suggestions)} suggestions",
                   "none set (reported)", True)]


def run() -> list[Result]:
    return on_fixture(_fixture, _measure)
