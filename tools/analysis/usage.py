"""Per-workload resource facts from one snapshot: replicas, HPA bounds, restarts, and for each
container the live usage (mean and peak over the workload's pods) against requests and
limits.  AnalyzePerformance reports these; SuggestOptimizations reasons over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools import errors, quantity
from tools.analysis import snapshot as snapshot_mod
from tools.analysis.analyzers import owner
from tools.analysis.snapshot import Obj, Snapshot
from tools.spec import ToolEnv

KINDS = ("pods", "deployments", "statefulsets", "hpas", "metrics", "pdbs")


@dataclass
class ContainerUsage:
    name: str
    cpu: float | None = None            # mean cores over the pods that report metrics
    cpu_peak: float | None = None
    memory: float | None = None         # mean bytes
    memory_peak: float | None = None
    cpu_request: float | None = None
    cpu_limit: float | None = None
    memory_request: float | None = None
    memory_limit: float | None = None
    readiness_probe: bool = False
    liveness_probe: bool = False

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class WorkloadUsage:
    kind: str
    name: str
    namespace: str
    replicas: int
    ready: int
    pods: int
    restarts: int
    workload: Obj | None = None
    hpa: dict[str, int] | None = None   # {min, max, current}
    pdb: bool = False
    containers: list[ContainerUsage] = field(default_factory=list)

    def container(self, name: str) -> ContainerUsage | None:
        return next((c for c in self.containers if c.name == name), None)


def _template_containers(workload: Obj | None, pod: Obj | None) -> list[Obj]:
    source = ((workload or {}).get("spec") or {}).get("template") or pod or {}
    return list((source.get("spec") or {}).get("containers") or [])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _hpa(snapshot: Snapshot, kind: str, name: str) -> dict[str, int] | None:
    for hpa in snapshot["hpas"]:
        spec = hpa.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        if target.get("kind") == kind and target.get("name") == name:
            return {"min": int(spec.get("minReplicas", 1)), "max": int(spec.get("maxReplicas", 1)),
                    "current": int((hpa.get("status") or {}).get("currentReplicas", 0))}
    return None


def _has_pdb(snapshot: Snapshot, workload: Obj | None) -> bool:
    labels = (((workload or {}).get("spec") or {}).get("template") or {}).get(
        "metadata", {}).get("labels") or {}
    for pdb in snapshot["pdbs"]:
        selector = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if selector and all(labels.get(k) == v for k, v in selector.items()):
            return True
    return False


def workloads(snapshot: Snapshot) -> list[WorkloadUsage]:
    """One entry per Deployment/StatefulSet (and per bare pod), in name order."""
    grouped: dict[tuple[str, str], tuple[Obj | None, list[Obj]]] = {}
    for kind, items in (("Deployment", snapshot["deployments"]),
                        ("StatefulSet", snapshot["statefulsets"])):
        for item in items:
            grouped[(kind, item["metadata"]["name"])] = (item, [])
    for pod in snapshot["pods"]:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        kind, name, workload = owner(snapshot, pod)
        grouped.setdefault((kind, name), (workload, []))[1].append(pod)
    found = []
    for (kind, name), (workload, pods) in sorted(grouped.items(), key=lambda i: i[0][1]):
        status = (workload or {}).get("status") or {}
        usage = WorkloadUsage(
            kind, name, snapshot.namespace,
            replicas=int(((workload or {}).get("spec") or {}).get("replicas", len(pods) or 1)),
            ready=int(status.get("readyReplicas", 0)) if workload else sum(
                1 for p in pods if all(c.get("ready") for c in (p.get("status") or {}).get(
                    "containerStatuses") or [])),
            pods=len(pods), restarts=sum(int(c.get("restartCount", 0)) for p in pods
                                         for c in (p.get("status") or {}).get(
                                             "containerStatuses") or []),
            workload=workload, hpa=_hpa(snapshot, kind, name), pdb=_has_pdb(snapshot, workload))
        metrics = [snapshot.metrics_for(p["metadata"]["name"]) for p in pods]
        for spec in _template_containers(workload, pods[0] if pods else None):
            resources = spec.get("resources") or {}
            requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
            cpus = [v for m in metrics if (v := quantity.parse(
                (m.get(spec["name"]) or {}).get("cpu"))) is not None]
            memories = [v for m in metrics if (v := quantity.parse(
                (m.get(spec["name"]) or {}).get("memory"))) is not None]
            usage.containers.append(ContainerUsage(
                spec["name"], _mean(cpus), max(cpus, default=None), _mean(memories),
                max(memories, default=None), quantity.parse(requests.get("cpu")),
                quantity.parse(limits.get("cpu")), quantity.parse(requests.get("memory")),
                quantity.parse(limits.get("memory")), "readinessProbe" in spec,
                "livenessProbe" in spec))
        found.append(usage)
    return found


async def read(env: ToolEnv, namespace: str, name: str | None
               ) -> tuple[Snapshot, list[WorkloadUsage]]:
    """As the user: the snapshot (no logs) and its workloads, or only ``name``."""
    snap = await snapshot_mod.take(env, namespace, logs=False, kinds=KINDS)
    if "pods" in snap.unreadable:
        raise errors.Forbidden(f"you may not list pods in {namespace}")
    found = [w for w in workloads(snap) if name in (None, w.name)]
    if name and not found:
        raise errors.NotFound(f"no workload {name!r} in {namespace}")
    return snap, found
