"""The rest of the API surface with both clients: namespaces, patch formats and apply from the
official client, kubectl replace conflicts, deletecollection, and RBAC per verb class."""

from __future__ import annotations

import http.client
import ssl
import subprocess
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox_support import ThreadedSandbox, kubectl_binary, raw


def test_namespace_lifecycle_with_both_clients(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("carol"))
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"shop", "shop-staging", "data", "default", "kube-system"} <= names
    core.create_namespace({"metadata": {"name": "scratch"}})
    core.create_namespaced_config_map("scratch", {"metadata": {"name": "c"}})
    listed = sandbox.kubectl("carol", "get", "ns", "--no-headers")
    assert any(line.split()[:2] == ["scratch", "Active"] for line in listed.stdout.splitlines())
    deleted = sandbox.kubectl("carol", "delete", "namespace", "scratch")
    assert deleted.returncode == 0, deleted.stderr
    sandbox.settle()
    assert sandbox.obj("", "v1", "namespaces", None, "scratch") is None
    assert sandbox.obj("", "v1", "configmaps", "scratch", "c") is None  # contents went too


def test_patch_formats_and_apply_from_the_client(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("alice"))
    core.patch_namespaced_config_map(
        "web-app-config", "shop", {"data": {"CACHE_TTL_SECONDS": None, "M": "1"}},
        _content_type="application/merge-patch+json")
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"] == {
        "FEATURE_NEW_CHECKOUT": "false", "M": "1"}
    core.patch_namespaced_config_map(
        "web-app-config", "shop", [{"op": "add", "path": "/data/J", "value": "2"}])
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"]["J"] == "2"
    applied = core.patch_namespaced_config_map(
        "via-apply", "shop", {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "via-apply"}, "data": {"A": "1"}},
        field_manager="hexabot", _content_type="application/apply-patch+yaml")
    assert applied.data == {"A": "1"}
    # a stale resourceVersion inside a patch is a precondition, as on a real server
    stale = {"metadata": {"resourceVersion": "1"}, "data": {"B": "2"}}
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map("via-apply", "shop", stale,
                                         _content_type="application/merge-patch+json")
    assert info.value.status == 409
    restart = client.AppsV1Api(sandbox.api("alice")).patch_namespaced_deployment(
        "web-app", "shop", {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-11-23T10:00:00Z"}}}}})
    assert restart.metadata.generation == 2


def test_kubectl_replace_with_a_stale_version_conflicts(sandbox: ThreadedSandbox) -> None:
    current = yaml.safe_load(sandbox.kubectl("alice", "get", "cm", "web-app-config", "-n",
                                             "shop", "-o", "yaml").stdout)
    current["data"]["X"] = "1"
    ok = sandbox.kubectl("alice", "replace", "-f", "-", stdin=yaml.safe_dump(current))
    assert ok.returncode == 0, ok.stderr
    current["data"]["X"] = "2"  # still carries the old resourceVersion
    stale = sandbox.kubectl("alice", "replace", "-f", "-", stdin=yaml.safe_dump(current))
    assert stale.returncode == 1
    assert "the object has been modified" in stale.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")["data"]["X"] == "1"


def test_deletecollection_with_a_selector(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("carol"))
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map("shop", {"metadata": {"name": name,
                                                                "labels": {"team": team}}})
    core.delete_collection_namespaced_config_map("shop", label_selector="team=x")
    assert sandbox.names("", "v1", "configmaps", "shop", "") == [
        "api-service-config", "c", "web-app-config"]
    denied = sandbox.kubectl("bob", "delete", "configmaps", "-n", "shop", "-l", "team=y")
    assert denied.returncode == 1 and "Forbidden" in denied.stderr
    assert sandbox.obj("", "v1", "configmaps", "shop", "c") is not None


VERB_CASES = [  # user, method, path, body, allowed
    ("bob", "GET", "/api/v1/namespaces/shop/pods", None, True),                       # list
    ("bob", "GET", "/api/v1/namespaces/shop/pods?watch=1&timeoutSeconds=1", None, True),
    ("bob", "GET", "/api/v1/namespaces/shop/secrets/api-service-secrets", None, False),
    ("bob", "GET", "/api/v1/namespaces/shop/secrets?watch=true&timeoutSeconds=1", None, False),
    ("bob", "POST", "/api/v1/namespaces/shop/configmaps", {"metadata": {"name": "n"}}, False),
    ("bob", "PUT", "/api/v1/namespaces/shop/configmaps/web-app-config",
     {"metadata": {"name": "web-app-config"}}, False),
    ("bob", "DELETE", "/api/v1/namespaces/shop/configmaps", None, False),  # deletecollection
    ("alice", "POST", "/api/v1/namespaces/shop/configmaps", {"metadata": {"name": "n"}}, True),
    ("alice", "PUT", "/api/v1/namespaces/shop/configmaps/web-app-config",
     {"metadata": {"name": "web-app-config"}}, True),
    ("alice", "DELETE", "/apis/apps/v1/namespaces/shop/deployments/web-app", None, False),
    ("alice", "POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "n"}},
     False),
    ("alice", "GET", "/api/v1/nodes", None, True),
    ("alice", "DELETE", "/api/v1/nodes/node-1", None, False),
]


@pytest.mark.parametrize(("user", "method", "path", "body", "allowed"), VERB_CASES)
def test_rbac_per_verb_class(sandbox: ThreadedSandbox, user: str, method: str, path: str,
                             body: dict | None, allowed: bool) -> None:
    before = sandbox.call(lambda: sandbox.sc.cluster.store.revision)
    if "watch" in path:
        status, _ = _watch_status(sandbox, user, path)
    else:
        status, reply = raw(sandbox, method, path, sandbox.sc.token(user), body=body)
    if allowed:
        assert status in (200, 201), (status, path)
    else:
        assert status == 403, (status, path)
        if "watch" not in path:
            assert reply["reason"] == "Forbidden" and f'User "{user}"' in reply["message"]
        assert sandbox.call(lambda: sandbox.sc.cluster.store.revision) == before


def _watch_status(sandbox: ThreadedSandbox, user: str, path: str) -> tuple[int, str]:
    parts = urlsplit(sandbox.sc.url)
    context = ssl.create_default_context(cadata=sandbox.sc.ca_pem.decode())
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=10)
    conn.request("GET", path, headers={"Authorization": f"Bearer {sandbox.sc.token(user)}"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, text


def test_kubectl_with_a_bad_token_is_unauthorized(sandbox: ThreadedSandbox, tmp_path) -> None:
    config = yaml.safe_load(sandbox.sc.kubeconfig.read_text())
    for user in config["users"]:
        user["user"]["token"] = "forged"
    forged = tmp_path / "forged"
    forged.write_text(yaml.safe_dump(config))
    result = subprocess.run([kubectl_binary(), "--kubeconfig", str(forged), "--cache-dir",
                             str(tmp_path / "c"), "get", "pods", "-n", "shop"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "You must be logged in to the server" in result.stderr
