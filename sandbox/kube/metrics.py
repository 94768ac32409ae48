"""metrics-server for the sandbox: PodMetrics that follow pods and the load on their workload.

On a real cluster metrics-server scrapes every kubelet and serves the latest sample per pod as
``metrics.k8s.io/v1beta1 PodMetrics`` (``timestamp``, ``window``, per-container ``usage``),
labelled with the pod's labels (so ``kubectl top pods -l`` and label selectors work); a pod's
metrics go when the pod goes, and a container that never runs (crash-looping, image not pulled)
reports nothing.  Usage itself comes from the traffic: a Service spreads its requests over the
ready pods, so adding a replica lowers each pod's CPU and removing one raises it.

The sandbox has no processes, so it models that load.  Each workload -- a Deployment (through
its ReplicaSets), a StatefulSet, or a ReplicaSet of its own -- has a **CPU demand**: the sum of
its pods' CPU usage in the fixture's PodMetrics when the sandbox starts, and a **memory per
pod**: their average (per container).  Whenever one of its pods becomes Running and ready,
stops being ready, or goes away, every ready pod's PodMetrics is (re)written: CPU per pod =
demand / ready pods, split over the containers as in the workload's first fixture pod (evenly
when the containers differ), at least ``1m`` and at most the container's CPU limit (the CFS
quota throttles it there); memory = the average.  A workload without fixture metrics gets none
(the sandbox does not invent usage); seeded PodMetrics stay as written until their workload
changes.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sandbox.kube.cluster import Cluster
from sandbox.kube.endpoints import pod_ready
from sandbox.kube.store import Change, Obj, now_iso

log = logging.getLogger("hexabot.sandbox.kube")

QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zA-Z]{0,2})$")
MILLICORES = {"n": Decimal("1e-6"), "u": Decimal("1e-3"), "m": Decimal(1), "": Decimal(1000),
              "k": Decimal(10 ** 6)}
BYTES = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15,
         "E": 10 ** 18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40,
         "Pi": 2 ** 50, "Ei": 2 ** 60}
MI = 2 ** 20


def quantity(value: object, units: dict[str, Decimal] | dict[str, int]) -> Decimal:
    """A Kubernetes quantity (``250m``, ``1.5``, ``318Mi``) in the unit of ``units[""]``."""
    found = QUANTITY.match(str(value).strip())
    if found is None or found.group(2) not in units:
        raise ValueError(f"not a quantity: {value!r}")
    try:
        return Decimal(found.group(1)) * Decimal(units[found.group(2)])
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {value!r}") from exc


def _whole(number: Decimal) -> int:
    return int(number.to_integral_value(rounding=ROUND_HALF_UP))


def memory_text(size: Decimal) -> str:
    """Bytes as metrics-server prints them: whole Mi when exact, else Ki."""
    whole = _whole(size)
    return f"{whole // MI}Mi" if whole % MI == 0 else f"{_whole(size / 1024)}Ki"


@dataclass
class Load:
    """What a workload's pods use between them (learned from the fixture)."""

    cpu: Decimal = Decimal(0)  # millicores, the whole workload's demand
    shares: dict[str, Decimal] = field(default_factory=dict)  # container -> part of a pod's CPU
    memory: dict[str, list[Decimal]] = field(default_factory=dict)  # container -> samples
    pods: int = 0
    window: str = "30s"

    def add(self, usage: dict[str, tuple[Decimal, Decimal]], window: str) -> None:
        pod_cpu = sum((cpu for cpu, _ in usage.values()), Decimal(0))
        if not self.pods:
            self.window = window
            self.shares = {name: (cpu / pod_cpu if pod_cpu else Decimal(1) / len(usage))
                           for name, (cpu, _) in usage.items()}
        self.cpu += pod_cpu
        self.pods += 1
        for name, (_, memory) in usage.items():
            self.memory.setdefault(name, []).append(memory)

    def usage(self, pod: Obj, ready: int) -> list[Obj]:
        """Per-container usage of one of ``ready`` ready pods."""
        containers = (pod.get("spec") or {}).get("containers") or []
        names = [c["name"] for c in containers]
        per_pod = self.cpu / max(1, ready)
        pod_memory = sum((sum(m, Decimal(0)) / len(m) for m in self.memory.values()),
                         Decimal(0))
        same = bool(names) and set(names) <= set(self.shares)
        total = sum((self.shares[n] for n in names), Decimal(0)) if same else Decimal(0)
        result = []
        for container in containers:
            name = container["name"]
            if same and total:
                cpu, samples = per_pod * self.shares[name] / total, self.memory[name]
                memory = sum(samples, Decimal(0)) / len(samples)
            else:
                cpu, memory = per_pod / len(names), pod_memory / len(names)
            limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
            millicores = max(1, _whole(cpu))
            if limit is not None:
                try:
                    millicores = min(millicores, max(1, _whole(quantity(limit, MILLICORES))))
                except ValueError:
                    log.debug("container %s: unreadable CPU limit %r", name, limit)
            result.append({"name": name, "usage": {"cpu": f"{millicores}m",
                                                   "memory": memory_text(memory)}})
        return result


