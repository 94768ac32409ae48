"""Scale, rollout restart, pod replacement, jobs and events: the light controllers."""

from __future__ import annotations

import time
from collections.abc import Callable

from kubernetes import client

from tests.sandbox_support import ThreadedSandbox


def wait_for(sandbox: ThreadedSandbox, condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sandbox.settle()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def _pods(sandbox: ThreadedSandbox, namespace: str, prefix: str) -> list[dict]:
    return [sandbox.obj("", "v1", "pods", namespace, n)
            for n in sandbox.names("", "v1", "pods", namespace, prefix)]


def _running(pods: list[dict]) -> int:
    return sum(1 for p in pods if p["status"]["phase"] == "Running" and all(
        s["ready"] for s in p["status"]["containerStatuses"]))


def test_kubectl_scale_creates_pods_and_updates_status(sandbox: ThreadedSandbox) -> None:
    result = sandbox.kubectl("alice", "scale", "deployment/web-app", "-n", "shop",
                             "--replicas=5")
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/web-app scaled" in result.stdout
    wait_for(sandbox, lambda: sandbox.obj("apps", "v1", "deployments", "shop", "web-app")[
        "status"].get("readyReplicas") == 5)
    pods = _pods(sandbox, "shop", "web-app-")
    assert len(pods) == 5 and _running(pods) == 5
    deployment = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")
    assert deployment["spec"]["replicas"] == 5
    assert deployment["status"]["availableReplicas"] == 5
    events = [sandbox.obj("", "v1", "events", "shop", n)
              for n in sandbox.names("", "v1", "events", "shop", "web-app.")]
    assert any(e["reason"] == "ScalingReplicaSet" and "from 3 to 5" in e["message"]
               for e in events)


def test_scale_subresource_with_the_client(sandbox: ThreadedSandbox) -> None:
    apps = client.AppsV1Api(sandbox.api("alice"))
    scale = apps.read_namespaced_deployment_scale("web-app", "shop")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web-app"
    apps.patch_namespaced_deployment_scale("web-app", "shop", {"spec": {"replicas": 1}})
    wait_for(sandbox, lambda: len(_pods(sandbox, "shop", "web-app-")) == 1)
    wait_for(sandbox, lambda: sandbox.obj("apps", "v1", "deployments", "shop", "web-app")[
        "status"]["replicas"] == 1)
    replaced = apps.replace_namespaced_deployment_scale("web-app", "shop", {
        "metadata": {"name": "web-app", "namespace": "shop"}, "spec": {"replicas": 2}})
    assert replaced.spec.replicas == 2
    wait_for(sandbox, lambda: _running(_pods(sandbox, "shop", "web-app-")) == 2)


def test_rollout_restart_replaces_pods(sandbox: ThreadedSandbox) -> None:
    before = set(sandbox.names("", "v1", "pods", "shop", "web-app-"))
    result = sandbox.kubectl("alice", "rollout", "restart", "deployment/web-app", "-n", "shop")
    assert result.returncode == 0, result.stderr
    template = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    wait_for(sandbox, lambda: _running(_pods(sandbox, "shop", "web-app-")) == 3
             and not before & set(sandbox.names("", "v1", "pods", "shop", "web-app-")))
    replica_sets = sandbox.names("apps", "v1", "replicasets", "shop", "web-app-")
    assert len(replica_sets) == 2
    old = sandbox.obj("apps", "v1", "replicasets", "shop", "web-app-7c9d8f6b5d")
    assert old["spec"]["replicas"] == 0


def test_deleted_pod_is_recreated(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("carol"))
    core.delete_namespaced_pod("web-app-7c9d8f6b5d-x2k9p", "shop")
    assert sandbox.obj("", "v1", "pods", "shop", "web-app-7c9d8f6b5d-x2k9p") is None
    wait_for(sandbox, lambda: _running(_pods(sandbox, "shop", "web-app-7c9d8f6b5d-")) == 3)


def test_created_job_gets_a_pod_that_completes(sandbox: ThreadedSandbox) -> None:
    batch = client.BatchV1Api(sandbox.api("alice"))
    batch.create_namespaced_job("shop", {
        "metadata": {"name": "backup-now"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "backup", "image": "postgres:16.4", "command": ["pg_dump"]}]}}}})
    wait_for(sandbox, lambda: (sandbox.obj("batch", "v1", "jobs", "shop", "backup-now")
                               .get("status") or {}).get("succeeded") == 1)
    pods = _pods(sandbox, "shop", "backup-now-")
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"


def test_statefulset_scale_and_garbage_collection(sandbox: ThreadedSandbox) -> None:
    result = sandbox.kubectl("carol", "scale", "statefulset/user-db", "-n", "data",
                             "--replicas=2")
    assert result.returncode == 0, result.stderr
    wait_for(sandbox, lambda: _running(_pods(sandbox, "data", "user-db-")) == 2)
    assert sandbox.names("", "v1", "pods", "data", "user-db-") == ["user-db-0", "user-db-1"]
    deleted = sandbox.kubectl("carol", "delete", "deployment", "web-app", "-n", "shop")
    assert deleted.returncode == 0, deleted.stderr
    wait_for(sandbox, lambda: not sandbox.names("", "v1", "pods", "shop", "web-app-"))
    assert not sandbox.names("apps", "v1", "replicasets", "shop", "web-app-")


def test_seeded_broken_pod_keeps_its_status(sandbox: ThreadedSandbox) -> None:
    sandbox.settle(0.3)
    pod = sandbox.obj("", "v1", "pods", "shop", "checkout-worker-6b8f9d7c4e-h5j2k")
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 12
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"


def test_seeded_workload_without_status_is_reconciled(sandbox: ThreadedSandbox) -> None:
    wait_for(sandbox, lambda: _running(_pods(sandbox, "shop-staging", "web-app-")) == 1)
    deployment = sandbox.obj("apps", "v1", "deployments", "shop-staging", "web-app")
    assert deployment["status"]["readyReplicas"] == 1
