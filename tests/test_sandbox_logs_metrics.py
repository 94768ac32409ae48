"""pods/log and metrics.k8s.io, with the official client and kubectl."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox_support import ThreadedSandbox

OOM_POD = "checkout-worker-6b8f9d7c4e-h5j2k"


def test_logs_with_the_client(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("alice"))
    full = core.read_namespaced_pod_log(OOM_POD, "shop")
    assert full.splitlines()[0].endswith("checkout-worker 1.9.0 starting, batch size 500")
    previous = core.read_namespaced_pod_log(OOM_POD, "shop", previous=True, tail_lines=2)
    assert previous.splitlines() == [
        "2026-11-23T09:46:10Z WARN rss=548Mi close to the 512Mi limit, cache holds 1000 orders",
        "2026-11-23T09:46:38Z WARN rss=580Mi, loading batch 3"]
    limited = core.read_namespaced_pod_log(OOM_POD, "shop", container="worker", limit_bytes=20)
    assert len(limited.encode()) == 20
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("web-app-7c9d8f6b5d-x2k9p", "shop", previous=True)
    assert info.value.status == 400
    assert 'previous terminated container "web"' in json.loads(info.value.body)["message"]


def test_multi_container_pod_needs_a_container_name(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("carol"))
    core.create_namespaced_pod("shop", {"metadata": {"name": "two"}, "spec": {"containers": [
        {"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "envoy"}]}})
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("two", "shop")
    assert json.loads(info.value.body)["message"] == (
        "a container name must be specified for pod two, choose one of: [app sidecar]")
    assert core.read_namespaced_pod_log("two", "shop", container="sidecar") == ""


def test_logs_with_kubectl(sandbox: ThreadedSandbox) -> None:
    tail = sandbox.kubectl("alice", "logs", "-n", "shop", OOM_POD, "--previous", "--tail=1")
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.strip() == "2026-11-23T09:46:38Z WARN rss=580Mi, loading batch 3"
    web = sandbox.kubectl("alice", "logs", "-n", "shop", "web-app-7c9d8f6b5d-x2k9p",
                          "--limit-bytes=40")
    assert web.returncode == 0 and len(web.stdout.encode()) == 40


def test_metrics_with_the_client_and_kubectl_top(sandbox: ThreadedSandbox) -> None:
    custom = client.CustomObjectsApi(sandbox.api("alice"))
    metrics = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "shop", "pods")
    usage = {m["metadata"]["name"]: m["containers"][0]["usage"] for m in metrics["items"]}
    assert usage[OOM_POD] == {"cpu": "412m", "memory": "580Mi"}
    node = custom.get_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes", "node-1")
    assert node["usage"]["cpu"] == "1620m"
    top = sandbox.kubectl("alice", "top", "pod", "-n", "shop", "-l", "app=api-service")
    assert top.returncode == 0, top.stderr
    rows = [line.split() for line in top.stdout.splitlines()[1:]]
    assert sorted(r[1] for r in rows) == ["852m", "861m"]
    nodes = sandbox.kubectl("alice", "top", "node")
    assert nodes.returncode == 0, nodes.stderr
    node1 = next(line.split() for line in nodes.stdout.splitlines() if line.startswith("node-1"))
    assert node1[1:3] == ["1620m", "42%"]  # 1620m of 3800m allocatable
