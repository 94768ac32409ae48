"""Confirmations and audit.

1. Outbox → ClickHouse shipping rate: 50,000 events in the Postgres outbox, drained by one
   shipper in batches of 5,000 (target ≥ 10,000 events/s).
2. Approve → execution start, excluding time spent waiting for the Kubernetes API (the
   approver's access review and the requester's permission re-check): p50 over 100 approvals
   (target < 50 ms).  Real embedded PostgreSQL, real ClickHouse, the sandbox cluster.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from app import migrate
from app.audit import clickhouse
from app.audit.shipper import Shipper
from app.database import asyncpg_url, ensure_database
from app.identity import static
from app.identity.service import IdentityService
from app.identity.store import IdentityStore
from bench.common import Result
from confirmations import outbox
from confirmations.flow import DecisionFlow
from confirmations.store import ConfirmationStore
from sandbox.kube.threaded import ThreadedCluster
from tests.services import postgres_admin_url, start_clickhouse
from tools.audit import AuditEvent
from tools.env import Environments
from tools.kube.client import ClusterClients

EVENTS = 50_000
APPROVALS = 100
DIRECTORY = """bot: {{kubeconfig: {kc}, context: hexabot}}
users:
  - {{slack_id: U0ALICE, name: alice, hexabase_user: hxb-alice, groups: [developers, shop-team],
     workspaces: [{{name: shop, impersonate: {{user: alice, groups: [developers, shop-team]}},
                   namespaces: [shop, shop-staging]}}]}}
  - {{slack_id: U0CAROL, name: carol, hexabase_user: hxb-carol, groups: [admins],
     workspaces: [{{name: shop, kubeconfig: {kc}, context: carol,
                   namespaces: [shop, shop-staging]}}]}}
"""


async def _shipping(database_url: str, clickhouse_url: str) -> Result:
    engine = create_async_engine(database_url)
    await migrate.migrate(engine)
    await clickhouse.apply_ddl(clickhouse_url)
    for start in range(0, EVENTS, 1000):
        async with engine.begin() as conn:
            await outbox.record(conn, *(AuditEvent(
                kind="bench.event", actor=f"U{i % 50}", outcome="ok", workspace="shop",
                namespace="shop", detail={"i": i}) for i in range(start, start + 1000)))
    began = time.perf_counter()
    shipped = await Shipper(engine, clickhouse_url, batch=5000).drain()
    elapsed = time.perf_counter() - began
    await engine.dispose()
    rate = shipped / elapsed
    return Result(f"outbox → ClickHouse, {shipped:,} events, batches of 5,000",
                  f"{rate:,.0f} events/s ({elapsed:.2f} s)", "≥ 10,000 events/s", rate >= 10_000)


async def _approvals(database_url: str, kubeconfig: Path, workdir: Path) -> Result:
    directory = workdir / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=kubeconfig))
    engine = create_async_engine(database_url)
    await migrate.migrate(engine)
    identity = IdentityService(static.load(directory), IdentityStore(engine))
    clusters = ClusterClients()
    envs = Environments(clusters)
    flow = DecisionFlow(ConfirmationStore(engine), identity, envs)
    alice = await identity.context("alice", namespace="shop-staging")
    carol = await identity.context("carol", namespace="shop-staging")
    latencies: list[float] = []
    k8s = [clusters.for_context(alice), clusters.for_context(carol)]
    started: dict[str, tuple[float, float]] = {}

    def on_start(action_id: str) -> None:
        started[action_id] = (time.perf_counter(), sum(c.seconds for c in k8s))

    flow.on_execution_start = on_start
    for i in range(APPROVALS):
        action = await flow.propose(alice, "update_configmap", {
            "name": "web-app-config", "set": {"RUN": str(i)}})
        kube_before = sum(c.seconds for c in k8s)
        began = time.perf_counter()
        decision = await flow.approve(action.id, "carol")
        assert decision.ok, decision.message
        at_start, kube_at_start = started[action.id]
        latencies.append(((at_start - began) - (kube_at_start - kube_before)) * 1000)
    clusters.close()
    await engine.dispose()
    p50 = statistics.median(latencies)
    return Result(f"approve → execution start, excluding Kubernetes calls (p50 of {APPROVALS})",
                  f"{p50:.1f} ms (p90 {statistics.quantiles(latencies, n=10)[-1]:.1f} ms)",
                  "< 50 ms", p50 < 50)


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        admin_url, server = postgres_admin_url(workdir)
        admin = asyncpg_url(admin_url)
        asyncio.run(ensure_database(admin, "bench_ship"))
        asyncio.run(ensure_database(admin, "bench_flow"))
        ship_url = admin.set(database="bench_ship").render_as_string(hide_password=False)
        flow_url = admin.set(database="bench_flow").render_as_string(hide_password=False)
        house = start_clickhouse()
        cluster = ThreadedCluster(None, pod_start_delay=0.05)
        sc = cluster.start()
        try:
            return [asyncio.run(_shipping(ship_url, house.url)),
                    asyncio.run(_approvals(flow_url, sc.kubeconfig, workdir))]
        finally:
            cluster.stop()
            house.stop()
            if server is not None:
                server.cleanup()  # type: ignore[attr-defined]
