"""rollback_deployment against the sandbox: the plan is the template diff to a revision's
ReplicaSet, execution is what ``kubectl rollout undo`` does (the old ReplicaSet is taken up
again under a new revision), errors name what exists, and a changed Deployment conflicts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from confirmations import guard, rules
from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import errors, registry
from tools.spec import ActionPlan, Effect, Risk
from tools.writes import verify

ALICE = ("developers", "shop-team")
PATH = "/apis/apps/v1/namespaces/shop/deployments/web-app"
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"


def alice(sandbox: ThreadedSandbox):  # type: ignore[no-untyped-def]
    return env_for(sandbox, "alice", impersonate=ALICE)


def deployment(sandbox: ThreadedSandbox) -> dict[str, Any]:
    found = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")
    assert found is not None
    return found


def replicasets(sandbox: ThreadedSandbox) -> dict[str, tuple[str, str | None, str | None, int]]:
    """web-app's ReplicaSets by image: (name, revision, history, replicas)."""
    found = {}
    for name in sandbox.names("apps", "v1", "replicasets", "shop", "web-app-"):
        rs = sandbox.obj("apps", "v1", "replicasets", "shop", name)
        assert rs is not None
        notes = rs["metadata"].get("annotations") or {}
        image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
        found[image] = (name, notes.get(REVISION), notes.get(HISTORY), rs["spec"]["replicas"])
    return found


async def set_image(sandbox: ThreadedSandbox, image: str) -> None:
    """carol changes web-app's image (a new revision), as `kubectl set image` would."""
    carol = env_for(sandbox, "carol")
    await carol.cluster.call("PATCH", PATH, body={"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": image}]}}}},
        content_type="application/strategic-merge-patch+json")
    sandbox.settle(0.2)


async def _plan(env, **args) -> ActionPlan:  # type: ignore[no-untyped-def]
    return await registry.plan(registry.get("rollback_deployment"), env, args)


def test_the_sandbox_numbers_revisions_as_kubernetes_does(sandbox: ThreadedSandbox) -> None:
    """A template change makes a ReplicaSet with the next revision; going back to an earlier
    template takes its ReplicaSet up again with a new number and records the old one."""
    assert deployment(sandbox)["metadata"]["annotations"][REVISION] == "1"
    assert replicasets(sandbox)["nginx:1.27"] == ("web-app-7c9d8f6b5d", "1", None, 3)
    for image in ("nginx:1.28", "nginx:1.27"):
        result = sandbox.kubectl("carol", "set", "image", "deployment/web-app", f"web={image}",
                                 "-n", "shop")
        assert result.returncode == 0, result.stderr
        sandbox.settle(0.2)
    found = replicasets(sandbox)
    assert found["nginx:1.27"] == ("web-app-7c9d8f6b5d", "3", "1", 3)
    assert found["nginx:1.28"][1:] == ("2", None, 0)
    assert deployment(sandbox)["metadata"]["annotations"][REVISION] == "3"
    history = sandbox.kubectl("carol", "rollout", "history", "deployment/web-app", "-n", "shop")
    assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line.strip()] == [
        "2", "3"]


