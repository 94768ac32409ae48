"""create / replace / delete / the three patch formats / apply, with both clients."""

from __future__ import annotations

import json
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox_support import ThreadedSandbox

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: shop
data:
  MODE: "{mode}"
"""


def _status(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_create_replace_delete_with_the_client(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("alice"))
    created = core.create_namespaced_config_map("shop", {
        "metadata": {"name": "flags"}, "data": {"A": "1"}})
    assert created.metadata.uid and created.metadata.resource_version
    assert sandbox.obj("", "v1", "configmaps", "shop", "flags")["data"] == {"A": "1"}
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("shop", {"metadata": {"name": "flags"}, "data": {}})
    assert info.value.status == 409 and _status(info.value)["reason"] == "AlreadyExists"
    assert _status(info.value)["message"] == 'configmaps "flags" already exists'

    stale = created.metadata.resource_version
    updated = core.replace_namespaced_config_map("flags", "shop", {
        "metadata": {"name": "flags", "resourceVersion": stale}, "data": {"A": "2"}})
    assert int(updated.metadata.resource_version) > int(stale)
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("flags", "shop", {
            "metadata": {"name": "flags", "resourceVersion": stale}, "data": {"A": "3"}})
    assert info.value.status == 409 and _status(info.value)["reason"] == "Conflict"
    assert "the object has been modified; please apply your changes to the latest version" \
        in _status(info.value)["message"]
    assert sandbox.obj("", "v1", "configmaps", "shop", "flags")["data"] == {"A": "2"}

    client.CoreV1Api(sandbox.api("carol")).delete_namespaced_config_map("flags", "shop")
    assert sandbox.obj("", "v1", "configmaps", "shop", "flags") is None


def test_invalid_objects_are_refused_with_field_paths(sandbox: ThreadedSandbox) -> None:
    apps = client.AppsV1Api(sandbox.api("carol"))
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment("shop", {
            "metadata": {"name": "broken"},
            "spec": {"selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "b"}},
                                  "spec": {"containers": [{"name": "c"}]}}}})
    status = _status(info.value)
    assert info.value.status == 422 and status["reason"] == "Invalid"
    assert "spec.template.metadata.labels" in status["message"]
    assert "spec.template.spec.containers[0].image: Required value" in status["message"]
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(sandbox.api("carol")).create_namespaced_config_map(
            "shop", {"metadata": {"name": "Bad_Name"}})
    assert "a lowercase RFC 1123 subdomain" in _status(info.value)["message"]
    assert sandbox.obj("apps", "v1", "deployments", "shop", "broken") is None


def test_strategic_merge_patch_merges_lists_by_key(sandbox: ThreadedSandbox) -> None:
    apps = client.AppsV1Api(sandbox.api("carol"))
    apps.patch_namespaced_deployment("web-app", "shop", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "env": [{"name": "LOG_LEVEL", "value": "debug"}],
                        "ports": [{"containerPort": 9090, "name": "metrics"}]}]}}}})
    container = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")[
        "spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "nginx:1.27"  # untouched fields stay
    assert [e["name"] for e in container["env"]] == ["API_URL", "LOG_LEVEL"]
    assert [p["containerPort"] for p in container["ports"]] == [8080, 9090]
    # a $patch: delete directive removes one element by its key
    apps.patch_namespaced_deployment("web-app", "shop", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "env": [{"name": "API_URL", "$patch": "delete"}]}]}}}})
    container = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")[
        "spec"]["template"]["spec"]["containers"][0]
    assert [e["name"] for e in container["env"]] == ["LOG_LEVEL"]


def test_json_patch_and_merge_patch_with_kubectl(sandbox: ThreadedSandbox) -> None:
    merge = sandbox.kubectl("alice", "patch", "configmap", "web-app-config", "-n", "shop",
                            "--type", "merge",
                            "-p", '{"data":{"CACHE_TTL_SECONDS":null,"NEW":"1"}}')
    assert merge.returncode == 0, merge.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"] == {
        "FEATURE_NEW_CHECKOUT": "false", "NEW": "1"}
    patch = sandbox.kubectl("alice", "patch", "configmap", "web-app-config", "-n", "shop",
                            "--type", "json", "-p",
                            '[{"op":"replace","path":"/data/NEW","value":"2"},'
                            '{"op":"add","path":"/data/EXTRA","value":"x"}]')
    assert patch.returncode == 0, patch.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"]["NEW"] == "2"
    bad = sandbox.kubectl("alice", "patch", "configmap", "web-app-config", "-n", "shop",
                          "--type", "json", "-p", '[{"op":"remove","path":"/data/MISSING"}]')
    assert bad.returncode == 1 and "nonexistent" in bad.stderr
    strategic = sandbox.kubectl(
        "carol", "patch", "deployment", "web-app", "-n", "shop", "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}')
    assert strategic.returncode == 0, strategic.stderr
    deployment = sandbox.obj("apps", "v1", "deployments", "shop", "web-app")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
        "memory"] == "512Mi"


def test_kubectl_create_apply_and_delete(sandbox: ThreadedSandbox, tmp_path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(CONFIGMAP.format(name="from-file", mode="a"))
    created = sandbox.kubectl("alice", "create", "-f", str(manifest))
    assert created.returncode == 0, created.stderr
    assert "configmap/from-file created" in created.stdout
    again = sandbox.kubectl("alice", "create", "-f", str(manifest))
    assert again.returncode == 1 and "AlreadyExists" in again.stderr

    applied = sandbox.kubectl("alice", "apply", "--server-side",
                              "-f", "-", stdin=CONFIGMAP.format(name="applied", mode="one"))
    assert applied.returncode == 0, applied.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "applied")["data"] == {"MODE": "one"}
    reapplied = sandbox.kubectl("alice", "apply", "--server-side",
                                "-f", "-", stdin=CONFIGMAP.format(name="applied", mode="two"))
    assert reapplied.returncode == 0, reapplied.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "applied")["data"] == {"MODE": "two"}

    client_side = sandbox.kubectl("alice", "apply", "-f", "-",
                                  stdin=CONFIGMAP.format(name="client-side", mode="x"))
    assert client_side.returncode == 0, client_side.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "client-side")["data"] == {"MODE": "x"}

    deleted = sandbox.kubectl("carol", "delete", "configmap", "from-file", "-n", "shop")
    assert deleted.returncode == 0 and 'configmap "from-file" deleted' in deleted.stdout
    assert sandbox.obj("", "v1", "configmaps", "shop", "from-file") is None


def test_protobuf_bodies_get_a_clear_415(sandbox: ThreadedSandbox) -> None:
    result = sandbox.kubectl("carol", "create", "deployment", "proto", "-n", "shop",
                             "--image", "nginx")
    assert result.returncode == 1
    assert "UnsupportedMediaType" in result.stderr or "protobuf" in result.stderr
    assert sandbox.obj("apps", "v1", "deployments", "shop", "proto") is None
    import ssl
    context = ssl.create_default_context(cadata=sandbox.sc.ca_pem.decode())
    request = urllib.request.Request(
        f"{sandbox.sc.url}/api/v1/namespaces/shop/configmaps", data=b"\x6b\x38\x73\x00",
        method="POST", headers={"Authorization": f"Bearer {sandbox.sc.token('carol')}",
                                "Content-Type": "application/vnd.kubernetes.protobuf"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, context=context)
    body = json.loads(info.value.read())
    assert info.value.status == 415 and body["reason"] == "UnsupportedMediaType"
    assert "protobuf" in body["message"]
