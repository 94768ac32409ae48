"""The endpoints and EndpointSlice controllers.

A real cluster keeps ``v1 Endpoints`` (named like the Service) and ``discovery.k8s.io/v1
EndpointSlices`` (labelled ``kubernetes.io/service-name``, managed by
``endpointslice-controller.k8s.io``, owned by the Service) current for every Service *with a
selector*: pods that match it, have an IP and are not finished become addresses (ready ones in
``addresses`` / ``conditions.ready``, the others in ``notReadyAddresses``), and each Service port's
``targetPort`` is resolved per pod (a named port through the pod's container ports; a pod
without that name is left out for that port).  Services without a selector are left alone: their
Endpoints are the user's (or the fixture's).  Without this a fixture that lists no Endpoints would
show a healthy Service with no backends.  (PodMetrics follow pods in ``metrics.py``.)
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from sandbox.kube.cluster import Cluster
from sandbox.kube.selectors import selector_from_match
from sandbox.kube.store import Change, Obj, now_iso

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SLICE_MANAGER = "endpointslice-controller.k8s.io"
TRIGGER_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


def pod_ready(pod: Obj) -> bool:
    """The pod's Ready condition (fixtures that omit conditions: all containers ready)."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    statuses = status.get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") for s in statuses)


def _target_port(service_port: Obj, pod: Obj) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _pod_ports(service: Obj, pod: Obj) -> tuple[tuple[str, int, str], ...]:
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = _target_port(service_port, pod)
        if number is not None:
            ports.append((service_port.get("name", ""), number,
                          service_port.get("protocol", "TCP")))
    return tuple(ports)


def _port_dicts(ports: tuple[tuple[str, int, str], ...]) -> list[Obj]:
    result = []
    for name, number, protocol in ports:
        entry: Obj = {"port": number, "protocol": protocol}
        if name:
            entry["name"] = name
        result.append(entry)
    return result


def backends(service: Obj, pods: list[Obj]) -> list[tuple[Obj, bool, tuple[Any, ...]]]:
    """(pod, ready, resolved ports) for each pod the Service selects and can route to."""
    spec = service.get("spec") or {}
    selects = selector_from_match({"matchLabels": spec.get("selector") or {}})
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    found = []
    for pod in pods:
        status = pod.get("status") or {}
        if not selects(pod) or not status.get("podIP"):
            continue
        if status.get("phase") in ("Succeeded", "Failed"):
            continue
        ports = _pod_ports(service, pod)
        if spec.get("ports") and not ports:
            continue
        ready = publish_all or (pod_ready(pod) and not pod["metadata"].get("deletionTimestamp"))
        found.append((pod, ready, ports))
    return found


def _target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "name": meta["name"], "namespace": meta["namespace"],
            "uid": meta.get("uid", "")}


def _address(pod: Obj) -> Obj:
    address: Obj = {"ip": pod["status"]["podIP"], "targetRef": _target_ref(pod)}
    if (pod.get("spec") or {}).get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    if (pod.get("spec") or {}).get("hostname"):
        address["hostname"] = pod["spec"]["hostname"]
    return address


def endpoints_for(service: Obj, found: list[tuple[Obj, bool, tuple[Any, ...]]]) -> Obj:
    """The v1 Endpoints object: one subset per distinct resolved port set."""
    subsets: dict[tuple[Any, ...], Obj] = {}
    for pod, ready, ports in sorted(found, key=lambda f: f[0]["status"]["podIP"]):
        subset = subsets.setdefault(ports, {"ports": _port_dicts(ports)})
        subset.setdefault("addresses" if ready else "notReadyAddresses", []).append(
            _address(pod))
    meta = service["metadata"]
    labels = dict(meta.get("labels") or {})
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    body: Obj = {"metadata": {"name": meta["name"], "namespace": meta["namespace"],
                              "labels": labels}}
    if subsets:
        body["subsets"] = [{k: v for k, v in s.items() if v} for s in subsets.values()]
    return body


