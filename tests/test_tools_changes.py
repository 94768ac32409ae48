"""recent_changes against the sandbox: scaling, ConfigMap and Secret edits (managedFields
times), rollouts and rollbacks (ReplicaSet revisions), warnings, and Hexabot's own changes
through the audit-history hook; newest first, bounded, and only what the user may see."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import errors, registry
from tools.audit import AuditEvent
from tools.kube.client import METADATA_ONLY
from tools.reads.changes import Scaling, deployment_changes
from tools.reads.rollouts import Revision
from tools.security import SecurityContext

ALICE = ("developers", "shop-team")
DEPLOY = "/apis/apps/v1/namespaces/shop/deployments"
STRATEGIC = "application/strategic-merge-patch+json"


async def changes(env, **args) -> tuple[str, list[dict]]:  # type: ignore[no-untyped-def]
    result = await registry.run(registry.get("recent_changes"), env, args)
    assert len(result.text.encode()) <= 4096
    return result.text, result.data["changes"]


def lines(text: str) -> list[str]:
    """The change lines without their time prefix: "kind object: text"."""
    return [line.split(" ago) ", 1)[1] for line in text.splitlines() if " ago) " in line]


async def test_a_fresh_cluster_has_no_recent_changes(sandbox: ThreadedSandbox) -> None:
    text, found = await changes(env_for(sandbox, "bob"))
    assert found == []
    assert text.splitlines()[0] == "no changes in shop in the last 1 hour(s)"
    assert "(not visible to you, so not checked: secrets)" in text  # bob may not list them
    assert "no audit history is connected" in text


async def test_a_scale_shows_as_a_replica_change(sandbox: ThreadedSandbox) -> None:
    env = env_for(sandbox, "alice", impersonate=ALICE)
    plan = await registry.plan(registry.get("scale_deployment"), env,
                               {"name": "web-app", "replicas": 5})
    await registry.execute(env, plan)
    sandbox.settle(0.2)
    text, found = await changes(env_for(sandbox, "bob"), name="web-app")
    assert lines(text) == [
        "scale deployment/web-app: replicas 3 → 5 (ReplicaSet web-app-7c9d8f6b5d)"]
    assert found[0]["kind"] == "scale" and found[0]["object"] == "deployment/web-app"
    assert text.startswith("1 change(s) in shop around web-app in the last 1 hour(s)")


async def test_configmap_and_secret_edits_name_their_manager_and_readers(
        sandbox: ThreadedSandbox) -> None:
    for kind, body in (("configmap", '{"data":{"LOG_LEVEL":"debug"}}'),
                       ("secret", '{"stringData":{"DB_PASSWORD":"hunter2-new"}}')):
        result = sandbox.kubectl("carol", "patch", kind, f"api-service-{kind}"
                                 .replace("configmap", "config").replace("secret", "secrets"),
                                 "-n", "shop", "-p", body)
        assert result.returncode == 0, result.stderr
    cm = sandbox.obj("", "v1", "configmaps", "shop", "api-service-config")
    assert cm is not None
    [entry] = cm["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsV1"]) == (
        "kubectl-patch", "Update", {"f:data": {"f:LOG_LEVEL": {}}})
    assert datetime.fromisoformat(entry["time"]) <= datetime.now(UTC)
    text, _ = await changes(env_for(sandbox, "carol"), name="api-service")
    assert set(lines(text)) == {
        "config configmap/api-service-config: changed by kubectl-patch; read by "
        "deployment/api-service",
        "config secret/api-service-secrets: changed by kubectl-patch; read by "
        "deployment/api-service"}
    assert "hunter2" not in text and "debug" not in text  # names and times, never values
    listed = await env_for(sandbox, "carol").cluster.call(
        "GET", "/api/v1/namespaces/shop/secrets", accept=METADATA_ONLY)  # as the tool lists
    assert listed["kind"] == "PartialObjectMetadataList"
    assert {"metadata"} == {key for item in listed["items"] for key in item} - {
        "kind", "apiVersion"}  # no data: Secret values never reach Hexabot
    # a ConfigMap nobody reads, changed by Hexabot's own tool
    alice = env_for(sandbox, "alice", impersonate=ALICE)
    plan = await registry.plan(registry.get("update_configmap"), alice,
                               {"name": "web-app-config", "set": {"CACHE_TTL_SECONDS": "60"}})
    await registry.execute(alice, plan)
    text, found = await changes(env_for(sandbox, "bob"))
    [web] = [c for c in found if c["object"] == "configmap/web-app-config"]
    assert web["text"] == "changed by OpenAPI-Generator"  # the Kubernetes client's User-Agent
    assert not any("secret/" in c["object"] for c in found)  # bob cannot list Secrets


def test_the_sandbox_keeps_managed_fields_as_the_api_server_does(
        sandbox: ThreadedSandbox) -> None:
    """Each write through the API records its manager, the fields it set and when; a field set
    by another manager moves to it; a no-op write changes nothing."""
    def entries() -> list[tuple[str, str, dict, str]]:
        cm = sandbox.obj("", "v1", "configmaps", "shop", "web-app-config")
        assert cm is not None
        return [(e["manager"], e["operation"], e["fieldsV1"], e["time"])
                for e in cm["metadata"].get("managedFields") or []]

    assert entries() == []  # seeded objects carry only what their fixture says
    patch = ["patch", "configmap", "web-app-config", "-n", "shop", "-p"]
    assert sandbox.kubectl("carol", *patch, '{"data":{"A":"1","B":"2"}}').returncode == 0
    [(manager, operation, fields, _)] = entries()
    assert (manager, operation, fields) == ("kubectl-patch", "Update",
                                            {"f:data": {"f:A": {}, "f:B": {}}})
    applied = sandbox.kubectl("carol", "apply", "--server-side", "--field-manager=ci", "-f",
                              "-", "-n", "shop", stdin="apiVersion: v1\nkind: ConfigMap\n"
                              "metadata: {name: web-app-config}\ndata: {B: '3'}\n")
    assert applied.returncode == 0, applied.stderr
    assert [e[:3] for e in entries()] == [
        ("kubectl-patch", "Update", {"f:data": {"f:A": {}}}),
        ("ci", "Apply", {"f:data": {"f:B": {}}})]
    before = entries()
    assert sandbox.kubectl("carol", *patch, '{"data":{"A":"1"}}').returncode == 0
    assert entries() == before


async def test_a_rollout_and_its_rollback(sandbox: ThreadedSandbox) -> None:
    carol = env_for(sandbox, "carol")
    await carol.cluster.call("PATCH", f"{DEPLOY}/web-app", body={"spec": {"template": {
        "spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
        content_type=STRATEGIC)
    sandbox.settle(0.2)
    text, _ = await changes(env_for(sandbox, "bob"), name="web-app")
    [rollout] = lines(text)
    assert rollout.startswith("rollout deployment/web-app: revision 2: new ReplicaSet "
                              "web-app-"), text
    assert rollout.endswith(", web=nginx:1.28; current"), text  # no separate scale steps
    new_rs = rollout.split("ReplicaSet ")[1].split(",")[0]
    scaled = sandbox.kubectl("carol", "scale", "deployment/web-app", "--replicas=4", "-n",
                             "shop")  # once the rollout is done, a scale is a scale
    assert scaled.returncode == 0, scaled.stderr
    sandbox.settle(0.2)
    alice = env_for(sandbox, "alice", impersonate=ALICE)
    plan = await registry.plan(registry.get("rollback_deployment"), alice, {"name": "web-app"})
    await registry.execute(alice, plan)
    sandbox.settle(0.2)
    text, found = await changes(env_for(sandbox, "bob"), name="web-app")
    assert set(lines(text)) == {
        rollout.removesuffix("; current"),
        f"scale deployment/web-app: replicas 3 → 4 (ReplicaSet {new_rs})",
        "rollout deployment/web-app: revision 3: back to the template of revision 1 "
        "(ReplicaSet web-app-7c9d8f6b5d, web=nginx:1.27; current)"}, text
    assert [c["at"] for c in found] == sorted((c["at"] for c in found), reverse=True)


async def test_warnings_and_rescales_merged_and_bounded(sandbox: ThreadedSandbox) -> None:
    carol = env_for(sandbox, "carol")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(40):
        await carol.cluster.call("POST", "/api/v1/namespaces/shop/events", body={
            "metadata": {"name": f"probe.{i}"}, "type": "Warning", "reason": "Unhealthy",
            "message": f"Readiness probe failed {i % 35}: " + "x" * 150, "count": 2,
            "lastTimestamp": now, "involvedObject": {
                "kind": "Pod", "name": "web-app-7c9d8f6b5d-x2k9p", "namespace": "shop"}})
    await carol.cluster.call("POST", "/api/v1/namespaces/shop/events", body={
        "metadata": {"name": "api-service.rescale"}, "type": "Normal",
        "reason": "SuccessfulRescale", "lastTimestamp": now,
        "message": "New size: 4; reason: cpu resource utilization (percentage of request) "
                   "above target", "involvedObject": {
                       "kind": "HorizontalPodAutoscaler", "name": "api-service",
                       "namespace": "shop"}})
    result = await registry.run(registry.get("recent_changes"), env_for(sandbox, "bob"),
                                {"name": "web-app"})
    assert len(result.data["changes"]) == 35  # 40 events, 35 distinct messages
    assert result.truncated and len(result.text.encode()) <= 4096
    shown = lines(result.text)
    assert shown[0].startswith("warning pod/web-app-7c9d8f6b5d-x2k9p: Unhealthy: Readiness "
                               "probe failed ")
    assert f"+{35 - len(shown)} more (narrow with name=… or fewer since_minutes)" \
        in result.text  # what did not fit is counted, not silently dropped
    assert result.text.endswith("no audit history is connected)")
    assert any(line.endswith(" (×4)") for line in shown)  # two events x count 2
    other, _ = await changes(env_for(sandbox, "bob"), name="api-service")
    assert lines(other) == ["scale hpa/api-service: New size: 4; reason: cpu resource "
                            "utilization (percentage of request) above target"]


def test_rollout_steps_within_one_second_are_told_from_scaling() -> None:
    """Rollout, scale and rollback in the same second (as the sandbox does them): the event
    order (resourceVersion) tells the steps of each rollout from the change of replicas."""
    at = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def rs(name: str, revision: str, replicas: int, created: str, history: str = "") -> Revision:
        notes = {"deployment.kubernetes.io/revision": revision} | (
            {"deployment.kubernetes.io/revision-history": history} if history else {})
        return Revision(int(revision), {
            "metadata": {"name": name, "creationTimestamp": created, "annotations": notes},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": f"nginx:{name}"}]}}}})

    deployment = {"metadata": {"name": "web", "annotations": {
        "deployment.kubernetes.io/revision": "3"}}, "spec": {}}
    revisions = [rs("new", "2", 0, stamp), rs("old", "3", 4, "2026-11-20T08:00:00Z", "1")]
    scaled = [Scaling(at, order, name, before, after) for order, name, before, after in (
        (1, "new", 0, 3), (2, "old", 3, 0),   # the rollout to new
        (3, "new", 3, 4),                     # a scale
        (4, "old", 0, 4), (5, "new", 4, 0))]  # the rollback to old
    found = deployment_changes(deployment, revisions, scaled, at)
    assert sorted(c.text.split(" (")[0] for c in found) == [
        "replicas 3 → 4", "revision 2: new ReplicaSet new, web=nginx:new",
        "revision 3: back to the template of revision 1"]


class Audit:
    """An :class:`tools.audit.AuditHistory` with fixed events (what a door would wire)."""

    def __init__(self, events: Sequence[AuditEvent]) -> None:
        self.events = events
        self.asked: list[tuple[str, str, datetime]] = []

    async def executed(self, ctx: SecurityContext, namespace: str,
                       since: datetime) -> Sequence[AuditEvent]:
        self.asked.append((ctx.slack_id, namespace, since))
        return self.events


async def test_hexabots_own_changes_come_from_the_audit_history(
        sandbox: ThreadedSandbox) -> None:
    now = datetime.now(UTC).isoformat()
    audit = Audit([
        AuditEvent(kind="confirmation.result", actor="U0ALICE", outcome="ok", namespace="shop",
                   resource_kind="Deployment", resource_name="web-app", approver="U0CAROL",
                   detail={"tool": "restart"}, at=now),
        AuditEvent(kind="confirmation.result", actor="U0ALICE", outcome="error",
                   namespace="shop", resource_kind="ConfigMap", resource_name="other",
                   error="conflict", detail={"tool": "update_configmap"}, at=now)])
    env = env_for(sandbox, "bob", audit_history=audit)
    text, _ = await changes(env, name="web-app", since_minutes=30)
    assert lines(text) == ["hexabot deployment/web-app: restart by U0ALICE, approved by U0CAROL"]
    assert "no audit history" not in text
    assert audit.asked[0][:2] == ("U0BOB", "shop")
    text, _ = await changes(env)
    assert "hexabot configmap/other: update_configmap by U0ALICE (error: conflict)" in lines(text)


async def test_arguments_are_checked(sandbox: ThreadedSandbox) -> None:
    env = env_for(sandbox, "bob")
    for bad, message in (({"since_minutes": 0}, "greater than or equal to 1"),
                         ({"since_minutes": 10081}, "less than or equal to 10080"),
                         ({"name": "Web_App"}, "String should match pattern"),
                         ({"namespace": "kube-system"}, "'kube-system' is not one of yours")):
        with pytest.raises(errors.InvalidArguments, match=message):
            await changes(env, **bad)
    bot = env_for(sandbox, "hexabot")
    with pytest.raises(errors.Forbidden, match='User "hexabot" cannot list'):
        await changes(bot)
    assert bot.cluster.calls == 1