async def test_roll_back_after_a_template_change(sandbox: ThreadedSandbox) -> None:
    await set_image(sandbox, "nginx:1.28")
    new_rs = replicasets(sandbox)["nginx:1.28"][0]
    env = alice(sandbox)
    before = deployment(sandbox)
    plan = await _plan(env, name="web-app")
    assert deployment(sandbox) == before  # planning (with its dry run) changed nothing
    assert plan.summary == ("Roll back deployment shop/web-app from revision 2 to revision 1 "
                            "(web=nginx:1.27; 3 pods replaced)")
    assert "-    image: nginx:1.28" in plan.diff and "+    image: nginx:1.27" in plan.diff
    assert "pod-template-hash" not in json.dumps(plan.payload)
    assert plan.risk is Risk.MEDIUM and plan.dry_run.startswith("passed")
    assert plan.cost_delta == 0  # same requests at both revisions
    assert plan.targets[0].uid == before["metadata"]["uid"]
    assert plan.facts["objects"][0]["revision"] == [2, 1]
    stored = ActionPlan.from_dict(plan.to_dict())
    assert stored.params_hash() == plan.params_hash()
    assert await verify.applied(env, stored) is False
    done = await registry.execute(env, stored)
    assert done.data == {"changed": True, "revision": 1}
    sandbox.settle(0.2)
    after = deployment(sandbox)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert after["metadata"]["annotations"]["hexabot.io/plan-id"] == plan.id
    assert "hexabot.io/plan-id" not in (after["spec"]["template"]["metadata"].get(
        "annotations") or {})  # the template is revision 1's exactly: its ReplicaSet is reused
    found = replicasets(sandbox)
    assert found == {"nginx:1.27": ("web-app-7c9d8f6b5d", "3", "1", 3),
                     "nginx:1.28": (new_rs, "2", None, 0)}
    assert after["metadata"]["annotations"][REVISION] == "3"
    assert any(entry["manager"] == "hexabot" for entry in after["metadata"]["managedFields"])
    assert await verify.applied(env, stored) is True
    version = deployment(sandbox)["metadata"]["resourceVersion"]
    assert (await registry.execute(env, stored)).data == {"changed": False}
    assert deployment(sandbox)["metadata"]["resourceVersion"] == version


async def test_roll_back_to_a_named_revision(sandbox: ThreadedSandbox) -> None:
    await set_image(sandbox, "nginx:1.28")
    await set_image(sandbox, "nginx:1.29")
    env = alice(sandbox)
    plan = await _plan(env, name="web-app", revision=2)
    assert "from revision 3 to revision 2 (web=nginx:1.28" in plan.summary
    await registry.execute(env, plan)
    sandbox.settle(0.2)
    assert replicasets(sandbox)["nginx:1.28"][1:] == ("4", "2", 3)
    # the previous revision is now 3 (nginx:1.29), and revision 2 lives on as 4
    back = await _plan(env, name="web-app")
    assert "from revision 4 to revision 3 (web=nginx:1.29" in back.summary
    with pytest.raises(errors.InvalidArguments,
                       match="has no revision 2; its revisions: 1, 3, 4 \\(current\\); "
                             "revision 2 was taken up again as revision 4"):
        await _plan(env, name="web-app", revision=2)


