"""The diagnosis engine: stable codes with resource, evidence and fix; one story per root cause;
healthy namespaces yield nothing.  Unit cases run the analyzers on snapshots; the demo cluster
runs end to end through the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.confirm_support import cli_env
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools.analysis.diagnosis import analyse, diagnose
from tools.analysis.snapshot import Snapshot

LABELS = {"app": "api"}


def pod(name: str = "api-1", status: dict[str, Any] | None = None,
        limits: dict[str, str] | None = None, ports: list[int] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "labels": LABELS},
            "spec": {"containers": [{"name": "app", "image": "api:1", "resources": {
                "limits": limits or {"cpu": "500m", "memory": "256Mi"}},
                "ports": [{"containerPort": p} for p in ports or [8080]]}]},
            "status": status or {"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}]}}


DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment",
          "metadata": {"name": "api", "namespace": "ns"},
          "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": {
              "metadata": {"labels": LABELS}, "spec": {"containers": [
                  {"name": "app", "image": "api:1",
                   "resources": {"limits": {"memory": "256Mi"}}}]}}}}


def snap(**items: list[dict[str, Any]]) -> Snapshot:
    return Snapshot("ns", {"deployments": [DEPLOY], **items})


def codes(snapshot: Snapshot) -> list[tuple[str, str, str]]:
    return [(f.code, f.kind, f.name) for f in analyse(snapshot)]


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"phase": "Pending", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}}}]}


def test_healthy_namespace_has_no_findings() -> None:
    assert codes(snap(pods=[pod()], services=[{
        "metadata": {"name": "api"}, "spec": {"selector": LABELS, "ports": [
            {"port": 80, "targetPort": 8080}]}}], endpoints=[{
        "metadata": {"name": "api"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]}])) == []


@pytest.mark.parametrize(("status", "code", "fix"), [
    (waiting("ImagePullBackOff", "not found"), "ImagePullBackOff", "image name and tag"),
    (waiting("CreateContainerConfigError", 'configmap "x" not found'),
     "CreateContainerConfigError", "missing ConfigMap"),
    ({"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
     "CrashLoopBackOff", "previous container's logs"),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                          "reason": "Unschedulable",
                                          "message": "0/3 nodes: Insufficient memory"}]},
     "Unschedulable", "lower the pod's requests"),
    ({"phase": "Failed", "reason": "Evicted", "message": "low on memory"}, "EvictedPods",
     "delete the evicted pods"),
])
def test_pod_codes(status: dict[str, Any], code: str, fix: str) -> None:
    [finding] = analyse(snap(pods=[pod(status=status)]))
    assert (finding.code, finding.kind, finding.name) == (code, "Deployment", "api")
    assert fix in finding.fix and finding.evidence


def test_oom_is_one_story_with_its_symptoms_and_a_ready_plan() -> None:
    crashed = {"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 12,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}
    snapshot = snap(pods=[pod("api-1", crashed), pod("api-2", crashed)],
                    metrics=[{"metadata": {"name": "api-1"}, "containers": [
                        {"name": "app", "usage": {"cpu": "10m", "memory": "300Mi"}}]}],
                    services=[{"metadata": {"name": "api"}, "spec": {
                        "selector": LABELS, "ports": [{"port": 80, "targetPort": 8080}]}}],
                    endpoints=[{"metadata": {"name": "api"}, "subsets": []}])
    [finding] = analyse(snapshot)  # not CrashLoopBackOff, not ServiceNoEndpoints: one story
    assert finding.code == "OOMKilled" and finding.fix == "raise the memory limit to 512Mi " \
        "(or make it use less)"
    assert finding.symptoms and "ServiceNoEndpoints Service api" in finding.symptoms[0]
    assert finding.proposal is not None and finding.proposal["tool"] == "apply_yaml"
    assert "memory: 512Mi" in finding.proposal["args"]["manifest"]


def test_service_workload_node_and_quota_codes() -> None:
    snapshot = snap(
        pods=[pod()],
        services=[{"metadata": {"name": "api"}, "spec": {"selector": LABELS, "ports": [
            {"port": 80, "targetPort": 9999}]}}],
        endpoints=[{"metadata": {"name": "api"}, "subsets": [{"addresses": [{"ip": "x"}]}]}],
        pvcs=[{"metadata": {"name": "data"}, "spec": {"storageClassName": "nope"},
               "status": {"phase": "Pending"}}],
        hpas=[{"metadata": {"name": "api"}, "spec": {"maxReplicas": 3},
               "status": {"currentReplicas": 3}}],
        quotas=[{"metadata": {"name": "q"}, "status": {"hard": {"pods": "10"},
                                                       "used": {"pods": "10"}}}],
        jobs=[{"metadata": {"name": "j"}, "status": {"conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}],
        cronjobs=[{"metadata": {"name": "c"}, "spec": {"suspend": True}}],
        nodes=[{"metadata": {"name": "n1"}, "status": {"conditions": [
            {"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "True"}]}}])
    assert sorted(c for c, _, _ in codes(snapshot)) == sorted([
        "ServicePortMismatch", "PVCPending", "HPAAtMaxReplicas", "QuotaExceeded",
        "JobBackoffLimitExceeded", "CronJobSuspendedOrMissed", "NodeNotReady",
        "NodePressure"])


def test_near_limits() -> None:
    snapshot = snap(pods=[pod()], metrics=[{"metadata": {"name": "api-1"}, "containers": [
        {"name": "app", "usage": {"cpu": "450m", "memory": "240Mi"}}]}])
    found = {f.code: f for f in analyse(snapshot)}
    assert set(found) == {"CPUThrottlingRisk", "MemoryNearLimit"}
    assert found["CPUThrottlingRisk"].proposal == {
        "tool": "scale_deployment", "args": {"name": "api", "replicas": 3}}


async def test_demo_cluster_end_to_end(sandbox: ThreadedSandbox) -> None:
    env = env_for(sandbox, "carol")
    shop, unreadable = await diagnose(env, "shop")
    assert [(f.code, f.name) for f in shop] == [("OOMKilled", "checkout-worker"),
                                                ("CPUThrottlingRisk", "api-service")]
    assert unreadable == []
    for healthy in ("shop-staging", "data"):
        assert (await diagnose(env, healthy))[0] == []
    bob = env_for(sandbox, "bob")  # a viewer: diagnoses what they can read, says what not
    _, hidden = await diagnose(bob, "shop")
    assert "nodes" not in hidden and "events" not in hidden


def test_cli_diagnose_json(clean_env: dict[str, str], database_url: str,
                           sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    env = cli_env(clean_env, database_url, sandbox, tmp_path)
    result = run_cli(["diagnose", "--as", "carol", "--namespace", "shop", "--json"], env,
                     tmp_path)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body[0]["code"] == "OOMKilled"
    assert body[0]["resource"] == {"kind": "Deployment", "namespace": "shop",
                                   "name": "checkout-worker"}
    assert body[0]["proposal"]["tool"] == "apply_yaml"
    assert set(body[0]) == {"code", "severity", "resource", "evidence", "cause", "fix",
                            "proposal"}


def test_errors_in_logs_alone_and_folded_into_a_crash() -> None:
    burst = "\n".join(["INFO ok"] + [f"ERROR db connection refused ({i})" for i in range(4)])
    running = snap(pods=[pod()])
    running.logs["api-1"] = burst
    [finding] = analyse(running)
    assert finding.code == "ErrorsInLogs" and finding.name == "api"
    assert finding.evidence[-1] == "api-1: ERROR db connection refused (3)"
    crashing = snap(pods=[pod(status={"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]})])
    crashing.logs["api-1"] = burst
    [story] = analyse(crashing)  # the crash is the story; the log lines are its evidence
    assert story.code == "CrashLoopBackOff"
    assert "api-1: ERROR db connection refused (3)" in story.evidence
    assert story.symptoms[0].startswith("ErrorsInLogs Deployment api")


def test_a_full_quota_that_refuses_pods_is_one_story() -> None:
    refused = ('pods "api-1" is forbidden: exceeded quota: q, requested: pods=1, used: pods=10, '
               'limited: pods=10')
    deploy = {**DEPLOY, "status": {"replicas": 0, "conditions": [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": refused}]}}
    [story] = analyse(Snapshot("ns", {"deployments": [deploy], "quotas": [
        {"metadata": {"name": "q"}, "status": {"hard": {"pods": "10"},
                                               "used": {"pods": "10"}}}]}))
    assert (story.code, story.name) == ("CannotCreatePods", "api")
    assert "raise ResourceQuota q pods to at least 12" in story.fix
    assert story.symptoms[0].startswith("QuotaExceeded ResourceQuota q")


def test_a_workload_without_status_yet_is_not_judged() -> None:
    assert codes(snap()) == []  # the controller has not observed it: nothing to conclude
