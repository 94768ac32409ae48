"""Defaulting: the fields kube-apiserver (and the kubelet) always fill in.

Clients rely on them: the official Python client (v37+) validates responses against the OpenAPI
schema, so a ContainerStatus without ``imageID`` or a Node without a full ``nodeInfo`` fails to
deserialize.  Applied on every write, seeded objects included; values already set are kept.
"""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _image_id(image: str) -> str:
    name = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if "/" not in name:
        name = f"docker.io/library/{name}"
    return f"{name}@sha256:{_digest(image)}"


def _container(container: Obj) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = str(container.get("image", ""))
    container.setdefault("imagePullPolicy", "Always" if image.endswith(":latest")
                         or ":" not in image.split("/")[-1] else "IfNotPresent")
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(container, dict):
            _container(container)


def _template(obj: Obj) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        pod_spec(template["spec"])


def _pod(pod: Obj) -> None:
    if isinstance(pod.get("spec"), dict):
        pod_spec(pod["spec"])
    namespace, name = pod.get("metadata", {}).get("namespace", ""), pod["metadata"].get("name")
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        status.setdefault("image", "")
        status.setdefault("imageID", _image_id(str(status["image"])))
        container_key = f"{namespace}/{name}/{status.get('name')}"
        status.setdefault("containerID", f"containerd://{_digest(container_key)}")
        status.setdefault("ready", False)
        status.setdefault("restartCount", 0)


def _node(node: Obj) -> None:
    info = node.setdefault("status", {}).setdefault("nodeInfo", {})
    name = node["metadata"]["name"]
    for key, value in {
        "architecture": "amd64", "bootID": _digest(f"boot/{name}")[:32],
        "containerRuntimeVersion": "containerd://2.0.0", "kernelVersion": "6.8.0-hexabot",
        "kubeProxyVersion": "", "kubeletVersion": "v1.33.0",
        "machineID": _digest(f"machine/{name}")[:32], "operatingSystem": "linux",
        "osImage": "Hexabot sandbox", "systemUUID": _digest(f"uuid/{name}")[:32],
    }.items():
        info.setdefault(key, value)


def _deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault("strategy", {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    _template(obj)


def _statefulset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                       "rollingUpdate": {"partition": 0}})
    _template(obj)


def _daemonset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 1, "maxSurge": 0}})
    _template(obj)


def _service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if "clusterIP" not in spec:
        digest = int(_digest(obj["metadata"].get("namespace", "") + obj["metadata"]["name"]), 16)
        spec["clusterIP"] = f"10.96.{digest % 250}.{(digest // 250) % 250 + 2}"
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))


def _job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completions", 1)
    spec.setdefault("parallelism", 1)
    template = spec.get("template") or {}
    if isinstance(template.get("spec"), dict):
        template["spec"].setdefault("restartPolicy", "Never")
        pod_spec(template["spec"])


def _cronjob(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("suspend", False)
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if isinstance(job_spec, dict):
        _job({"spec": job_spec, "metadata": {}})


DEFAULTERS = {
    "Pod": _pod, "Node": _node, "Deployment": _deployment, "ReplicaSet": _template,
    "StatefulSet": _statefulset, "DaemonSet": _daemonset, "Service": _service, "Job": _job,
    "CronJob": _cronjob,
}


def apply(kind: str, obj: Obj) -> None:
    """Fill the defaults of ``obj`` (a ``kind``) in place."""
    defaulter = DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(obj)
