"""Replica-safe executions against the real embedded Postgres and the sandbox's held writes:
a replica starting mid-execution leaves a live lease alone; a dead replica's expired lease is
settled from the cluster; an outcome outlasts Postgres refusing connections; one bad row never
stops recovery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from confirmations.lease import Leasing
from confirmations.model import State
from confirmations.store import Lease
from sandbox.kube.faults import Faults, parse_rule
from tests.confirm_support import Rig, rig
from tests.sandbox_support import ThreadedSandbox
from tools.audit import AuditEvent
from tools.metrics import REGISTRY

LEASE = timedelta(seconds=1.5)


@pytest.fixture
def faults() -> Faults:
    """No fault until a test holds writes (a proposal's dry run must get through)."""
    return Faults()


@pytest.fixture
def held(tmp_path: Path, faults: Faults) -> AsyncIterator[ThreadedSandbox]:
    sb = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, job_run_seconds=0.1,
                         faults=faults).start()
    sb.settle(0.1)
    yield sb  # type: ignore[misc]
    sb.stop()


@contextlib.asynccontextmanager
async def replicas(database_url: str, sb: ThreadedSandbox, tmp_path: Path
                   ) -> AsyncIterator[tuple[Rig, Rig]]:
    """Two replicas (A, B) on one database, each its own lease owner with a short lease."""
    async with rig(database_url, sb, tmp_path) as a, \
            rig(database_url, sb, tmp_path, migrated=True) as b:
        for name, replica in (("replica-a", a), ("replica-b", b)):
            replica.flow.leasing = Leasing(name, LEASE, interval=0.2)
            replica.flow.store.retry_backoff = (0.05, 0.3)
        yield a, b


async def until(check: Callable[[], Awaitable[bool] | bool], within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        value = check()
        if await value if not isinstance(value, bool) else value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def spec_replicas(sb: ThreadedSandbox) -> int:
    return int(sb.obj("apps", "v1", "deployments", "shop-staging", "web-app")["spec"][
        "replicas"])


async def _approving(a: Rig, sb: ThreadedSandbox, faults: Faults, replicas_wanted: int = 2
                     ) -> tuple[str, asyncio.Task]:  # type: ignore[type-arg]
    """A proposes a scale in shop-staging; carol's approval runs on A until its PATCH is held."""
    ctx = await a.identity.context("alice", namespace="shop-staging")
    action = await a.flow.propose(ctx, "scale_deployment",
                                  {"name": "web-app", "replicas": replicas_wanted})
    held = parse_rule("hold", "patch:deployments")
    sb.call(lambda: faults.rules.append(held))  # the execution's PATCH waits for release()
    task = asyncio.create_task(a.flow.approve(action.id, "carol"))
    await until(lambda: sb.call(lambda: faults.held) == 1)
    return action.id, task


async def _row(r: Rig, action_id: str) -> asyncpg.Record:
    return (await r.rows("SELECT state, lease_owner, lease_expires_at, error FROM "
                         f"pending_actions WHERE id = '{action_id}'"))[0]


async def test_a_replica_starting_mid_execution_leaves_a_live_lease_alone(
        database_url: str, held: ThreadedSandbox, faults: Faults, tmp_path: Path) -> None:
    async with replicas(database_url, held, tmp_path) as (a, b):
        action_id, task = await _approving(a, held, faults)
        await asyncio.sleep(LEASE.total_seconds() * 2)  # longer than one lease: renewed
        assert await b.flow.recover() == []  # B starts (recovery) while A executes
        row = await _row(a, action_id)
        assert row["state"] == "executing" and row["lease_owner"] == "replica-a"
        assert row["lease_expires_at"] > datetime.now(UTC)
        assert held.call(faults.release) == 1
        decision = await asyncio.wait_for(task, 15)
        assert decision.ok and decision.code == "executed", decision.message
        row = await _row(a, action_id)
        assert (row["state"], row["lease_owner"], row["lease_expires_at"]) == (
            "succeeded", None, None)
        assert spec_replicas(held) == 2  # the database agrees with the cluster
        assert await b.flow.recover() == []


async def test_a_dead_replicas_expired_lease_is_settled_from_the_cluster(
        database_url: str, held: ThreadedSandbox, faults: Faults, tmp_path: Path) -> None:
    async with replicas(database_url, held, tmp_path) as (a, b):
        action_id, task = await _approving(a, held, faults)
        task.cancel()  # A dies mid-execution: no more heartbeats, no finish
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert held.call(faults.release) == 1  # the server commits the write anyway
        await until(lambda: spec_replicas(held) == 2)
        assert (await _row(a, action_id))["state"] == "executing"
        await asyncio.sleep(LEASE.total_seconds() + 0.2)
        [settled] = await b.flow.recover()
        assert settled.id == action_id and settled.state is State.SUCCEEDED
        assert "found in the cluster" in (settled.result or "")
        row = await _row(b, action_id)
        assert (row["state"], row["lease_owner"]) == ("succeeded", None)


async def test_an_outcome_outlasts_postgres_refusing_connections(
        database_url: str, held: ThreadedSandbox, faults: Faults, tmp_path: Path) -> None:
    url = make_url(database_url)
    name = url.database
    async with replicas(database_url, held, tmp_path) as (a, _):
        action_id, task = await _approving(a, held, faults)
        admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres")
                                      .render_as_string(hide_password=False))
        try:
            # Postgres "goes away": every session of A is cut and no new one is accepted
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                                "datname = $1 AND pid <> pg_backend_pid()", name)
            assert held.call(faults.release) == 1  # the change lands while the database is out
            await until(lambda: spec_replicas(held) == 2)
            await asyncio.sleep(1.0)  # finish is failing and retrying now
            assert not task.done()
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        decision = await asyncio.wait_for(task, 30)
        assert decision.ok and decision.code == "executed", decision.message
        row = await _row(a, action_id)
        assert (row["state"], row["lease_owner"]) == ("succeeded", None)


async def test_one_bad_row_never_stops_recovery(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    async with rig(database_url, sandbox, tmp_path) as r:
        store, now = r.flow.store, datetime.now(UTC)
        dead = Lease("a-replica-that-died", now)
        ids = []
        for wanted in (2, 4):
            ctx = await r.identity.context("alice", namespace="shop-staging")
            action = await r.flow.propose(ctx, "scale_deployment",
                                          {"name": "web-app", "replicas": wanted})
            def step() -> AuditEvent:
                return AuditEvent(kind="test.step", actor="test", outcome="ok",
                                  confirmation_id=action.id)  # noqa: B023 - used at once
            await store.claim(action.id, "U0CAROL", "hxb-carol", now, step(), lease=dead)
            await store.start(action.id, now, step(), lease=dead)
            ids.append(action.id)
        bad, good = ids
        await r.rows("UPDATE pending_actions SET plan = (plan::jsonb || '{\"payload\": {}}')"
                     f"::json WHERE id = '{bad}'")  # settling it raises (no spec in payload)
        before = REGISTRY.get_sample_value("hexabot_background_errors_total",
                                           {"loop": "recover"}) or 0.0
        settled = await r.flow.recover()
        assert [a.id for a in settled] == [good] and settled[0].state is State.FAILED
        assert (await _row(r, bad))["state"] == "executing"  # skipped, tried again next time
        assert await r.flow.recover() == []
        assert REGISTRY.get_sample_value("hexabot_background_errors_total",
                                         {"loop": "recover"}) == before + 2