def slices_for(service: Obj, found: list[tuple[Obj, bool, tuple[Any, ...]]]) -> list[Obj]:
    """EndpointSlices by port set (a Service with no backends keeps one empty slice)."""
    groups: dict[tuple[Any, ...], list[Obj]] = {}
    for pod, ready, ports in sorted(found, key=lambda f: f[0]["status"]["podIP"]):
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        endpoint: Obj = {"addresses": [pod["status"]["podIP"]],
                         "conditions": {"ready": ready, "serving": ready or (terminating and
                                        pod_ready(pod)), "terminating": terminating},
                         "targetRef": _target_ref(pod)}
        if (pod.get("spec") or {}).get("nodeName"):
            endpoint["nodeName"] = pod["spec"]["nodeName"]
        if (pod.get("spec") or {}).get("hostname"):
            endpoint["hostname"] = pod["spec"]["hostname"]
        groups.setdefault(ports, []).append(endpoint)
    if not groups:
        groups[()] = []
    meta = service["metadata"]
    result = []
    for ports, endpoints in groups.items():
        digest = hashlib.sha256(repr((meta["name"], ports)).encode()).hexdigest()[:5]
        labels = {**(meta.get("labels") or {}), SERVICE_NAME_LABEL: meta["name"],
                  MANAGED_BY_LABEL: SLICE_MANAGER}
        result.append({
            "metadata": {"name": f"{meta['name']}-{digest}", "generateName": f"{meta['name']}-",
                         "namespace": meta["namespace"], "labels": labels,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Service",
                                              "name": meta["name"], "uid": meta["uid"],
                                              "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": "IPv4", "endpoints": endpoints,
            **({"ports": _port_dicts(ports)} if ports else {}),
        })
    return result


class EndpointsController:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        kind = cluster.registry.require
        self.services = kind("", "v1", "services")
        self.endpoints = kind("", "v1", "endpoints")
        self.slices = kind("discovery.k8s.io", "v1", "endpointslices")

    def sync_all(self) -> None:
        for service in list(self.cluster.store.iter(self.services)):
            self.reconcile(service)

    def on_change(self, change: Change) -> None:
        kind = change.kind.kind
        if kind == "Service":
            if change.type == "DELETED":
                self._service_gone(change.obj)
            else:
                self.reconcile(change.obj)
        elif kind == "Pod":
            self._pod_changed(change)

    # -- services ------------------------------------------------------------------------
    def reconcile(self, service: Obj) -> None:
        store, meta = self.cluster.store, service["metadata"]
        if not (service.get("spec") or {}).get("selector"):
            return  # user-managed Endpoints
        pods = list(store.iter(self.cluster.pods, meta["namespace"]))
        found = backends(service, pods)
        self._put(self.endpoints, endpoints_for(service, found))
        wanted = slices_for(service, found)
        names = {s["metadata"]["name"] for s in wanted}
        for stale in self._managed_slices(meta["namespace"], meta["name"]):
            if stale["metadata"]["name"] not in names:
                store.delete(self.slices, meta["namespace"], stale["metadata"]["name"])
        for wanted_slice in wanted:
            self._put(self.slices, wanted_slice)

    def _managed_slices(self, namespace: str, service: str) -> list[Obj]:
        return [s for s in self.cluster.store.iter(self.slices, namespace)
                if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == service
                and s["metadata"]["labels"].get(MANAGED_BY_LABEL) == SLICE_MANAGER]

    def _put(self, kind: Any, body: Obj) -> None:
        store, meta = self.cluster.store, body["metadata"]
        current = store.peek(kind, meta["namespace"], meta["name"])
        if current is None:
            body["metadata"].setdefault("annotations", {})[TRIGGER_ANNOTATION] = now_iso()
            store.create(kind, body)
            return
        merged = copy.deepcopy(current)
        for key in ("subsets", "endpoints", "ports", "addressType"):
            merged.pop(key, None)
        merged.update({k: v for k, v in body.items() if k != "metadata"})
        merged["metadata"]["labels"] = meta["labels"]
        if merged != current:
            merged["metadata"].setdefault("annotations", {})[TRIGGER_ANNOTATION] = now_iso()
            store.update(kind, merged, check_version=False)

    def _service_gone(self, service: Obj) -> None:
        meta, store = service["metadata"], self.cluster.store
        if (service.get("spec") or {}).get("selector") and store.peek(
                self.endpoints, meta["namespace"], meta["name"]) is not None:
            store.delete(self.endpoints, meta["namespace"], meta["name"])
        for stale in self._managed_slices(meta["namespace"], meta["name"]):
            store.delete(self.slices, meta["namespace"], stale["metadata"]["name"])

    # -- pods ----------------------------------------------------------------------------
    def _pod_changed(self, change: Change) -> None:
        pods = [change.obj] + ([change.old] if change.old is not None else [])
        namespace = change.obj["metadata"]["namespace"]
        for service in list(self.cluster.store.iter(self.services, namespace)):
            selector = (service.get("spec") or {}).get("selector")
            if selector and any(selector_from_match({"matchLabels": selector})(p)
                                for p in pods):
                self.reconcile(service)
