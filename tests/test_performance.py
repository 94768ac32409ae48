"""AnalyzePerformance and SuggestOptimizations against the demo cluster (and a scripted
Prometheus): usage vs requests/limits, HPA bounds, latency/errors, a real PNG chart; rightsizing
with cost deltas and ready plans that the sandbox accepts."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from tests.prom_stub import PrometheusStub, Workload, serve
from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import errors, registry
from tools.prometheus import Prometheus

WEB_PODS = ["web-app-7c9d8f6b5d-x2k9p", "web-app-7c9d8f6b5d-m4n7q", "web-app-7c9d8f6b5d-t8w3z"]


async def run(sandbox: ThreadedSandbox, tool: str, user: str = "alice", namespace: str = "shop",
              prometheus: Prometheus | None = None, **args: object) -> registry.ToolResult:
    env = env_for(sandbox, user, namespace=namespace, prometheus=prometheus)
    return await registry.run(registry.get(tool), env, dict(args))


def by_name(result: registry.ToolResult) -> dict[str, dict[str, object]]:
    return {w["name"]: w for w in result.data["workloads"]}


async def test_performance_without_prometheus(sandbox: ThreadedSandbox) -> None:
    result = await run(sandbox, "analyze_performance")
    found = by_name(result)
    assert set(found) == {"web-app", "api-service", "checkout-worker"}
    api = found["api-service"]
    assert api["hpa"] == {"min": 2, "max": 6, "current": 2} and api["replicas"] == 2
    [container] = api["containers"]  # type: ignore[misc]
    assert container["cpu_limit"] == 1.0 and container["cpu_peak"] == pytest.approx(0.861)
    assert "api near its CPU limit (throttling)" in api["notes"]  # type: ignore[operator]
    assert found["checkout-worker"]["restarts"] == 12
    assert "no Prometheus configured" in result.text and result.data["charts"] == []
    assert "Deployment web-app: 3/3 ready, 0 restarts, no HPA" in result.text


@pytest.fixture
async def prometheus() -> AsyncIterator[PrometheusStub]:
    stub = PrometheusStub({
        "web-app": Workload("shop", WEB_PODS, cpu=[0.5, 0.6, 0.7, 0.65],
                            memory=[9e8, 9.5e8, 9.6e8, 9.2e8], latency=0.182, errors=0.004),
        "elsewhere": Workload("other", WEB_PODS, cpu=[9.0], latency=9.0)})
    async with serve(stub) as served:
        yield served


async def test_performance_with_prometheus_charts_the_history(
        sandbox: ThreadedSandbox, prometheus: PrometheusStub) -> None:
    result = await run(sandbox, "analyze_performance", prometheus=Prometheus(prometheus.url),
                       name="web-app", window_minutes=30)
    [web] = result.data["workloads"]
    assert web["latency_p95_ms"] == 182.0 and web["error_rate"] == 0.004
    assert web["cpu_peak_total"] == 0.7
    assert "p95 latency 182.0 ms, errors 0.40%" in result.text
    [chart] = result.data["charts"]
    png = base64.b64decode(chart["png_base64"])
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (800, 500))
    assert chart["filename"] == "shop-usage.png"
    ranges = [q for q in prometheus.queries if "step" in q]
    assert len(ranges) == 2 and all(q["step"] == "30s" for q in ranges)
    assert all('namespace="shop"' in q["query"] for q in prometheus.queries)


async def test_a_dead_prometheus_degrades_to_the_live_sample(sandbox: ThreadedSandbox) -> None:
    from tests.services import free_port

    result = await run(sandbox, "analyze_performance",
                       prometheus=Prometheus(f"http://127.0.0.1:{free_port()}", timeout=2))
    assert "Prometheus failed, so no history: Prometheus at http://127.0.0.1:" in result.text
    assert len(result.data["workloads"]) == 3 and result.data["charts"] == []


async def test_performance_is_as_the_user(sandbox: ThreadedSandbox) -> None:
    with pytest.raises(errors.InvalidArguments, match="not one of yours"):
        await run(sandbox, "analyze_performance", namespace="kube-system")
    with pytest.raises(errors.NotFound, match="no workload 'nope'"):
        await run(sandbox, "analyze_performance", name="nope")


async def test_optimizations_have_costs_and_plans_the_cluster_accepts(
        sandbox: ThreadedSandbox) -> None:
    result = await run(sandbox, "suggest_optimizations", user="carol", namespace="data")
    [resources] = [s for s in result.data["suggestions"] if s["kind"] == "resources"]
    assert resources["workload"] == "user-db"
    assert "postgres cpu request 1000m → 410m (over-provisioned; peak 310m)" in \
        resources["detail"]
    # (0.41 - 1.0) vCPU x 0.0316 USD/h x 730 h
    assert resources["cost_delta"] == pytest.approx(-13.61, abs=0.01)
    env = env_for(sandbox, "carol", namespace="data")
    plan = await registry.plan(registry.get("apply_yaml"), env, {
        **resources["proposal"]["args"], "namespace": "data"})
    assert "cpu: 410m" in plan.diff and plan.cost_delta == pytest.approx(-13.61, abs=0.01)
    await registry.execute(env, plan)
    sts = sandbox.obj("apps", "v1", "statefulsets", "data", "user-db")
    assert sts["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"][
        "cpu"] == "410m"
    after = await run(sandbox, "suggest_optimizations", user="carol", namespace="data")
    assert [s["kind"] for s in after.data["suggestions"]] == ["probes"]


async def test_missing_pdb_is_proposed_and_then_no_longer_suggested(
        sandbox: ThreadedSandbox) -> None:
    result = await run(sandbox, "suggest_optimizations", name="web-app")
    [pdb] = [s for s in result.data["suggestions"] if s["kind"] == "pdb"]
    assert "3 replicas but no PodDisruptionBudget" in pdb["detail"]
    env = env_for(sandbox, "alice", impersonate=("developers", "shop-team"))
    plan = await registry.plan(registry.get("apply_yaml"), env, pdb["proposal"]["args"])
    await registry.execute(env, plan)
    created = sandbox.obj("policy", "v1", "poddisruptionbudgets", "shop", "web-app-pdb")
    assert created["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app": "web-app"}}}
    again = await run(sandbox, "suggest_optimizations", name="web-app")
    assert "pdb" not in [s["kind"] for s in again.data["suggestions"]]


async def test_replica_suggestions() -> None:
    from tools.analysis.optimize import suggest
    from tools.analysis.usage import ContainerUsage, WorkloadUsage
    from tools.spec import Pricing

    def deployment(replicas: int, cpu: float) -> WorkloadUsage:
        return WorkloadUsage("Deployment", "api", "ns", replicas, replicas, replicas, 0,
                             containers=[ContainerUsage("app", cpu, cpu, 1e8, 1e8, 0.5, 1.0,
                                                        2e8, 4e8, True, True)])

    idle = {s.kind: s for s in suggest([deployment(6, 0.05)], Pricing(), 0.3)}
    assert idle["replicas"].proposal == {"tool": "scale_deployment",
                                         "args": {"name": "api", "replicas": 2}}
    assert idle["replicas"].cost_delta < 0
    busy = {s.kind: s for s in suggest([deployment(2, 0.9)], Pricing(), 0.3)}
    assert busy["replicas"].proposal["args"]["replicas"] == 3  # type: ignore[index]
    assert "90% of the limit" in busy["replicas"].detail
    assert "replicas" not in {s.kind for s in suggest([deployment(2, 0.4)], Pricing(), 0.3)}
