"""Run every analyzer over one snapshot and tell each root cause once.

Correlation: a service with no endpoints, or a stuck rollout, whose pods have a pod-level
finding is a symptom of that finding, not a finding of its own.
"""

from __future__ import annotations

from tools.analysis import snapshot as snapshot_mod
from tools.analysis.analyzers import ANALYZERS, owner
from tools.analysis.findings import SEVERITY_ORDER, Finding
from tools.analysis.snapshot import Snapshot
from tools.spec import ToolEnv

POD_LEVEL = {"OOMKilled", "CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError",
             "Unschedulable", "InitContainerFailing", "ReadinessProbeFailing"}


def correlate(snapshot: Snapshot, findings: list[Finding]) -> list[Finding]:
    causes = {(f.kind, f.name): f for f in findings if f.code in POD_LEVEL}
    kept = []
    for finding in findings:
        cause = None
        if finding.code == "ServiceNoEndpoints":
            service = next(s for s in snapshot["services"]
                           if s["metadata"]["name"] == finding.name)
            selector = (service.get("spec") or {}).get("selector") or {}
            for pod in snapshot["pods"]:
                labels = pod["metadata"].get("labels") or {}
                if all(labels.get(k) == v for k, v in selector.items()):
                    kind, name, _ = owner(snapshot, pod)
                    cause = causes.get((kind, name)) or cause
        elif finding.code in ("RolloutStuck", "ErrorsInLogs"):
            cause = causes.get((finding.kind, finding.name))
        if cause is not None:
            cause.symptoms.append(f"{finding.code} {finding.kind} {finding.name}: "
                                  f"{finding.cause}")
            if finding.code == "ErrorsInLogs":
                cause.evidence += finding.evidence
        else:
            kept.append(finding)
    return sorted(kept, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code, f.name))


def analyse(snapshot: Snapshot) -> list[Finding]:
    findings = [f for analyzer in ANALYZERS for f in analyzer(snapshot)]
    return correlate(snapshot, findings)


async def diagnose(env: ToolEnv, namespace: str) -> tuple[list[Finding], list[str]]:
    """(findings, kinds the user could not read) for one namespace, as the user."""
    snapshot = await snapshot_mod.take(env, namespace)
    return analyse(snapshot), snapshot.unreadable
