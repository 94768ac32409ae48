"""Run every analyzer over one snapshot and tell each root cause once.

Correlation: a service with no endpoints, or a stuck rollout, whose pods have a pod-level
finding is a symptom of that finding, not a finding of its own; so is a pod that cannot be
scheduled because its claim is pending (the claim is the cause), and a full quota that refuses a
workload's pods.  Last, a workload still short of available pods that no finding covers gets a
generic one: unhealthy is never silent.
"""

from __future__ import annotations

from tools.analysis import snapshot as snapshot_mod
from tools.analysis.analyzers import ANALYZERS, owner
from tools.analysis.availability import unavailable
from tools.analysis.findings import SEVERITY_ORDER, Finding
from tools.analysis.snapshot import Snapshot
from tools.analysis.storage import claims_of
from tools.spec import ToolEnv

POD_LEVEL = {"OOMKilled", "CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError",
             "Unschedulable", "InitContainerFailing", "ReadinessProbeFailing"}
WORKLOAD_CAUSES = POD_LEVEL | {"CannotCreatePods"}


def _claim_cause(snapshot: Snapshot, finding: Finding, claims: dict[str, Finding]
                 ) -> Finding | None:
    """The pending claim that keeps the pods of an Unschedulable workload off every node."""
    for pod in snapshot["pods"]:
        kind, name, _ = owner(snapshot, pod)
        if (kind, name) == (finding.kind, finding.name):
            for claim in claims_of(pod):
                if claim in claims:
                    return claims[claim]
    return None


def _cause(snapshot: Snapshot, finding: Finding, causes: dict[tuple[str, str], Finding],
           findings: list[Finding]) -> Finding | None:
    if finding.code == "ServiceNoEndpoints":
        service = next(s for s in snapshot["services"]
                       if s["metadata"]["name"] == finding.name)
        selector = (service.get("spec") or {}).get("selector") or {}
        cause = None
        for pod in snapshot["pods"]:
            labels = pod["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in selector.items()):
                kind, name, _ = owner(snapshot, pod)
                cause = causes.get((kind, name)) or cause
        return cause
    if finding.code in ("RolloutStuck", "ErrorsInLogs"):
        return causes.get((finding.kind, finding.name))
    if finding.code == "Unschedulable":
        return _claim_cause(snapshot, finding, {f.name: f for f in findings
                                                if f.code == "PVCPending"})
    if finding.code == "QuotaExceeded":
        return next((f for f in findings if f.code == "CannotCreatePods" and
                     f"ResourceQuota {finding.name}:" in f.cause), None)
    return None


def correlate(snapshot: Snapshot, findings: list[Finding]) -> list[Finding]:
    causes = {(f.kind, f.name): f for f in findings if f.code in WORKLOAD_CAUSES}
    kept, folded = [], []
    for finding in findings:
        cause = _cause(snapshot, finding, causes, findings)
        if cause is not None and cause is not finding:
            cause.symptoms.append(f"{finding.code} {finding.kind} {finding.name}: "
                                  f"{finding.cause}")
            if finding.code in ("ErrorsInLogs", "Unschedulable"):
                cause.evidence += [e for e in finding.evidence if e not in cause.evidence]
            folded.append((finding, cause))
        else:
            kept.append(finding)
    for finding, cause in folded:  # what a folded finding explained, its cause explains
        cause.symptoms += [s for s in finding.symptoms if s not in cause.symptoms]
    return sorted(kept, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.code, f.name))


def analyse(snapshot: Snapshot) -> list[Finding]:
    findings = [f for analyzer in ANALYZERS for f in analyzer(snapshot)]
    covered = {(f.kind, f.name) for f in findings}
    return correlate(snapshot, findings + unavailable(snapshot, covered))


async def diagnose(env: ToolEnv, namespace: str) -> tuple[list[Finding], list[str]]:
    """(findings, kinds the user could not read) for one namespace, as the user."""
    snapshot = await snapshot_mod.take(env, namespace)
    return analyse(snapshot), snapshot.unreadable