async def test_what_cannot_be_rolled_back_is_said(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    with pytest.raises(errors.PlanRefused,
                       match="shop/web-app has no previous revision to roll back to "
                             "\\(revisions: 1 \\(current\\)\\)"):
        await _plan(env, name="web-app")
    await set_image(sandbox, "nginx:1.28")
    with pytest.raises(errors.InvalidArguments,
                       match=r"shop/web-app has no revision 7; its revisions: 1, 2 "
                             r"\(current\)\.$"):
        await _plan(env, name="web-app", revision=7)
    with pytest.raises(errors.PlanRefused,
                       match="already runs the template of revision 2; nothing to roll back"):
        await _plan(env, name="web-app", revision=2)
    with pytest.raises(errors.InvalidArguments, match="revision: Input should be greater"):
        await _plan(env, name="web-app", revision=0)
    with pytest.raises(errors.Forbidden, match="bob may not patch deployments"):
        await _plan(env_for(sandbox, "bob"), name="web-app")
    with pytest.raises(errors.NotFound):
        await _plan(env, name="no-such-app")
    carol = env_for(sandbox, "carol")
    await carol.cluster.call("PATCH", PATH, body={"spec": {"paused": True}},
                             content_type="application/merge-patch+json")
    with pytest.raises(errors.PlanRefused, match="is paused; resume its rollout first"):
        await _plan(env, name="web-app")


async def test_a_changed_deployment_conflicts_and_nothing_is_applied(
        sandbox: ThreadedSandbox) -> None:
    await set_image(sandbox, "nginx:1.28")
    env = alice(sandbox)
    plan = await _plan(env, name="web-app")
    await set_image(sandbox, "nginx:1.29")  # someone else rolls out meanwhile
    with pytest.raises(errors.Conflict, match="shop/web-app changed since the plan \\(its spec "
                                              "changed \\(generation 2 → 3\\)\\); nothing was "
                                              "applied — make a new plan"):
        await registry.execute(env, plan)
    after = deployment(sandbox)
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.29"
    assert "hexabot.io/plan-id" not in after["metadata"]["annotations"]
    assert await verify.applied(env, plan) is False


async def test_status_writes_between_plan_and_execution_do_not_conflict(
        sandbox: ThreadedSandbox) -> None:
    """The controller rewrites status (a new resourceVersion) all the time; only a changed
    uid, spec or labels makes the plan stale."""
    await set_image(sandbox, "nginx:1.28")
    env = alice(sandbox)
    plan = await _plan(env, name="web-app")
    carol = env_for(sandbox, "carol")
    pod = sandbox.names("", "v1", "pods", "shop", replicasets(sandbox)["nginx:1.28"][0])[0]
    await carol.cluster.call("DELETE", f"/api/v1/namespaces/shop/pods/{pod}")
    sandbox.settle(0.2)  # the ReplicaSet replaces it; the Deployment's status is rewritten
    assert deployment(sandbox)["metadata"]["resourceVersion"] != \
        plan.targets[0].resource_version
    assert (await registry.execute(env, plan)).data["changed"] is True


async def test_the_plan_is_what_kubectl_rollout_undo_does(sandbox: ThreadedSandbox) -> None:
    await set_image(sandbox, "nginx:1.28")
    env = alice(sandbox)
    plan = await _plan(env, name="web-app")
    undo = sandbox.kubectl("carol", "rollout", "undo", "deployment/web-app", "-n", "shop")
    assert undo.returncode == 0, undo.stderr
    sandbox.settle(0.2)
    wanted = dict(plan.payload["patch"]["spec"]["template"])
    wanted.pop("$patch")
    assert deployment(sandbox)["spec"]["template"] == wanted
    assert replicasets(sandbox)["nginx:1.27"] == ("web-app-7c9d8f6b5d", "3", "1", 3)
    with pytest.raises(errors.Conflict, match="changed since the plan"):
        await registry.execute(env, plan)  # kubectl got there first: the plan is stale


async def test_guardrails_judge_the_revision_it_goes_back_to(sandbox: ThreadedSandbox) -> None:
    """Caps on resource changes and required fields apply to the target revision's template."""
    carol = env_for(sandbox, "carol")
    await carol.cluster.call("PATCH", PATH, body={"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28", "resources": {"requests": {"cpu": "400m"}}}]}}}},
        content_type="application/strategic-merge-patch+json")
    sandbox.settle(0.2)
    env = alice(sandbox)
    plan = await _plan(env, name="web-app")
    [facts] = plan.facts["objects"]
    assert (facts["kind"], facts["resource_change_pct"], facts["lacking"]) == (
        "Deployment", 50.0, {})  # 400m → 200m; revision 1 has resources and probes
    # 3 pods x 200m less x 0.0316 USD/vCPU-hour x 730 h
    assert plan.cost_delta == pytest.approx(-3 * 0.2 * 0.0316 * 730, abs=0.01)
    writes = {s.name for s in registry.TOOLS if s.effect is Effect.WRITE}
    policy = rules.parse({"rules": [{"name": "small-steps", "tools": ["rollback_deployment"],
                                     "caps": {"max_resource_change_pct": 20}}]}, "t.yaml",
                         writes)
    ruling = guard.evaluate(policy, "rollback_deployment", plan.args, plan, env.ctx,
                            guard.Activity(), datetime.now(UTC))
    assert ruling.outcome == "deny" and "resources change by 50%" in ruling.reason
    # shop is a two-person namespace in the test directory: a teammate must approve
    allowed = guard.evaluate(rules.parse({}, "t.yaml", writes), "rollback_deployment",
                             plan.args, plan, env.ctx, guard.Activity(), datetime.now(UTC))
    assert allowed.outcome == "require"
