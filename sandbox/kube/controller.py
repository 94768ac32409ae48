"""Light controllers so the sandbox feels alive: workloads, pods, jobs, garbage collection.

- A Deployment whose spec changes gets a ReplicaSet for its current template (old ones scaled
  to 0) with the wanted replica count and a revision number (``deployments.py``).
- A ReplicaSet or StatefulSet creates or removes Pods to match its replicas; new Pods are
  Pending, then started by the kubelet after ``pod_start_delay`` seconds (``kubelet.py``):
  Running and ready, or crash-looping / stuck pulling when their image is declared bad
  (``images.py``).  A deleted Pod that its ReplicaSet still wants is replaced.
- A DaemonSet runs a Pod per node matching its nodeSelector; workloads report
  ``status.observedGeneration``; ``endpoints.py`` keeps Endpoints/EndpointSlices current and
  ``metrics.py`` (metrics-server) spreads each workload's load over its ready pods' PodMetrics.
- A created Job gets a Pod that runs, then succeeds after ``job_run_seconds``.
- Deleting an owner deletes its dependents; deleting a Namespace deletes what is in it.
- Each change records a core/v1 Event.  Seeded objects keep their status until something changes
  them, so a fixture can freeze a broken pod.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
from typing import Any

from sandbox.kube.cluster import Cluster
from sandbox.kube.deployments import DeploymentController, seed_revisions
from sandbox.kube.endpoints import EndpointsController
from sandbox.kube.errors import ApiError
from sandbox.kube.kubelet import Kubelet
from sandbox.kube.metrics import MetricsServer
from sandbox.kube.resources import Kind
from sandbox.kube.store import Change, Obj, now_iso
from sandbox.kube.workloads import (
    REVISION_LABEL,
    complete_seeded_state,
    daemon_nodes,
    owner_ref,
    pod_counts,
    template_hash,
)

log = logging.getLogger("hexabot.sandbox.kube")


class Controllers:
    def __init__(self, cluster: Cluster, pod_start_delay: float = 1.0,
                 job_run_seconds: float = 2.0) -> None:
        self.cluster = cluster
        self.pod_start_delay = pod_start_delay
        self.job_run_seconds = job_run_seconds
        kind = cluster.registry.require
        self.deployments = kind("apps", "v1", "deployments")
        self.replicasets = kind("apps", "v1", "replicasets")
        self.statefulsets = kind("apps", "v1", "statefulsets")
        self.daemonsets = kind("apps", "v1", "daemonsets")
        self.endpoints = EndpointsController(cluster)
        self.rollouts = DeploymentController(cluster, self.event)
        self.kubelet = Kubelet(cluster, self.event, pod_start_delay)
        self.metrics = MetricsServer(cluster)
        self.jobs = kind("batch", "v1", "jobs")
        self.events = kind("", "v1", "events")
        self.nodes = kind("", "v1", "nodes")
        self.pods = cluster.pods
        self._queue: asyncio.Queue[Change] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    def start(self) -> None:
        """Listen for changes; workloads seeded without a status get reconciled once now
        (those with a status keep it: a fixture may freeze a broken state on purpose)."""
        self.cluster.store.listeners.append(self._queue.put_nowait)
        store = self.cluster.store
        complete_seeded_state(self.cluster, (self.deployments, self.replicasets,
                                             self.statefulsets, self.daemonsets))
        seed_revisions(self.cluster)
        self.endpoints.sync_all()
        self.metrics.start()
        for kind in (self.deployments, self.replicasets, self.statefulsets, self.daemonsets):
            for obj in store.iter(kind):
                if not obj.get("status"):
                    self._queue.put_nowait(Change(store.revision, "ADDED", kind,
                                                  copy.deepcopy(obj)))
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._queue.put_nowait in self.cluster.store.listeners:
            self.cluster.store.listeners.remove(self._queue.put_nowait)
        for timer in self._timers:
            timer.cancel()
        self.kubelet.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every queued change has been handled (tests, benchmarks)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            change = await self._queue.get()
            try:
                self._handle(change)
            except ApiError as exc:  # an object vanished mid-way: the next change heals it
                log.debug("controller skipped a %s change: %s", change.kind.kind, exc.message)
            finally:
                self._queue.task_done()

    # -- dispatch ------------------------------------------------------------------------
    def _handle(self, change: Change) -> None:
        kind, obj = change.kind.kind, change.obj
        if kind in ("Service", "Pod"):
            self.endpoints.on_change(change)
        if kind == "Pod":
            self.metrics.on_pod_change(change)
        if change.type == "DELETED":
            self._collect_garbage(change)
            if kind == "Pod":
                self.kubelet.forget(obj)
                self._pod_gone(obj)
            return
        spec_changed = change.old is None or change.old.get("spec") != obj.get("spec")
        if kind == "Deployment" and spec_changed:
            self.rollouts.reconcile(obj)
        elif kind in ("ReplicaSet", "StatefulSet") and spec_changed:
            self._reconcile_pods(change.kind, obj)
        elif kind == "DaemonSet" and spec_changed:
            self._reconcile_daemonset(obj)
        elif kind == "Job" and change.type == "ADDED":
            self._start_job(obj)
        elif kind == "Pod" and change.old is not None and change.old.get("status") != obj.get(
                "status"):
            self._pod_status_changed(obj)

    # -- pods of replica sets and stateful sets --------------------------------------------
    def _reconcile_pods(self, kind: Kind, owner: Obj) -> None:
        wanted = (owner.get("spec") or {}).get("replicas", 1)
        pods = self.cluster.owned_by(self.pods, owner)
        if kind.kind == "StatefulSet":
            base = owner["metadata"]["name"]
            have = {p["metadata"]["name"] for p in pods}
            for ordinal in range(wanted):
                if f"{base}-{ordinal}" not in have:
                    self._new_pod(owner, f"{base}-{ordinal}")
            for pod in pods:
                suffix = pod["metadata"]["name"].rsplit("-", 1)[-1]
                if suffix.isdigit() and int(suffix) >= wanted:
                    self._delete_pod(owner, pod)
        else:
            for _ in range(wanted - len(pods)):
                self._new_pod(owner, f"{owner['metadata']['name']}-{secrets.token_hex(3)[:5]}")
            if len(pods) > wanted:
                ranked: list[Obj] = sorted(pods, key=lambda p: (
                    (p.get("status") or {}).get("phase") == "Running",
                    p["metadata"]["creationTimestamp"]), reverse=False)
                for pod in ranked[: len(pods) - wanted]:
                    self._delete_pod(owner, pod)
        self._owner_status(kind, owner["metadata"]["namespace"], owner["metadata"]["name"])

    def _new_pod(self, owner: Obj, name: str, node: str | None = None,
                 labels: dict[str, str] | None = None) -> None:
        template = (owner.get("spec") or {}).get("template") or {}
        nodes = [n["metadata"]["name"] for n in self.cluster.store.iter(self.nodes)]
        pod = {
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                         "labels": copy.deepcopy((template.get("metadata") or {}).get(
                             "labels") or {}) | (labels or {}),
                         "annotations": copy.deepcopy((template.get("metadata") or {}).get(
                             "annotations") or {}),
                         "ownerReferences": [owner_ref(owner)]},
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        if node or nodes:
            pod["spec"]["nodeName"] = node or nodes[secrets.randbelow(len(nodes))]
        pod["status"] = {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now_iso()}]}
        created = self.cluster.store.create(self.pods, pod)
        self.event(owner, "SuccessfulCreate", f"Created pod: {name}")
        self._later(self.pod_start_delay, self.kubelet.start_pod,
                    created["metadata"]["namespace"], name)

    def _delete_pod(self, owner: Obj, pod: Obj) -> None:
        self.cluster.store.delete(self.pods, pod["metadata"]["namespace"],
                                  pod["metadata"]["name"])
        self.event(owner, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    def _pod_owner(self, pod: Obj) -> tuple[Kind, Obj] | None:
        for ref in pod["metadata"].get("ownerReferences") or []:
            for kind in (self.replicasets, self.statefulsets, self.daemonsets, self.jobs):
                if ref.get("kind") == kind.kind:
                    owner = self.cluster.store.peek(kind, pod["metadata"]["namespace"],
                                                    ref.get("name", ""))
                    if owner is not None and owner["metadata"]["uid"] == ref.get("uid"):
                        return kind, owner
        return None

    def _pod_gone(self, pod: Obj) -> None:
        found = self._pod_owner(pod)
        if found is not None and found[0].kind in ("ReplicaSet", "StatefulSet"):
            self._reconcile_pods(*found)
        elif found is not None and found[0].kind == "DaemonSet":
            self._reconcile_daemonset(found[1])

    def _pod_status_changed(self, pod: Obj) -> None:
        found = self._pod_owner(pod)
        if found is None:
            return
        kind, owner = found
        if kind.kind == "Job":
            self._job_status(owner, pod)
        else:
            self._owner_status(kind, owner["metadata"]["namespace"], owner["metadata"]["name"])

    def _owner_status(self, kind: Kind, namespace: str, name: str) -> None:
        owner = self.cluster.store.peek(kind, namespace, name)
        if owner is None:
            return
        owner = copy.deepcopy(owner)
        pods = self.cluster.owned_by(self.pods, owner)
        owner["status"] = {**(owner.get("status") or {}), **pod_counts(
            kind.kind, owner, pods, daemon_nodes(self.cluster, owner))}
        self.cluster.store.update(kind, owner, check_version=False)
        for ref in owner["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                self.rollouts.status(namespace, ref["name"])

    # -- daemon sets: one pod per matching node --------------------------------------------
    def _reconcile_daemonset(self, daemonset: Obj) -> None:
        current = template_hash(daemonset["spec"].get("template") or {})
        nodes = daemon_nodes(self.cluster, daemonset)
        placed: set[str] = set()
        for pod in self.cluster.owned_by(self.pods, daemonset):
            node = pod["spec"].get("nodeName")
            if node not in nodes or node in placed or pod["metadata"].get(
                    "labels", {}).get(REVISION_LABEL) != current:
                self._delete_pod(daemonset, pod)
            else:
                placed.add(node)
        for node in nodes:
            if node not in placed:
                self._new_pod(daemonset, f"{daemonset['metadata']['name']}-"
                              f"{secrets.token_hex(3)[:5]}", node,
                              {REVISION_LABEL: current})
        self._owner_status(self.daemonsets, daemonset["metadata"]["namespace"],
                           daemonset["metadata"]["name"])

    # -- jobs ----------------------------------------------------------------------------
    def _start_job(self, job: Obj) -> None:
        name = f"{job['metadata']['name']}-{secrets.token_hex(3)[:5]}"
        self._new_pod(job, name)
        self._later(self.pod_start_delay + self.job_run_seconds, self.kubelet.start_pod,
                    job["metadata"]["namespace"], name, "Succeeded")
        job = copy.deepcopy(job)
        job["status"] = {"active": 1, "startTime": now_iso()}
        self.cluster.store.update(self.jobs, job, check_version=False)

    def _job_status(self, job: Obj, pod: Obj) -> None:
        if (pod.get("status") or {}).get("phase") != "Succeeded":
            return
        job = copy.deepcopy(job)
        job["status"] = {**(job.get("status") or {}), "active": 0, "succeeded": 1,
                         "completionTime": now_iso(), "conditions": [
                             {"type": "Complete", "status": "True",
                              "lastTransitionTime": now_iso()}]}
        self.cluster.store.update(self.jobs, job, check_version=False)
        self.event(job, "Completed", "Job completed")

    # -- garbage collection, events, timers ----------------------------------------------
    def _collect_garbage(self, change: Change) -> None:
        obj, store = change.obj, self.cluster.store
        if change.kind.kind == "Namespace":
            namespace = obj["metadata"]["name"]
            for kind in self.cluster.registry.kinds:
                if kind.namespaced and not kind.create_only:
                    for child in list(store.iter(kind, namespace)):
                        store.delete(kind, namespace, child["metadata"]["name"])
            return
        if not change.kind.namespaced:
            return
        for kind in (self.replicasets, self.pods, self.jobs, self.endpoints.slices):
            for child in self.cluster.owned_by(kind, obj):
                store.delete(kind, child["metadata"]["namespace"], child["metadata"]["name"])

    def event(self, about: Obj, reason: str, message: str, type_: str = "Normal", *,
              field_path: str = "", component: str = "hexabot-sandbox-controller",
              host: str = "") -> Obj | None:
        """Record a core/v1 Event about ``about`` (None when its namespace is gone).
        ``field_path`` names a container (``spec.containers{web}``) as the kubelet does."""
        meta = about["metadata"]
        if self.cluster.store.peek(self.cluster.namespaces, None, meta["namespace"]) is None:
            return None
        involved = {"kind": about["kind"], "name": meta["name"], "namespace": meta["namespace"],
                    "uid": meta["uid"], "apiVersion": about["apiVersion"]}
        if field_path:
            involved["fieldPath"] = field_path
        return self.cluster.store.create(self.events, {
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}",
                         "namespace": meta["namespace"]},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": type_, "count": 1,
            "source": {"component": component, **({"host": host} if host else {})},
            "reportingComponent": component,
            "firstTimestamp": now_iso(), "lastTimestamp": now_iso(),
        })

    def _later(self, delay: float, func: Any, *args: Any) -> None:
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            func(*args)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