def _sample(metrics: Obj) -> dict[str, tuple[Decimal, Decimal]] | None:
    """(CPU millicores, memory bytes) per container of one PodMetrics; None when unreadable."""
    usage = {}
    for container in metrics.get("containers") or []:
        values = container.get("usage") or {}
        try:
            usage[str(container["name"])] = (quantity(values.get("cpu", "0"), MILLICORES),
                                             quantity(values.get("memory", "0"), BYTES))
        except (KeyError, ValueError):
            log.debug("PodMetrics %s: unreadable usage, left out of the load model",
                      metrics["metadata"]["name"])
            return None
    return usage or None


class MetricsServer:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        kind = cluster.registry.require
        self.pod_metrics = kind("metrics.k8s.io", "v1beta1", "pods")
        self.replicasets = kind("apps", "v1", "replicasets")
        self.statefulsets = kind("apps", "v1", "statefulsets")
        self.loads: dict[str, Load] = {}  # workload uid -> its load

    def start(self) -> None:
        """Learn each workload's load from the seeded PodMetrics; label them like their pods."""
        store = self.cluster.store
        for metrics in list(store.iter(self.pod_metrics)):
            meta = metrics["metadata"]
            pod = store.peek(self.cluster.pods, meta["namespace"], meta["name"])
            workload = self.workload(pod) if pod is not None else None
            sample = _sample(metrics) if workload is not None else None
            if workload is not None and sample is not None:
                self.loads.setdefault(workload, Load()).add(sample, str(metrics.get(
                    "window") or "30s"))
        for pod in list(store.iter(self.cluster.pods)):
            self._label(pod)

    def on_pod_change(self, change: Change) -> None:
        pod, store = change.obj, self.cluster.store
        meta = pod["metadata"]
        if change.type == "DELETED":
            if store.peek(self.pod_metrics, meta["namespace"], meta["name"]) is not None:
                store.delete(self.pod_metrics, meta["namespace"], meta["name"])
            self.rebalance(pod)
            return
        self._label(pod)
        was = change.old is not None and _serving(change.old)
        if was != _serving(pod):
            self.rebalance(pod)

    def workload(self, pod: Obj) -> str | None:
        """The uid of the workload that carries ``pod``'s load (None: a pod of its own, a
        DaemonSet's or a Job's)."""
        meta = pod["metadata"]
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "StatefulSet":
                return str(ref.get("uid", "")) or None
            if ref.get("kind") != "ReplicaSet":
                continue
            rs = self.cluster.store.peek(self.replicasets, meta["namespace"], ref.get("name", ""))
            if rs is None or rs["metadata"]["uid"] != ref.get("uid"):
                return None
            for owner in rs["metadata"].get("ownerReferences") or []:
                if owner.get("kind") == "Deployment":
                    return str(owner.get("uid", "")) or None
            return str(rs["metadata"]["uid"])
        return None

    def rebalance(self, pod: Obj) -> None:
        """Spread the workload of ``pod`` over its ready pods and write their PodMetrics."""
        workload = self.workload(pod)
        load = self.loads.get(workload or "")
        if workload is None or load is None:
            return
        namespace = pod["metadata"]["namespace"]
        ready = [p for p in self.cluster.store.iter(self.cluster.pods, namespace)
                 if _serving(p) and self.workload(p) == workload]
        for each in ready:
            self._write(each, load.usage(each, len(ready)), load.window)

    def _write(self, pod: Obj, containers: list[Obj], window: str) -> None:
        meta, store = pod["metadata"], self.cluster.store
        body: Obj = {"metadata": {"name": meta["name"], "namespace": meta["namespace"],
                                  "labels": dict(meta.get("labels") or {})},
                     "timestamp": now_iso(), "window": window, "containers": containers}
        current = store.peek(self.pod_metrics, meta["namespace"], meta["name"])
        if current is None:
            store.create(self.pod_metrics, body)
            return
        updated = copy.deepcopy(current)
        updated.update({k: v for k, v in body.items() if k != "metadata"})
        updated["metadata"]["labels"] = body["metadata"]["labels"]
        store.update(self.pod_metrics, updated, check_version=False)

    def _label(self, pod: Obj) -> None:
        meta = pod["metadata"]
        metrics = self.cluster.store.peek(self.pod_metrics, meta["namespace"], meta["name"])
        labels = dict(meta.get("labels") or {})
        if metrics is not None and (metrics["metadata"].get("labels") or {}) != labels:
            metrics = copy.deepcopy(metrics)
            metrics["metadata"]["labels"] = labels
            self.cluster.store.update(self.pod_metrics, metrics, check_version=False)


def _serving(pod: Obj) -> bool:
    """Running, ready and not terminating: a pod the Service sends traffic to."""
    return ((pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod)
            and not pod["metadata"].get("deletionTimestamp"))
