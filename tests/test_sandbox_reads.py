"""get/list with selectors and paging, tables and errors, via the official client and kubectl."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox_support import ThreadedSandbox, raw

WEB_PODS = ["web-app-7c9d8f6b5d-m4n7q", "web-app-7c9d8f6b5d-t8w3z", "web-app-7c9d8f6b5d-x2k9p"]


def test_list_with_label_and_field_selectors_client(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("alice"))
    pods = core.list_namespaced_pod("shop", label_selector="app=web-app")
    assert sorted(p.metadata.name for p in pods.items) == WEB_PODS
    assert int(pods.metadata.resource_version) >= 2
    set_based = core.list_namespaced_pod("shop", label_selector="app in (web-app,api-service)")
    assert len(set_based.items) == 5
    negated = core.list_namespaced_pod("shop", label_selector="app!=web-app,app")
    assert {p.metadata.labels["app"] for p in negated.items} == {"api-service", "checkout-worker"}
    node2 = core.list_namespaced_pod("shop", field_selector="spec.nodeName=node-2")
    assert {p.spec.node_name for p in node2.items} == {"node-2"} and len(node2.items) == 3
    by_name = core.list_namespaced_pod("shop", field_selector=f"metadata.name={WEB_PODS[0]}")
    assert [p.metadata.name for p in by_name.items] == [WEB_PODS[0]]
    with pytest.raises(ApiException) as info:
        core.list_namespaced_pod("shop", field_selector="spec.image=nginx")
    assert info.value.status == 400
    assert json.loads(info.value.body)["message"] == "field label not supported: spec.image"


def test_get_and_not_found_client(sandbox: ThreadedSandbox) -> None:
    apps = client.AppsV1Api(sandbox.api("alice"))
    deployment = apps.read_namespaced_deployment("web-app", "shop")
    assert deployment.spec.replicas == 3 and deployment.status.ready_replicas == 3
    assert deployment.metadata.uid and deployment.metadata.creation_timestamp
    with pytest.raises(ApiException) as info:
        apps.read_namespaced_deployment("nope", "shop")
    status = json.loads(info.value.body)
    assert info.value.status == 404
    assert status["kind"] == "Status" and status["reason"] == "NotFound"
    assert status["message"] == 'deployments.apps "nope" not found'
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(sandbox.api("carol")).list_namespaced_pod("no-such-ns")
    assert json.loads(info.value.body)["message"] == 'namespaces "no-such-ns" not found'


def test_paging_with_limit_and_continue(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("carol"))
    first = core.list_namespaced_pod("shop", limit=4)
    assert len(first.items) == 4 and first.metadata._continue
    assert first.metadata.remaining_item_count == 2
    second = core.list_namespaced_pod("shop", limit=4, _continue=first.metadata._continue)
    assert len(second.items) == 2 and not second.metadata._continue
    names = [p.metadata.name for p in first.items + second.items]
    assert len(set(names)) == 6


def test_kubectl_get_outputs(sandbox: ThreadedSandbox) -> None:
    table = sandbox.kubectl("alice", "get", "pods", "-n", "shop", "-l", "app=web-app")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert sorted(r.split()[0] for r in rows) == WEB_PODS
    assert all(r.split()[1:3] == ["1/1", "Running"] for r in rows)
    wide = sandbox.kubectl("alice", "get", "pods", "-n", "shop", "-o", "wide")
    assert "NODE" in wide.stdout.splitlines()[0] and "node-2" in wide.stdout
    crash = next(r for r in wide.stdout.splitlines() if r.startswith("checkout-worker"))
    assert crash.split()[1:4] == ["0/1", "CrashLoopBackOff", "12"]
    as_json = json.loads(sandbox.kubectl("alice", "get", "deploy", "web-app", "-n", "shop",
                                         "-o", "json").stdout)
    assert as_json["kind"] == "Deployment" and as_json["spec"]["replicas"] == 3
    as_yaml = yaml.safe_load(sandbox.kubectl("alice", "get", "cm", "-n", "shop",
                                             "--field-selector=metadata.name=web-app-config",
                                             "-o", "yaml").stdout)
    assert [i["metadata"]["name"] for i in as_yaml["items"]] == ["web-app-config"]
    running = sandbox.kubectl("alice", "get", "pods", "-n", "shop",
                              "--field-selector=status.phase=Running", "-o", "name")
    assert len(running.stdout.split()) == 6
    every = sandbox.kubectl("carol", "get", "pods", "-A", "--no-headers")
    namespaces = {line.split()[0] for line in every.stdout.splitlines()}
    assert namespaces == {"shop", "shop-staging", "data"}
    missing = sandbox.kubectl("alice", "get", "pod", "nope", "-n", "shop")
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "nope" not found' in missing.stderr



@pytest.mark.parametrize("query", ["log?tailLines=many", "log?limitBytes=x"])
def test_bad_query_parameters_are_400(sandbox: ThreadedSandbox, query: str) -> None:
    status, body = raw(sandbox, "GET", f"/api/v1/namespaces/shop/pods/{WEB_PODS[0]}/{query}",
                       sandbox.sc.token("alice"))
    assert status == 400 and body["reason"] == "BadRequest"
    assert "is not an integer" in body["message"]


def test_bad_list_parameters_are_400(sandbox: ThreadedSandbox) -> None:
    for query in ("limit=ten", "watch=1&resourceVersion=abc", "labelSelector=a%20in%20b"):
        status, body = raw(sandbox, "GET", f"/api/v1/namespaces/shop/pods?{query}",
                           sandbox.sc.token("alice"))
        assert status == 400 and body["reason"] == "BadRequest", (query, body)
