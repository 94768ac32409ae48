"""WRITE tools against the sandbox: plans change nothing, execution is exact and idempotent,
stale plans conflict, and forbidden users are stopped at the plan."""

from __future__ import annotations

import time

import pytest

from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import errors, registry
from tools.spec import ActionPlan, Risk

ALICE = ("developers", "shop-team")


def alice(sandbox: ThreadedSandbox, namespace: str = "shop"):  # type: ignore[no-untyped-def]
    return env_for(sandbox, "alice", namespace, impersonate=ALICE)


def deployment(sandbox: ThreadedSandbox, name: str = "web-app") -> dict:
    return sandbox.obj("apps", "v1", "deployments", "shop", name)


async def _plan(env, tool: str, **args) -> ActionPlan:  # type: ignore[no-untyped-def]
    return await registry.plan(registry.get(tool), env, args)


async def test_scale_plan_execute_replay(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    before = deployment(sandbox)
    plan = await _plan(env, "scale_deployment", name="web-app", replicas=5)
    assert deployment(sandbox) == before  # planning (with its dry run) changed nothing
    assert plan.targets[0].resource_version == before["metadata"]["resourceVersion"]
    assert plan.targets[0].uid == before["metadata"]["uid"]
    # 2 more pods x (200m x 0.0316 + 0.25 GiB x 0.0042) x 730 h
    assert plan.cost_delta == pytest.approx(2 * (0.2 * 0.0316 + 0.25 * 0.0042) * 730, abs=0.01)
    assert plan.risk is Risk.MEDIUM  # shop needs two people: never "low"
    assert plan.dry_run.startswith("passed")
    restored = ActionPlan.from_dict(plan.to_dict())
    assert restored.params_hash() == plan.params_hash()
    done = await registry.execute(env, restored)
    assert done.data == {"changed": True, "replicas": 5}
    assert deployment(sandbox)["spec"]["replicas"] == 5
    version = deployment(sandbox)["metadata"]["resourceVersion"]
    again = await registry.execute(env, restored)
    assert again.data == {"changed": False}
    assert deployment(sandbox)["metadata"]["resourceVersion"] == version


async def test_a_stale_plan_conflicts_and_changes_nothing(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    plan = await _plan(env, "scale_deployment", name="web-app", replicas=5)
    carol = env_for(sandbox, "carol")
    await carol.cluster.call("PATCH", "/apis/apps/v1/namespaces/shop/deployments/web-app",
                             body={"spec": {"replicas": 4}},
                             content_type="application/merge-patch+json")
    with pytest.raises(errors.Conflict, match="changed since the plan"):
        await registry.execute(env, plan)
    assert deployment(sandbox)["spec"]["replicas"] == 4


async def test_forbidden_user_is_stopped_at_the_plan(sandbox: ThreadedSandbox) -> None:
    bob = env_for(sandbox, "bob")
    with pytest.raises(errors.Forbidden) as info:
        await _plan(bob, "scale_deployment", name="web-app", replicas=5)
    assert info.value.message.startswith(
        'bob may not patch deployments/scale (API group "apps") in namespace \'shop\'')
    assert bob.cluster.calls == 1  # one access review, nothing else
    # and if a plan reached execution anyway, the API server refuses it once, as bob
    plan = await _plan(alice(sandbox), "scale_deployment", name="web-app", replicas=5)
    bob.cluster.calls = 0
    with pytest.raises(errors.Forbidden, match='User "bob" cannot patch resource '
                                               '"deployments/scale"'):
        await registry.execute(bob, plan)
    assert bob.cluster.calls == 2  # the read of the target, then the one refused patch
    assert deployment(sandbox)["spec"]["replicas"] == 3


async def test_restart_deployment_and_pod(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    plan = await _plan(env, "restart", name="web-app")
    assert "restartedAt" in plan.diff
    await registry.execute(env, plan)
    template = deployment(sandbox)["spec"]["template"]["metadata"]["annotations"]
    assert template["hexabot.io/plan-id"] == plan.id and "kubectl.kubernetes.io/restartedAt" \
        in template
    assert (await registry.execute(env, plan)).data == {"changed": False}
    with pytest.raises(errors.Forbidden, match="alice may not delete pods"):
        await _plan(env, "restart", kind="pod", name="api-service-5f6d7c8b9a-qp2lx")
    carol = env_for(sandbox, "carol")
    pod_plan = await _plan(carol, "restart", kind="pod", name="api-service-5f6d7c8b9a-qp2lx")
    assert pod_plan.risk is Risk.LOW
    assert (await registry.execute(carol, pod_plan)).data == {"changed": True}
    assert sandbox.obj("", "v1", "pods", "shop", "api-service-5f6d7c8b9a-qp2lx") is None
    assert (await registry.execute(carol, pod_plan)).data == {"changed": False}


async def test_update_configmap(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    plan = await _plan(env, "update_configmap", name="web-app-config",
                       set={"CACHE_TTL_SECONDS": "60", "NEW": "1"},
                       remove=["FEATURE_NEW_CHECKOUT"])
    assert '-CACHE_TTL_SECONDS: \'300\'' in plan.diff and "+NEW: '1'" in plan.diff
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"][
        "CACHE_TTL_SECONDS"] == "300"
    await registry.execute(env, plan)
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"] == {
        "CACHE_TTL_SECONDS": "60", "NEW": "1"}
    assert (await registry.execute(env, plan)).data == {"changed": False}
    with pytest.raises(errors.InvalidArguments, match="has no keys \\['NOPE'\\]"):
        await _plan(env, "update_configmap", name="web-app-config", remove=["NOPE"])


async def test_create_cronjob_once(sandbox: ThreadedSandbox) -> None:
    env = alice(sandbox)
    plan = await _plan(env, "create_cronjob", name="cache-warmer", schedule="*/15 * * * *",
                       image="registry.example.com/shop/warm:1.0", args=["--all"])
    assert sandbox.obj("batch", "v1", "cronjobs", "shop", "cache-warmer") is None
    await registry.execute(env, plan)
    created = sandbox.obj("batch", "v1", "cronjobs", "shop", "cache-warmer")
    assert created["spec"]["schedule"] == "*/15 * * * *"
    assert created["metadata"]["annotations"]["hexabot.io/plan-id"] == plan.id
    assert (await registry.execute(env, plan)).data == {"changed": False}
    with pytest.raises(errors.PlanRefused, match="already exists"):
        await _plan(env, "create_cronjob", name="cache-warmer", schedule="@daily", image="x")
    with pytest.raises(errors.InvalidArguments, match="not a five-field cron"):
        await _plan(env, "create_cronjob", name="bad", schedule="every day", image="x")


async def test_backup_job(sandbox: ThreadedSandbox) -> None:
    with pytest.raises(errors.Forbidden, match="bob may not create jobs"):
        await _plan(env_for(sandbox, "bob", "data"), "create_backup_job", database="user-db",
                    destination_pvc="data-user-db-0")
    carol = env_for(sandbox, "carol", "data")
    plan = await _plan(carol, "create_backup_job", database="user-db",
                       destination_pvc="data-user-db-0", password_secret="user-db-auth")
    manifest = plan.payload["manifest"]
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "postgres:16.4"  # the database's own image: matching pg_dump
    assert {"name": "DB_HOST", "value": "user-db.data.svc"} in container["env"]
    await registry.execute(carol, plan)
    name = manifest["metadata"]["name"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sandbox.settle(0.1)
        job = sandbox.obj("batch", "v1", "jobs", "data", name)
        if (job.get("status") or {}).get("succeeded") == 1:
            break
    assert job["status"]["succeeded"] == 1


DEPLOY = """apiVersion: apps/v1
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
kind: ConfigMap
metadata: {name: web-app-config}
data: {CACHE_TTL_SECONDS: "10"}
"""


async def test_apply_yaml(sandbox: ThreadedSandbox) -> None:
    env = env_for(sandbox, "carol")
    plan = await _plan(env, "apply_yaml", manifest=DEPLOY)
    assert plan.summary.startswith("Apply 2 object(s) (1 new, 1 changed)")
    assert sandbox.obj("apps", "v1", "deployments", "shop", "hello") is None
    await registry.execute(env, plan)
    assert sandbox.obj("apps", "v1", "deployments", "shop", "hello")["spec"]["replicas"] == 1
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"][
        "CACHE_TTL_SECONDS"] == "10"
    assert (await registry.execute(env, plan)).data == {"changed": False}


@pytest.mark.parametrize(("manifest", "reason"), [
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "Secrets are never applied"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n",
     "RBAC objects are refused"),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n", "cluster-scoped"),
    ("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\n", "not in apply_yaml's"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kube-system}\n",
     "'kube-system', which is not yours"),
    (DEPLOY.split("---")[0].replace("containers: [{name: hello, image: nginx:1.27}]",
                                    "hostNetwork: true\n      containers: [{name: h, image: x, "
                                    "securityContext: {privileged: true}}]"),
     "hostNetwork: true; privileged container 'h'"),
    (DEPLOY.split("---")[0].replace(
        "containers: [{name: hello, image: nginx:1.27}]",
        "volumes: [{name: root, hostPath: {path: /}}]\n      containers: [{name: h, image: x}]"),
     "hostPath volume 'root'"),
])
async def test_apply_yaml_refusals_leave_nothing_done(sandbox: ThreadedSandbox, manifest: str,
                                                      reason: str) -> None:
    before = sandbox.call(lambda: sandbox.sc.cluster.store.revision)
    with pytest.raises(errors.PlanRefused, match=reason):
        await _plan(env_for(sandbox, "carol"), "apply_yaml",
                    manifest=DEPLOY.split("---")[1] + "---\n" + manifest)
    assert sandbox.call(lambda: sandbox.sc.cluster.store.revision) == before


WRITE_ARGS = {
    "scale_deployment": {"name": "web-app", "replicas": 4},
    "restart": {"name": "web-app"},
    "rollback_deployment": {"name": "web-app"},
    "update_configmap": {"name": "web-app-config", "set": {"A": "1"}},
    "create_cronjob": {"name": "nightly", "schedule": "@daily", "image": "busybox"},
    "create_backup_job": {"database": "user-db", "destination_pvc": "data-user-db-0",
                          "namespace": "data"},
    "apply_yaml": {"manifest": DEPLOY.split("---")[1]},
    "create_backup_cronjob": {"database": "user-db", "namespace": "data"},
}


@pytest.mark.parametrize("tool", sorted(WRITE_ARGS))
async def test_every_write_tool_refuses_a_viewer_at_the_plan(sandbox: ThreadedSandbox,
                                                              tool: str) -> None:
    before = sandbox.call(lambda: sandbox.sc.cluster.store.revision)
    with pytest.raises(errors.Forbidden, match="bob may not"):
        await _plan(env_for(sandbox, "bob"), tool, **WRITE_ARGS[tool])
    assert sandbox.call(lambda: sandbox.sc.cluster.store.revision) == before
