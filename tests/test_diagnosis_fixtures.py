"""One sandbox fixture per finding code (and a few combined ones), diagnosed end to end: the
fixture is served by the sandbox cluster, read as a user through the Kubernetes API, and the
findings must be exactly the expected root cause with its resource and fix.  The healthy
fixture yields nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import credentials
from tools.analysis.engine import diagnose
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
}


def test_every_code_and_fixture_is_covered() -> None:
    files = {p.stem for p in FIXTURES.glob("*.yaml")} - {"_base"}
    assert files == set(EXPECTED) | {"healthy", "combined-crashloop-behind-service"}
    from tools.analysis import engine
    assert {c for c, *_ in EXPECTED.values()} >= engine.POD_LEVEL


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
    code, kind, name, fix, evidence = EXPECTED[request.node.callspec.params["cluster"]]
    found = await findings(cluster)
    assert [(f.code, f.kind, f.name) for f in found] == [(code, kind, name)], [
        f.text() for f in found]
    assert fix in found[0].fix, found[0].fix
    assert any(evidence in e for e in found[0].evidence), found[0].evidence


@pytest.mark.parametrize("cluster", ["healthy"], indirect=True)
async def test_the_healthy_fixture_has_no_findings(cluster: ThreadedSandbox) -> None:
    assert [f.text() for f in await findings(cluster)] == []


@pytest.mark.parametrize("cluster", ["combined-crashloop-behind-service"], indirect=True)
async def test_one_root_cause_is_one_story(cluster: ThreadedSandbox) -> None:
    [story] = await findings(cluster)
    assert (story.code, story.kind, story.name) == ("CrashLoopBackOff", "Deployment", "api")
    assert sorted(s.split(" ")[0] for s in story.symptoms) == [
        "ErrorsInLogs", "RolloutStuck", "ServiceNoEndpoints"]
    assert "api-7f6d5c4b3-zzzzz: FATAL configuration invalid, exiting" in story.evidence
