"""Discovery: the official client and kubectl find every kind, subresource and short name."""

from __future__ import annotations

import json

from kubernetes import client

from tests.sandbox_support import ThreadedSandbox


def test_discovery_with_the_official_client(sandbox: ThreadedSandbox) -> None:
    api = sandbox.api("alice")
    assert client.VersionApi(api).get_code().git_version.startswith("v1.33")
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "batch", "metrics.k8s.io", "rbac.authorization.k8s.io",
            "authorization.k8s.io", "autoscaling", "networking.k8s.io"} <= set(groups)
    assert groups["apps"].preferred_version.group_version == "apps/v1"
    apps = {r.name: r for r in client.AppsV1Api(api).get_api_resources().resources}
    assert apps["deployments"].short_names == ["deploy"]
    assert apps["deployments/scale"].group == "autoscaling"
    assert apps["deployments/scale"].kind == "Scale"
    core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert core["pods/log"].verbs == ["get"]
    assert core["namespaces"].namespaced is False
    assert core["pods"].namespaced is True


def test_discovery_with_kubectl(sandbox: ThreadedSandbox) -> None:
    version = sandbox.kubectl("alice", "version", "-o", "json")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"].startswith("v1.33")
    resources = sandbox.kubectl("alice", "api-resources")
    assert resources.returncode == 0, resources.stderr
    rows = [line.split() for line in resources.stdout.splitlines()[1:]]
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in rows
    assert ["pods", "po", "v1", "true", "Pod"] in rows
    assert ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"] in rows
    assert ["namespaces", "ns", "v1", "false", "Namespace"] in rows
    assert {"horizontalpodautoscalers", "cronjobs", "ingresses"} <= {r[0] for r in rows}
    versions = sandbox.kubectl("alice", "api-versions").stdout.split()
    assert "metrics.k8s.io/v1beta1" in versions and "v1" in versions
