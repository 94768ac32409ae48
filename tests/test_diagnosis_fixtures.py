"""One sandbox fixture per finding code (and a few combined ones), diagnosed end to end: the
fixture is served by the sandbox cluster, read as a user through the Kubernetes API, and the
findings must be exactly the expected root cause with its resource, severity and fix.  The
healthy fixtures (one per area, each a near miss of that area's broken ones) yield nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import credentials
from tools.analysis.diagnosis import diagnose
from tools.analysis.findings import Finding
from tools.kube.client import UserCluster, api_client
from tools.security import SecurityContext
from tools.spec import ToolEnv

FIXTURES = Path(__file__).parent / "fixtures" / "diagnosis"

# fixture file -> (code, kind, name, words of the fix, words of the evidence)
EXPECTED = {
    "OOMKilled": ("OOMKilled", "Deployment", "worker", "raise the memory limit to 512Mi",
                  "metrics peak memory=300Mi"),
    "CrashLoopBackOff": ("CrashLoopBackOff", "Deployment", "api", "previous container's logs",
                         "restartCount=4"),
    "ImagePullBackOff": ("ImagePullBackOff", "Deployment", "web", "image name and tag",
                         "not found"),
    "ImagePullBackOff-daemonset": ("ImagePullBackOff", "DaemonSet", "log-agent",
                                   "registry credentials", "ErrImagePull manifest unknown"),
    "CreateContainerConfigError": ("CreateContainerConfigError", "Deployment", "web",
                                   "create the missing ConfigMap", "CreateContainerConfigError"),
    "Unschedulable": ("Unschedulable", "Deployment", "batch", "lower the pod's requests "
                      "(memory)", "Insufficient memory"),
    "Unschedulable-taints": ("Unschedulable", "Deployment", "batch", "add a matching "
                             "toleration", "untolerated taint"),
    "Unschedulable-selector": ("Unschedulable", "Deployment", "batch", "fix the pod's "
                               "nodeSelector/affinity", "node affinity/selector"),
    "ReadinessProbeFailing": ("ReadinessProbeFailing", "Deployment", "web", "probe path/port",
                              "ready=false"),
    "LivenessProbeRestarts": ("LivenessProbeRestarts", "Deployment", "web", "relax the probe",
                              "restartCount=5"),
    "ServiceNoEndpoints": ("ServiceNoEndpoints", "Service", "shop", "fix the selector",
                           "ingress public routes shop.example.com/ to it"),
    "ServicePortMismatch": ("ServicePortMismatch", "Service", "web", "set targetPort",
                            "targetPort=9090"),
    "RolloutStuck": ("RolloutStuck", "Deployment", "web", "roll back", "timed out progressing"),
    "QuotaExceeded": ("QuotaExceeded", "ResourceQuota", "team", "raise the quota",
                      "pods: used 10, hard 10"),
    "HPAAtMaxReplicas": ("HPAAtMaxReplicas", "HorizontalPodAutoscaler", "api",
                         "raise maxReplicas", "currentReplicas=5 maxReplicas=5"),
    "CPUThrottlingRisk": ("CPUThrottlingRisk", "Deployment", "api", "add a replica (1 → 2)",
                          "cpu 470m of limit 500m"),
    "MemoryNearLimit": ("MemoryNearLimit", "Deployment", "api", "raise the memory limit",
                        "memory 245Mi of limit 256Mi"),
    "NodeNotReady": ("NodeNotReady", "Node", "node-2", "kubelet", "Ready=False"),
    "NodePressure": ("NodePressure", "Node", "node-2", "free resources", "DiskPressure=True"),
    "JobBackoffLimitExceeded": ("JobBackoffLimitExceeded", "Job", "migrate", "re-run the job",
                                "backoff limit"),
    "CronJobSuspendedOrMissed": ("CronJobSuspendedOrMissed", "CronJob", "report",
                                 "unsuspend it", "spec.suspend=true"),
    "CronJobSuspendedOrMissed-missed": ("CronJobSuspendedOrMissed", "CronJob", "report",
                                        "startingDeadlineSeconds",
                                        "lastScheduleTime=2025-01-01T03:00:00Z"),
    "InitContainerFailing": ("InitContainerFailing", "Deployment", "app", "read its logs",
                             "init migrate exit 2"),
    "EvictedPods": ("EvictedPods", "Deployment", "app", "delete the evicted pods",
                    "status.reason=Evicted"),
    "ErrorsInLogs": ("ErrorsInLogs", "Deployment", "api", "failing dependency",
                     "FATAL giving up after 3 attempts"),
    "CannotCreatePods-quota": ("CannotCreatePods", "Deployment", "web",
                               "raise ResourceQuota compute-quota limits.memory to at least "
                               "5.5Gi", "ResourceQuota compute-quota limits.memory: used "
                               "3584Mi of 4Gi; each new pod requests 1Gi"),
    "CannotCreatePods-limitrange": ("CannotCreatePods", "Deployment", "web",
                                    "set limits.memory to 512Mi on app",
                                    "LimitRange mem-limits: Container max memory=512Mi"),
    "CannotCreatePods-podsecurity": ("CannotCreatePods", "StatefulSet", "db",
                                     "securityContext.runAsNonRoot=true",
                                     'violates PodSecurity "restricted:latest"'),
    "WorkloadUnavailable": ("WorkloadUnavailable", "Deployment", "web", "kubectl describe "
                            "deployment web", "desired 3, available 1"),
    "WorkloadUnavailable-statefulset": ("WorkloadUnavailable", "StatefulSet", "db",
                                        "kubectl describe statefulset db",
                                        "desired 2, available 0"),
    "PVCPending": ("PVCPending", "PersistentVolumeClaim", "data-db-0", "StorageClass fast does "
                   "not exist", "pod db-0 PodScheduled=False"),
    "PVCPending-no-volume": ("PVCPending", "PersistentVolumeClaim", "data",
                             "no PersistentVolume matches the claim (5Gi",
                             "no persistent volumes available for this claim"),
    "PVCLost": ("PVCLost", "PersistentVolumeClaim", "data", "restore the PersistentVolume",
                "spec.volumeName=pv-data-1"),
    "PersistentVolumeReleased": ("PersistentVolumeReleased", "PersistentVolume", "pv-old",
                                 "clear its claimRef", "claimRef t/old-data"),
    "PersistentVolumeFailed": ("PersistentVolumeFailed", "PersistentVolume", "pv-broken",
                               "clean up its backing storage", "status.phase=Failed"),
    "IngressClassMissing": ("IngressClassMissing", "Ingress", "public", "nginx",
                            "ingressClassName=nginx-internal"),
    "IngressBackendMissing": ("IngressBackendMissing", "Ingress", "public",
                              "create Service shop", "service shop does not exist"),
    "IngressBackendMissing-port": ("IngressBackendMissing", "Ingress", "public",
                                   "use one of Service web's ports (http:80)",
                                   "port 8080, which it does not have"),
    "WebhookServiceMissing": ("WebhookServiceMissing", "ValidatingWebhookConfiguration",
                              "policy-guard", "restore Service guard",
                              "service t/guard (does not exist)"),
    "PDBBlocksDrain": ("PDBBlocksDrain", "PodDisruptionBudget", "web", "lower minAvailable "
                       "below 2", "disruptionsAllowed=0, currentHealthy=2"),
    "NetworkPolicyIsolates": ("NetworkPolicyIsolates", "Service", "web",
                              "add an ingress rule", "NetworkPolicy deny-all"),
}
SEVERITY = {"CannotCreatePods": "critical", "WorkloadUnavailable": "warning",
            "WorkloadUnavailable-statefulset": "critical", "PVCPending": "critical",
            "PVCLost": "critical", "PersistentVolumeReleased": "warning",
            "PersistentVolumeFailed": "warning", "IngressClassMissing": "critical",
            "IngressBackendMissing": "critical", "WebhookServiceMissing": "critical",
            "PDBBlocksDrain": "warning", "NetworkPolicyIsolates": "warning"}
QUIET = ["healthy", "healthy-admission", "healthy-workloads", "healthy-storage",
         "healthy-network"]
def test_every_code_and_fixture_is_covered() -> None:
    files = {p.stem for p in FIXTURES.glob("*.yaml")} - {"_base"}
    assert files == set(EXPECTED) | set(QUIET) | {"combined-crashloop-behind-service"}
    from tools.analysis import diagnosis
    assert {c for c, *_ in EXPECTED.values()} >= diagnosis.POD_LEVEL


def served(name: str, tmp_path: Path) -> ThreadedSandbox:
    fixture = tmp_path / f"{name}.yaml"
    fixture.write_text((FIXTURES / "_base.yaml").read_text() + "\n" +
                       (FIXTURES / f"{name}.yaml").read_text())
    sandbox = ThreadedSandbox(fixture, tmp_path, pod_start_delay=0.05, job_run_seconds=0.1)
    sandbox.start()
    sandbox.settle(0.1)
    return sandbox


@pytest.fixture
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadedSandbox]:
    sandbox = served(request.param, tmp_path)
    yield sandbox
    sandbox.stop()


async def findings(sandbox: ThreadedSandbox) -> list[Finding]:
    creds = credentials(sandbox, "carol")
    ctx = SecurityContext("U0CAROL", "hxb-carol", "carol", ("admins",), "lab", ("t",), "t", (),
                          False, creds)
    found, unreadable = await diagnose(ToolEnv(ctx, UserCluster(api_client(creds), creds)), "t")
    assert unreadable == []
    return found


@pytest.mark.parametrize("cluster", sorted(EXPECTED), indirect=True)
async def test_one_fixture_per_code(cluster: ThreadedSandbox,
                                    request: pytest.FixtureRequest) -> None:
    fixture = request.node.callspec.params["cluster"]
    code, kind, name, fix, evidence = EXPECTED[fixture]
    found = await findings(cluster)
    assert [(f.code, f.kind, f.name) for f in found] == [(code, kind, name)], [
        f.text() for f in found]
    assert found[0].severity == SEVERITY.get(fixture, SEVERITY.get(code, found[0].severity))
    assert fix in found[0].fix, found[0].fix
    assert any(evidence in e for e in found[0].evidence), found[0].evidence


@pytest.mark.parametrize("cluster", QUIET, indirect=True)
async def test_the_healthy_fixtures_have_no_findings(cluster: ThreadedSandbox) -> None:
    assert [f.text() for f in await findings(cluster)] == []


@pytest.mark.parametrize("cluster", ["combined-crashloop-behind-service"], indirect=True)
async def test_one_root_cause_is_one_story(cluster: ThreadedSandbox) -> None:
    [story] = await findings(cluster)
    assert (story.code, story.kind, story.name) == ("CrashLoopBackOff", "Deployment", "api")
    assert sorted(s.split(" ")[0] for s in story.symptoms) == [
        "ErrorsInLogs", "RolloutStuck", "ServiceNoEndpoints"]
    assert "api-7f6d5c4b3-zzzzz: FATAL configuration invalid, exiting" in story.evidence
