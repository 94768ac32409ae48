"""Unhealthy is never silent: a workload with fewer available pods than it wants gets a finding
even when no analyzer knows why, and a PodDisruptionBudget that allows no disruption while every
pod is healthy (a node drain would block) is named before someone drains.

``unavailable`` runs after every other analyzer: a workload some finding already covers is left
to that finding.
"""

from __future__ import annotations

from tools.analysis import proposals
from tools.analysis.findings import Finding
from tools.analysis.snapshot import Obj, Snapshot

WORKLOADS = (("Deployment", "deployments"), ("StatefulSet", "statefulsets"),
             ("DaemonSet", "daemonsets"))


def counts(kind: str, obj: Obj) -> tuple[int, int] | None:
    """(desired, available), or None before the controller has written any status."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not status:
        return None
    if kind == "DaemonSet":
        return int(status.get("desiredNumberScheduled", 0)), int(
            status.get("numberAvailable", 0))
    available = status.get("availableReplicas", status.get("readyReplicas", 0) if
                           kind == "StatefulSet" else 0)
    return int(spec.get("replicas", 1)), int(available or 0)


def _warnings(snapshot: Snapshot, kind: str, obj: Obj) -> list[str]:
    """Recent Warning events of the workload, its ReplicaSets and its pods."""
    name = obj["metadata"]["name"]
    names = {name} | {rs["metadata"]["name"] for rs in snapshot["replicasets"]
                      if rs["metadata"]["name"].startswith(name + "-")}
    names |= {p["metadata"]["name"] for p in snapshot["pods"]
              if p["metadata"]["name"].startswith(name + "-")}
    return [f"{(e.get('involvedObject') or {}).get('kind')} "
            f"{(e.get('involvedObject') or {}).get('name')} {e.get('reason')}: "
            f"{e.get('message')}" for e in snapshot["events"]
            if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get(
                "name") in names][-3:]


def unavailable(snapshot: Snapshot, covered: set[tuple[str, str]]) -> list[Finding]:
    findings = []
    for kind, plural in WORKLOADS:
        for obj in snapshot[plural]:
            name = obj["metadata"]["name"]
            seen = counts(kind, obj)
            if seen is None or (kind, name) in covered or seen[1] >= seen[0]:
                continue
            desired, available = seen
            status = obj.get("status") or {}
            conditions = [f"condition {c.get('type')}={c.get('status')} ({c.get('reason')}: "
                          f"{c.get('message', '')})" for c in status.get("conditions") or []
                          if c.get("status") == "False"]
            findings.append(Finding(
                "WorkloadUnavailable", "critical" if available == 0 else "warning", kind,
                snapshot.namespace, name,
                f"only {available} of {desired} pods are available and no known cause explains "
                "it", f"run `kubectl describe {kind.lower()} {name}` and describe its newest "
                "pods: their events and conditions name what holds them back",
                [f"desired {desired}, available {available}, ready "
                 f"{status.get('readyReplicas', status.get('numberReady', 0))}, existing "
                 f"{status.get('replicas', status.get('currentNumberScheduled', 0))}",
                 *conditions, *_warnings(snapshot, kind, obj)]))
    return findings


def pdbs(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for pdb in snapshot["pdbs"]:
        spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
        if not status or int(status.get("expectedPods", 0)) == 0:
            continue
        allowed = int(status.get("disruptionsAllowed", 0))
        healthy, wanted = int(status.get("currentHealthy", 0)), int(
            status.get("desiredHealthy", 0))
        if allowed > 0 or healthy < wanted or healthy < int(status["expectedPods"]):
            continue  # unhealthy pods are what the other findings are about
        budget = (f"minAvailable={spec['minAvailable']}" if "minAvailable" in spec else
                  f"maxUnavailable={spec.get('maxUnavailable')}")
        name = pdb["metadata"]["name"]
        findings.append(Finding(
            "PDBBlocksDrain", "warning", "PodDisruptionBudget", snapshot.namespace, name,
            f"the budget allows no disruption with all {healthy} pods healthy: draining a node "
            "that runs one of them will block", "allow one disruption: lower minAvailable "
            f"below {healthy} (or set maxUnavailable: 1), or add a replica",
            [budget, f"disruptionsAllowed=0, currentHealthy={healthy}, desiredHealthy="
                     f"{wanted}, expectedPods={status['expectedPods']}"], [],
            proposals.manifest({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                "metadata": {"name": name, "namespace": snapshot.namespace},
                                "spec": {"selector": spec.get("selector") or {},
                                         "maxUnavailable": 1}})))
    return findings
