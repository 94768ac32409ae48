"""Authentication, RBAC, impersonation and access reviews, with the official client and kubectl."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.sandbox_support import ThreadedSandbox, raw

POD = "web-app-7c9d8f6b5d-x2k9p"


def _forbidden(exc: ApiException) -> str:
    assert exc.status == 403
    status = json.loads(exc.body)
    assert status["kind"] == "Status" and status["reason"] == "Forbidden"
    return str(status["message"])


def test_no_or_unknown_token_is_401(sandbox: ThreadedSandbox) -> None:
    assert raw(sandbox, "GET", "/api/v1/namespaces/shop/pods", None)[0] == 401
    status, body = raw(sandbox, "GET", "/api/v1/namespaces/shop/pods", "wrong")
    assert status == 401 and body["reason"] == "Unauthorized"


def test_viewer_reads_but_cannot_write(sandbox: ThreadedSandbox) -> None:
    core = client.CoreV1Api(sandbox.api("bob"))
    assert core.read_namespaced_pod(POD, "shop").metadata.name == POD
    assert len(core.list_namespaced_pod("shop").items) == 6
    before = sandbox.obj("", "v1", "pods", "shop", POD)
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_pod(POD, "shop")
    assert _forbidden(info.value) == (
        f'pods "{POD}" is forbidden: User "bob" cannot delete resource "pods" in API group "" '
        'in the namespace "shop"')
    assert sandbox.obj("", "v1", "pods", "shop", POD) == before  # nothing changed
    with pytest.raises(ApiException) as info:
        client.AppsV1Api(sandbox.api("bob")).patch_namespaced_deployment_scale(
            "web-app", "shop", {"spec": {"replicas": 9}})
    assert _forbidden(info.value) == (
        'deployments.apps "web-app" is forbidden: User "bob" cannot patch resource '
        '"deployments/scale" in API group "apps" in the namespace "shop"')
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 3
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map("shop", {"metadata": {"name": "x"}})
    assert _forbidden(info.value) == (
        'configmaps is forbidden: User "bob" cannot create resource "configmaps" in API group '
        '"" in the namespace "shop"')
    with pytest.raises(ApiException) as info:
        core.list_namespaced_secret("shop")
    assert "cannot list resource \"secrets\"" in _forbidden(info.value)
    with pytest.raises(ApiException) as info:
        core.create_namespace({"metadata": {"name": "new"}})
    assert _forbidden(info.value).endswith("at the cluster scope")


def test_subresource_rules(sandbox: ThreadedSandbox) -> None:
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(sandbox.api("bob")).read_namespaced_pod_log(POD, "shop")
    assert 'cannot get resource "pods/log" in API group "" in the namespace "shop"' in \
        _forbidden(info.value)
    assert client.CoreV1Api(sandbox.api("alice")).read_namespaced_pod_log(POD, "shop")
    denied = sandbox.kubectl("bob", "logs", "-n", "shop", POD)
    assert denied.returncode == 1 and "Error from server (Forbidden)" in denied.stderr
    # alice may patch the scale subresource but not delete the deployment itself
    scaled = sandbox.kubectl("alice", "scale", "deploy/web-app", "-n", "shop", "--replicas=4")
    assert scaled.returncode == 0, scaled.stderr
    deleted = sandbox.kubectl("alice", "delete", "deploy/web-app", "-n", "shop")
    assert deleted.returncode == 1 and (
        'User "alice" cannot delete resource "deployments" in API group "apps"' in deleted.stderr)


def test_resource_names_rules(sandbox: ThreadedSandbox) -> None:
    carol = sandbox.api("carol")
    client.CoreV1Api(carol).create_namespace({"metadata": {"name": "team-x"}})
    for name in ("named", "other"):
        client.CoreV1Api(carol).create_namespaced_config_map(
            "team-x", {"metadata": {"name": name}, "data": {"X": "0"}})
    admin = client.RbacAuthorizationV1Api(carol)
    admin.create_namespaced_role("team-x", {"metadata": {"name": "one-cm"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "update", "list"],
         "resourceNames": ["named"]}]})
    admin.create_namespaced_role_binding("team-x", {
        "metadata": {"name": "bob-one-cm"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "one-cm"},
        "subjects": [{"kind": "User", "name": "bob"}]})
    core = client.CoreV1Api(sandbox.api("bob"))
    core.replace_namespaced_config_map("named", "team-x", {
        "metadata": {"name": "named"}, "data": {"X": "1"}})
    assert sandbox.obj("", "v1", "configmaps", "team-x", "named")["data"] == {"X": "1"}
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map("other", "team-x", {
            "metadata": {"name": "other"}, "data": {}})
    assert 'configmaps "other" is forbidden' in _forbidden(info.value)
    assert sandbox.obj("", "v1", "configmaps", "team-x", "other")["data"] == {"X": "0"}
    with pytest.raises(ApiException) as info:  # resourceNames never grant list
        core.list_namespaced_config_map("team-x")
    assert 'User "bob" cannot list resource "configmaps"' in _forbidden(info.value)


def test_impersonation_with_two_groups(sandbox: ThreadedSandbox) -> None:
    bot = sandbox.sc.token("hexabot")
    path = "/apis/apps/v1/namespaces/shop/deployments/web-app/scale"
    as_alice = [("Impersonate-User", "alice"), ("Impersonate-Group", "developers"),
                ("Impersonate-Group", "shop-team")]
    status, body = raw(sandbox, "GET", path, bot, as_alice)
    assert status == 200 and body["spec"]["replicas"] == 3
    # only the second group (shop-team) grants anything in shop: with the first alone, 403
    status, body = raw(sandbox, "GET", path, bot, as_alice[:2])
    assert status == 403 and body["message"].startswith(
        'deployments.apps "web-app" is forbidden: User "alice" cannot get resource '
        '"deployments/scale"')
    # kubectl sends --as-group as repeated headers too
    scaled = sandbox.kubectl("hexabot", "scale", "deploy/web-app", "-n", "shop",
                             "--replicas=4", "--as=alice", "--as-group=developers",
                             "--as-group=shop-team")
    assert scaled.returncode == 0, scaled.stderr
    assert sandbox.obj("apps", "v1", "deployments", "shop", "web-app")["spec"]["replicas"] == 4


def test_impersonation_needs_the_impersonate_verb(sandbox: ThreadedSandbox) -> None:
    bot = sandbox.sc.token("hexabot")
    status, body = raw(sandbox, "GET", "/api/v1/namespaces/shop/pods", bot,
                       [("Impersonate-User", "mallory")])
    assert status == 403 and body["message"] == (
        'users "mallory" is forbidden: User "hexabot" cannot impersonate resource "users" in '
        'API group "" at the cluster scope')
    status, body = raw(sandbox, "GET", "/api/v1/namespaces/shop/pods", bot,
                       [("Impersonate-User", "alice"), ("Impersonate-Group", "system:masters")])
    assert status == 403 and 'groups "system:masters" is forbidden' in body["message"]
    status, body = raw(sandbox, "GET", "/api/v1/namespaces/shop/pods",
                       sandbox.sc.token("alice"), [("Impersonate-User", "carol")])
    assert status == 403 and 'User "alice" cannot impersonate' in body["message"]
    # the bot as itself can do nothing but impersonate and ask access reviews
    status, body = raw(sandbox, "GET", "/api/v1/namespaces/shop/pods", bot)
    assert status == 403 and 'User "hexabot" cannot list resource "pods"' in body["message"]


def test_self_subject_access_review(sandbox: ThreadedSandbox) -> None:
    authz = client.AuthorizationV1Api(sandbox.api("alice"))
    review = {"spec": {"resourceAttributes": {
        "namespace": "shop", "verb": "patch", "group": "apps", "resource": "deployments",
        "subresource": "scale", "name": "web-app"}}}
    first = authz.create_self_subject_access_review(review)
    again = authz.create_self_subject_access_review(review)  # nothing is stored: no 409
    assert first.status.allowed is True and again.status.allowed is True
    denied = authz.create_self_subject_access_review({"spec": {"resourceAttributes": {
        "namespace": "default", "verb": "patch", "group": "apps", "resource": "deployments",
        "subresource": "scale"}}})
    assert denied.status.allowed is False


def test_subject_access_review(sandbox: ThreadedSandbox) -> None:
    bot = client.AuthorizationV1Api(sandbox.api("hexabot"))
    attrs = {"namespace": "shop", "verb": "patch", "group": "apps", "resource": "deployments",
             "subresource": "scale"}
    allowed = bot.create_subject_access_review({"spec": {
        "user": "alice", "groups": ["developers", "shop-team"], "resourceAttributes": attrs}})
    assert allowed.status.allowed is True
    assert allowed.spec.user == "alice"
    denied = bot.create_subject_access_review({"spec": {
        "user": "bob", "groups": ["viewers"], "resourceAttributes": attrs}})
    assert denied.status.allowed is False
    with pytest.raises(ApiException) as info:
        client.AuthorizationV1Api(sandbox.api("bob")).create_subject_access_review({"spec": {
            "user": "alice", "resourceAttributes": attrs}})
    assert 'cannot create resource "subjectaccessreviews"' in _forbidden(info.value)
