"""Authorization attacks on the decision path, through the flow every door shares and through
the CLI: a like-named workspace on another cluster (mallory), a cluster-admin outside the
namespace's directory scope (erin), tampered rows, and a requester whose workspace moved.
Each asserts on what Postgres and the sandbox clusters recorded."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agents.orchestrator.runs import RunStore
from agents.orchestrator.service import Orchestrator
from app.audit import reader
from app.settings import load_settings
from app.slack import render
from confirmations.model import State
from confirmations.store import Lease
from tests.confirm_support import Rig
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.security.support import attacked, directory, propose_scale, replicas
from tools import registry
from tools.audit import AuditEvent
from tools.security import KubeconfigCredentials, workspace_id


@pytest.fixture
def other(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """Another cluster (its own API server and CA) with the same demo objects."""
    (tmp_path / "other").mkdir()
    sb = ThreadedSandbox(None, tmp_path / "other", pod_start_delay=0.05).start()
    yield sb
    sb.stop()


@pytest.fixture
async def r(database_url: str, sandbox: ThreadedSandbox, other: ThreadedSandbox,
            tmp_path: Path) -> AsyncIterator[Rig]:
    async with attacked(database_url, sandbox, other, tmp_path) as found:
        yield found


async def _state(r: Rig, action_id: str) -> str:
    [row] = await r.rows(f"SELECT state FROM pending_actions WHERE id = '{action_id}'")
    return str(row["state"])


async def _denials(r: Rig, actor: str) -> list[dict[str, object]]:
    rows = await r.rows("SELECT event FROM audit_outbox ORDER BY seq")
    events = [json.loads(row["event"]) if isinstance(row["event"], str) else row["event"]
              for row in rows]
    return [e for e in events if e["actor"] == actor and e["outcome"] == "denied"]


ATTACKS = [("U0MALLORY", "approve"), ("U0MALLORY", "reject"), ("U0ERIN", "approve"),
           ("U0ERIN", "reject")]


@pytest.mark.parametrize(("who", "verb"), ATTACKS)
async def test_outsider_cannot_decide(r: Rig, sandbox: ThreadedSandbox,
                                      other: ThreadedSandbox, who: str, verb: str) -> None:
    action = await propose_scale(r.identity, r)
    decision = await getattr(r.flow, verb)(action.id, who)
    assert not decision.ok
    expected = ("has no access to workspace 'shop' on that cluster" if who == "U0MALLORY"
                else "directory entry does not include namespace shop-staging")
    assert expected in decision.message
    assert await _state(r, action.id) == "pending"
    assert replicas(sandbox, "shop-staging", "web-app") != 5
    assert replicas(other, "shop-staging", "web-app") != 5
    assert [e["kind"] for e in await _denials(r, who)] == [f"confirmation.{verb}"]


@pytest.mark.parametrize("who", ["U0MALLORY", "U0ERIN"])
async def test_outsider_lists_nothing(r: Rig, who: str) -> None:
    action = await propose_scale(r.identity, r)
    assert [a.id for a in await r.flow.pending_for(await r.identity.context("U0CAROL"))] == [
        action.id]  # control: an in-scope teammate sees it
    assert await r.flow.pending_for(await r.identity.context(who)) == []


async def test_in_scope_teammate_still_approves(r: Rig, sandbox: ThreadedSandbox,
                                                other: ThreadedSandbox) -> None:
    """The control: the fixes above did not just refuse everyone."""
    action = await propose_scale(r.identity, r)
    decision = await r.flow.approve(action.id, "U0CAROL")
    assert decision.ok, decision.message
    assert replicas(sandbox, "shop-staging", "web-app") == 5
    assert replicas(other, "shop-staging", "web-app") != 5


async def test_moving_the_row_to_the_attackers_workspace_id_does_not_help(r: Rig) -> None:
    action = await propose_scale(r.identity, r)
    mallory = await r.identity.context("U0MALLORY")
    await r.rows(f"UPDATE pending_actions SET workspace_id = '{mallory.workspace_id}' "
                 f"WHERE id = '{action.id}'")
    assert await r.flow.pending_for(mallory) == []
    assert not (await r.flow.approve(action.id, "U0MALLORY")).ok
    assert await _state(r, action.id) == "pending"


async def test_rewriting_the_plans_workspace_id_breaks_its_hash(r: Rig,
                                                                 sandbox: ThreadedSandbox) -> None:
    action = await propose_scale(r.identity, r)
    mallory = await r.identity.context("U0MALLORY")
    plan = {**action.plan.to_dict(), "workspace_id": mallory.workspace_id}
    await r.rows(f"UPDATE pending_actions SET plan = '{json.dumps(plan)}'::json, "
                 f"workspace_id = '{mallory.workspace_id}' WHERE id = '{action.id}'")
    by_mallory = await r.flow.approve(action.id, "U0MALLORY")  # the requester is not there
    assert not by_mallory.ok and "alice has no access to workspace 'shop'" in by_mallory.message
    by_carol = await r.flow.approve(action.id, "U0CAROL")  # neither she nor alice is there
    assert not by_carol.ok and "has no access to workspace 'shop'" in by_carol.message
    assert await _state(r, action.id) == "pending"
    assert replicas(sandbox, "shop-staging", "web-app") != 5


async def test_an_action_without_a_workspace_identity_is_refused(r: Rig) -> None:
    alice = await r.identity.context("U0ALICE", namespace="shop-staging")
    env = r.envs.for_context(alice)
    plan = await registry.plan(registry.get("scale_deployment"), env,
                               {"name": "web-app", "replicas": 5})
    legacy = dataclasses.replace(plan, workspace_id="")
    now = r.flow.clock()
    await r.flow.store.create(legacy, "hxb-alice", False, now, now + r.flow.ttl)
    decision = await r.flow.approve(legacy.id, "U0ALICE")
    assert not decision.ok and "stored before workspaces were identified" in decision.message
    assert await _state(r, legacy.id) == "pending"


async def test_requester_whose_workspace_moved_cluster_is_not_executed_elsewhere(
        database_url: str, sandbox: ThreadedSandbox, other: ThreadedSandbox,
        tmp_path: Path) -> None:
    async with attacked(database_url, sandbox, other, tmp_path) as first:
        action = await propose_scale(first.identity, first)
    async with attacked(database_url, sandbox, other, tmp_path, migrated=True,
                        alice_elsewhere=True) as moved:
        decision = await moved.flow.approve(action.id, "U0CAROL")
        assert not decision.ok and "alice has no access to workspace 'shop'" in decision.message
        assert await _state(moved, action.id) == "pending"
    assert replicas(sandbox, "shop-staging", "web-app") != 5
    assert replicas(other, "shop-staging", "web-app") != 5


async def test_audit_reads_follow_the_workspace_identity(r: Rig, database_url: str) -> None:
    await propose_scale(r.identity, r)
    settings = load_settings(database_url=database_url)
    alice, mallory = (await r.identity.context("U0ALICE"), await r.identity.context("U0MALLORY"))
    assert alice.workspace == mallory.workspace == "shop"
    assert alice.workspace_id != mallory.workspace_id
    ours = await reader.events(settings, r.engine, workspace_id=alice.workspace_id)
    assert "confirmation.propose" in [e["kind"] for e in ours]
    assert await reader.events(settings, r.engine, workspace_id=mallory.workspace_id) == []


def _cli_env(clean_env: dict[str, str], database_url: str, sandbox: ThreadedSandbox,
             other: ThreadedSandbox, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "attackers.yaml"
    path.write_text(directory(other).format(kc=sandbox.sc.kubeconfig))
    return {**clean_env, "HEXABOT_DATABASE_URL": database_url,
            "HEXABOT_DIRECTORY_FILE": str(path)}


@pytest.mark.parametrize("who", ["mallory", "erin"])
async def test_cli_approve_by_an_outsider(r: Rig, clean_env: dict[str, str], database_url: str,
                                          sandbox: ThreadedSandbox, other: ThreadedSandbox,
                                          tmp_path: Path, who: str) -> None:
    action = await propose_scale(r.identity, r)
    env = _cli_env(clean_env, database_url, sandbox, other, tmp_path)
    listed = run_cli(["pending", "--as", who], env, tmp_path)
    assert listed.returncode == 0 and action.id not in listed.stdout
    done = run_cli(["approve", action.id, "--as", who], env, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert await _state(r, action.id) == State.PENDING.value
    assert replicas(sandbox, "shop-staging", "web-app") != 5


async def test_a_resumed_workflow_never_acts_in_a_like_named_workspace_elsewhere(
        database_url: str, sandbox: ThreadedSandbox, other: ThreadedSandbox,
        tmp_path: Path) -> None:
    """alice starts a run in our "shop"; her directory entry's "shop" then points at another
    cluster.  Resuming must not carry on there under the same name."""
    async with attacked(database_url, sandbox, other, tmp_path) as first:
        orchestrator = Orchestrator(first.identity, first.flow, first.envs,
                                    RunStore(first.engine))
        await first.identity.switch_namespace("U0ALICE", "shop-staging")
        alice = await first.identity.context("U0ALICE")
        run, [proposal] = await orchestrator.start(alice, "scale_application",
                                                   {"name": "web-app", "replicas": 4})
        assert run.state == "waiting", run.text()
        assert (await first.flow.reject(proposal.id, "U0ALICE")).ok  # decided: due to resume
    async with attacked(database_url, sandbox, other, tmp_path, migrated=True,
                        alice_elsewhere=True) as moved:
        orchestrator = Orchestrator(moved.identity, moved.flow, moved.envs,
                                    RunStore(moved.engine))
        [(_, done)] = await orchestrator.resume_due()
        assert done.state == "failed" and "no access to workspace 'shop'" in done.output
        [row] = await moved.rows("SELECT state, workspace_id FROM workflow_runs")
        assert row["state"] == "failed" and row["workspace_id"] == alice.workspace_id
    assert replicas(other, "shop-staging", "web-app") != 4


async def test_a_card_never_shows_a_secret_value_it_will_apply(r: Rig) -> None:
    """Cards sit in shared channels: a ConfigMap change setting a password shows the key, not
    the value (the stored plan keeps the exact value it applies)."""
    alice = await r.identity.context("U0ALICE", namespace="shop-staging")
    secret = "Pl4nted-S3cret-v4lue-9x"
    action = await r.flow.propose(alice, "update_configmap", {
        "name": "web-app-config", "set": {"DB_PASSWORD": secret, "LOG_LEVEL": "debug"}})
    shown = json.dumps(render.card(action))
    assert secret not in shown and "DB_PASSWORD" in shown and "LOG_LEVEL" in shown
    assert action.plan.payload and secret in json.dumps(action.plan.payload)


async def test_an_outsider_learns_nothing_about_a_decided_action(r: Rig) -> None:
    action = await propose_scale(r.identity, r)
    assert (await r.flow.approve(action.id, "U0CAROL")).ok
    for who in ("U0MALLORY", "U0ERIN"):
        for verb in (r.flow.approve, r.flow.reject):
            told = (await verb(action.id, who)).message
            assert "U0CAROL" not in told and "succeeded" not in told and "Already" not in told


async def _executing(r: Rig, workspace_id: str | None = None) -> str:
    """An action a crash left `executing` (claimed and started, never finished)."""
    alice = await r.identity.context("U0ALICE", namespace="shop-staging")
    plan = await registry.plan(registry.get("scale_deployment"), r.envs.for_context(alice),
                               {"name": "web-app", "replicas": 7})
    if workspace_id is not None:
        plan = dataclasses.replace(plan, workspace_id=workspace_id)
    now = r.flow.clock()
    await r.flow.store.create(plan, "hxb-alice", False, now, now + r.flow.ttl)
    dead = Lease("a-replica-that-died", now)  # its lease ran out at once
    assert await r.flow.store.claim(plan.id, "U0ALICE", "hxb-alice", now, lease=dead)
    assert await r.flow.store.start(plan.id, now, AuditEvent(kind="test", actor="t",
                                                             outcome="ok"), lease=dead)
    return plan.id


@pytest.mark.parametrize("legacy", [False, True])
async def test_recovery_never_reads_a_like_named_workspace_elsewhere(
        database_url: str, sandbox: ThreadedSandbox, other: ThreadedSandbox, tmp_path: Path,
        legacy: bool) -> None:
    """After a restart the requester's "shop" points at another cluster, where the change
    *is* visible: recovery must not read it there (nor crash): the outcome is unknown."""
    async with attacked(database_url, sandbox, other, tmp_path) as first:
        action_id = await _executing(first, "" if legacy else None)
    scaled = other.kubectl("carol", "scale", "deploy/web-app", "-n", "shop-staging",
                           "--replicas=7")
    assert scaled.returncode == 0, scaled.stderr
    async with attacked(database_url, sandbox, other, tmp_path, migrated=True,
                        alice_elsewhere=True) as moved:
        [settled] = await moved.flow.recover()
        assert settled.id == action_id and settled.state is State.UNKNOWN
        assert "cannot tell whether it was applied" in (settled.error or "")
    assert replicas(sandbox, "shop-staging", "web-app") != 7


def _kubeconfig(**cluster: object) -> KubeconfigCredentials:
    return KubeconfigCredentials({"contexts": [{"name": "c", "context": {"cluster": "k"}}],
                                  "clusters": [{"name": "k", "cluster": cluster}]}, "c", "f")


CA = {"certificate-authority-data": "QUJDREVG"}
SAME_CLUSTER = [
    ({"server": "https://api.example.com", **CA}, {"server": "https://API.example.com:443/", **CA}),
    ({"server": "https://api.example.com", **CA}, {"server": "https://api.example.com.", **CA}),
    ({"server": "https://api.example.com", **CA},
     {"server": "https://api.example.com", "certificate-authority-data": "QUJD\nREVG"}),
]
OTHER_CLUSTER = [
    ({"server": "https://api.example.com", **CA}, {"server": "https://api.example.org", **CA}),
    ({"server": "https://api.example.com", **CA},
     {"server": "https://api.example.com", "certificate-authority-data": "WFla"}),
    ({"server": "https://api.example.com", **CA},
     {"server": "https://api.example.com", **CA, "insecure-skip-tls-verify": True}),
    ({"server": "https://rancher/k8s/clusters/c-AbC", **CA},
     {"server": "https://rancher/k8s/clusters/c-abc", **CA}),
    ({"server": "https://api.example.com", **CA},
     {"server": "https://api.example.com", **CA, "proxy-url": "http://proxy:3128"}),
    ({"server": "https://api.example.com", **CA},
     {"server": "https://api.example.com", **CA, "tls-server-name": "other"}),
    ({"server": "https://api.example.com:6443", **CA}, {"server": "https://api.example.com", **CA}),
    ({}, {"server": "https://api.example.com", **CA}),
]


@pytest.mark.parametrize(("one", "two"), SAME_CLUSTER)
def test_one_cluster_reached_alike_has_one_identity(one: dict[str, object],
                                                    two: dict[str, object]) -> None:
    assert workspace_id("shop", _kubeconfig(**one)) == workspace_id("shop", _kubeconfig(**two))


@pytest.mark.parametrize(("one", "two"), OTHER_CLUSTER)
def test_like_named_workspaces_on_other_clusters_differ(one: dict[str, object],
                                                        two: dict[str, object]) -> None:
    assert workspace_id("shop", _kubeconfig(**one)) != workspace_id("shop", _kubeconfig(**two))
