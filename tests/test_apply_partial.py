"""apply_yaml stopped part-way: the outcome names what was and was not applied, and the undo is
proposed as new approvals that put the cluster back — against the sandbox (with injected API
server failures) and a real Postgres."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from confirmations.model import State
from sandbox.kube.faults import Faults, parse_rule
from tests.confirm_support import DAVE, DIRECTORY, rig
from tests.sandbox_support import ThreadedSandbox

MANIFEST = """apiVersion: v1
kind: ConfigMap
metadata: {name: web-app-config, labels: {app: web-app, tier: front}}
data: {CACHE_TTL_SECONDS: "10"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers: [{name: hello, image: nginx:1.27}]
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 80}]
"""
RATE = 0.5


def _seed() -> int:
    """A seed whose draws let the Service's two dry runs (plan, execution) through and fail its
    apply: PATCHes of services are the only requests the rule draws for."""
    for seed in range(1000):
        draws = random.Random(seed)
        if [draws.random() < RATE for _ in range(3)] == [False, False, True]:
            return seed
    raise AssertionError("no seed")


@pytest.fixture
def faults() -> Faults:
    return Faults.from_options(seed=_seed())


@pytest.fixture
def sandbox(tmp_path: Path, faults: Faults) -> Iterator[ThreadedSandbox]:
    sb = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, job_run_seconds=0.1,
                         faults=faults).start()
    sb.settle(0.1)
    yield sb
    sb.stop()


def _config(sandbox: ThreadedSandbox) -> dict:  # type: ignore[type-arg]
    found = sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")
    assert found is not None
    return found


def _fail(sandbox: ThreadedSandbox, faults: Faults, knob: str) -> None:
    sandbox.call(lambda: faults.rules.append(parse_rule("fail", knob)))


async def test_failure_part_way_says_what_was_applied_and_proposes_the_undo(
        database_url: str, sandbox: ThreadedSandbox, faults: Faults, tmp_path: Path) -> None:
    before = _config(sandbox)
    _fail(sandbox, faults, f"patch:services={RATE}:500")
    async with rig(database_url, sandbox, tmp_path, people=DIRECTORY + DAVE) as r:
        carol = await r.identity.context("carol", namespace="shop")
        action = await r.flow.propose(carol, "apply_yaml", {"manifest": MANIFEST})
        decided = await r.flow.approve(action.id, "dave")

        assert [rec.fault for rec in faults.records
                if rec.verb == "patch" and rec.resource == "services"] == ["", "", "fail:500"]
        assert not decided.ok and decided.code == "failed"
        assert ("Applied: ConfigMap web-app-config, Deployment hello. Not applied: "
                "Service hello.") in decided.message
        assert "Service hello failed: " in decided.message
        row = (await r.rows(f"SELECT state, error FROM pending_actions "
                            f"WHERE id = '{action.id}'"))[0]
        assert row["state"] == State.FAILED.value
        assert "Applied: ConfigMap web-app-config, Deployment hello." in row["error"]
        # what the partial apply left in the cluster
        assert _config(sandbox)["data"]["CACHE_TTL_SECONDS"] == "10"
        assert _config(sandbox)["metadata"]["labels"]["tier"] == "front"
        assert sandbox.obj("apps", "v1", "deployments", "shop", "hello") is not None
        assert sandbox.obj("", "v1", "services", "shop", "hello") is None

        undo = await r.rows(f"SELECT id, tool, requester, state FROM pending_actions "
                            f"WHERE id <> '{action.id}' ORDER BY tool")
        assert [(u["tool"], u["requester"], u["state"]) for u in undo] == [
            ("apply_yaml", "U0CAROL", "pending"), ("delete_resource", "U0CAROL", "pending")]
        for u in undo:
            assert f"approve {u['id']} to " in decided.message
            done = await r.flow.approve(u["id"], "dave")
            assert done.ok, done.message

    assert sandbox.obj("apps", "v1", "deployments", "shop", "hello") is None
    restored = _config(sandbox)
    assert restored["data"] == before["data"]
    assert restored["metadata"]["labels"]["app"] == "web-app"


async def test_a_dry_run_failing_at_execution_applies_nothing(
        database_url: str, sandbox: ThreadedSandbox, faults: Faults, tmp_path: Path) -> None:
    before = _config(sandbox)
    async with rig(database_url, sandbox, tmp_path, people=DIRECTORY + DAVE) as r:
        carol = await r.identity.context("carol", namespace="shop")
        action = await r.flow.propose(carol, "apply_yaml", {"manifest": MANIFEST})
        _fail(sandbox, faults, "patch:services=1:422")  # after the plan's dry run passed
        decided = await r.flow.approve(action.id, "dave")

        assert not decided.ok
        assert "Service hello failed its server-side dry run at execution" in decided.message
        assert "nothing was applied" in decided.message
        assert [row["state"] for row in await r.rows(
            "SELECT state FROM pending_actions")] == [State.FAILED.value]
    assert _config(sandbox)["data"] == before["data"]
    assert "tier" not in _config(sandbox)["metadata"]["labels"]
    assert sandbox.obj("apps", "v1", "deployments", "shop", "hello") is None
    assert sandbox.obj("", "v1", "services", "shop", "hello") is None
