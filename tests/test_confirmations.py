"""Approvals end to end: policy, exactly-once claims, expiry, tampering, lost permissions,
crash recovery — against the sandbox cluster and a real Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from confirmations.model import State
from confirmations.store import Lease
from tests.confirm_support import Rig, rig
from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import registry
from tools.audit import AuditEvent
from tools.spec import ToolEnv


@pytest.fixture
async def r(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(database_url, sandbox, tmp_path) as made:
        yield made


def replicas(sandbox: ThreadedSandbox, namespace: str = "shop") -> int:
    return int(sandbox.obj("apps", "v1", "deployments", namespace, "web-app")["spec"][
        "replicas"])


async def _propose(r: Rig, who: str = "alice", namespace: str = "shop",
                   replicas_wanted: int = 5):  # type: ignore[no-untyped-def]
    ctx = await r.identity.context(who, namespace=namespace)
    return await r.flow.propose(ctx, "scale_deployment",
                                {"name": "web-app", "replicas": replicas_wanted})


async def _events(r: Rig) -> list[dict]:
    return [json.loads(x["event"]) for x in
            await r.rows("SELECT event FROM audit_outbox ORDER BY seq")]


async def test_two_person_namespace(r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await _propose(r)
    assert action.state is State.PENDING and action.two_person and replicas(sandbox) == 3
    own = await r.flow.approve(action.id, "U0ALICE")
    assert not own.ok and own.private and "needs a second person" in own.message
    viewer = await r.flow.approve(action.id, "bob")
    assert not viewer.ok and viewer.private
    assert "bob may not patch deployments/scale" in viewer.message
    teammate = await r.flow.approve(action.id, "carol")
    assert teammate.ok, teammate.message
    assert replicas(sandbox) == 5
    row = (await r.rows("SELECT state, approver, requester FROM pending_actions"))[0]
    assert (row["state"], row["approver"], row["requester"]) == ("succeeded", "U0CAROL",
                                                                 "U0ALICE")
    again = await r.flow.approve(action.id, "carol")
    assert not again.ok and again.message.startswith("Already approved by U0CAROL at ")
    kinds = [(e["kind"], e["outcome"]) for e in await _events(r)]
    assert kinds == [("policy.evaluate", "ok"), ("confirmation.propose", "ok"),
                     ("confirmation.approve", "denied"), ("confirmation.approve", "denied"),
                     ("policy.evaluate", "ok"), ("confirmation.approve", "ok"),
                     ("confirmation.execute", "ok"), ("confirmation.result", "ok")]


async def test_requester_may_approve_outside_two_person_namespaces(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await _propose(r, namespace="shop-staging", replicas_wanted=2)
    done = await r.flow.approve(action.id, "alice")
    assert done.ok and replicas(sandbox, "shop-staging") == 2


async def test_hundred_concurrent_approvals_over_three_instances_execute_once(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path, r: Rig) -> None:
    action = await _propose(r)
    for i in (1, 2):
        (tmp_path / str(i)).mkdir()
    async with contextlib.AsyncExitStack() as stack:
        instances = [r] + [await stack.enter_async_context(
            rig(database_url, sandbox, tmp_path / str(i), migrated=True)) for i in (1, 2)]
        decisions = await asyncio.gather(*(instances[i % 3].flow.approve(action.id, "carol")
                                           for i in range(100)))
    assert sum(d.ok for d in decisions) == 1
    executions = [e for e in await _events(r) if e["kind"] == "confirmation.execute"]
    assert len(executions) == 1
    assert replicas(sandbox) == 5


async def test_tampered_plan_or_hash_is_refused(r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await _propose(r)
    await r.rows("UPDATE pending_actions SET plan = jsonb_set(plan::jsonb, "
                 "'{payload,spec,replicas}', '50')::json")
    refused = await r.flow.approve(action.id, "carol")
    assert not refused.ok and "does not match its hash" in refused.message
    other = await _propose(r, replicas_wanted=6)
    await r.rows(f"UPDATE pending_actions SET params_hash = repeat('0', 64) "
                 f"WHERE id = '{other.id}'")
    assert "does not match its hash" in (await r.flow.approve(other.id, "carol")).message
    assert replicas(sandbox) == 3


async def test_expiry_at_click_time_and_by_the_sweeper(r: Rig, sandbox: ThreadedSandbox) -> None:
    clicked = await _propose(r)
    swept = await _propose(r, replicas_wanted=6)
    with freeze_time(datetime.now(UTC) + timedelta(minutes=16), real_asyncio=True,
                     ignore=["kubernetes"]):  # its lazy model imports must see real datetime
        late = await r.flow.approve(clicked.id, "carol")
        assert not late.ok and late.message == "This action is expired."
        assert [a.id for a in await r.flow.store.expire_due(datetime.now(UTC))] == [swept.id]
    states = {row["id"]: row["state"] for row in
              await r.rows("SELECT id, state FROM pending_actions")}
    assert states == {clicked.id: "expired", swept.id: "expired"}
    assert replicas(sandbox) == 3


async def test_requester_who_lost_the_permission_is_refused(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await _propose(r, namespace="shop-staging")
    admin = env_for(sandbox, "carol").cluster
    await admin.call("DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/shop-staging/"
                     "rolebindings/developers-developer")
    done = await r.flow.approve(action.id, "carol")
    assert not done.ok and "alice no longer may patch deployments/scale" in done.message
    assert done.action is not None and done.action.state is State.FAILED
    assert replicas(sandbox, "shop-staging") == 1


async def test_two_plans_on_one_object_run_one_after_the_other(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    first = await _propose(r, replicas_wanted=4)
    second = await _propose(r, replicas_wanted=6)
    results = await asyncio.gather(r.flow.approve(first.id, "carol"),
                                   r.flow.approve(second.id, "carol"))
    assert sorted(d.ok for d in results) == [False, True]
    loser = next(d for d in results if not d.ok)
    assert "changed since the plan" in loser.message
    assert replicas(sandbox) in (4, 6)


async def test_crash_between_claim_and_execute_is_recovered_without_running_twice(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    store = r.flow.store
    dead = Lease("a-replica-that-died", datetime.now(UTC))  # its lease ran out at once
    # 1. claimed, then the process died before execution started
    claimed = await _propose(r)
    await store.claim(claimed.id, "U0CAROL", "hxb-carol", datetime.now(UTC),
                      _dummy_event(claimed.id), lease=dead)
    # 2. executing, and the change had reached the cluster before the crash
    reached = await _propose(r, namespace="shop-staging", replicas_wanted=2)
    await store.claim(reached.id, "U0CAROL", "hxb-carol", datetime.now(UTC),
                      _dummy_event(reached.id), lease=dead)
    await store.start(reached.id, datetime.now(UTC), _dummy_event(reached.id), lease=dead)
    alice = await r.identity.context("alice", namespace="shop-staging")
    await registry.execute(ToolEnv(alice, r.envs.clusters.for_context(alice)), reached.plan)
    # 3. executing, and nothing had reached the cluster
    lost = await _propose(r, replicas_wanted=7)
    await store.claim(lost.id, "U0CAROL", "hxb-carol", datetime.now(UTC), _dummy_event(lost.id),
                      lease=dead)
    await store.start(lost.id, datetime.now(UTC), _dummy_event(lost.id), lease=dead)
    versions = (sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["metadata"][
        "resourceVersion"], replicas(sandbox, "shop-staging"))

    settled = {a.id: a for a in await r.flow.recover()}
    assert settled[claimed.id].state is State.FAILED
    assert "interrupted before execution" in (settled[claimed.id].error or "")
    assert settled[reached.id].state is State.SUCCEEDED
    assert settled[lost.id].state is State.FAILED
    # recovery ran nothing: the cluster is exactly as the crash left it
    assert (sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["metadata"][
        "resourceVersion"], replicas(sandbox, "shop-staging")) == versions
    assert await r.flow.recover() == []


def _dummy_event(action_id: str) -> AuditEvent:
    return AuditEvent(kind="test.step", actor="test", outcome="ok", confirmation_id=action_id)


async def test_reject_and_cancel(r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await _propose(r)
    stranger = await r.flow.reject(action.id, "bob")
    assert not stranger.ok and "only the requester or someone who could approve" in \
        stranger.message
    done = await r.flow.reject(action.id, "carol")
    assert done.ok and done.action is not None and done.action.state is State.REJECTED
    assert not (await r.flow.approve(action.id, "carol")).ok
    mine = await _propose(r, replicas_wanted=6)
    cancelled = await r.flow.reject(mine.id, "alice")
    assert cancelled.action is not None and cancelled.action.state is State.CANCELLED
    assert replicas(sandbox) == 3
