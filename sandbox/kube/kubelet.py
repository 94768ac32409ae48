"""The kubelet's report on a pod it starts: running and ready, crash-looping, or stuck pulling.

On a real node the kubelet pulls each container's image, starts the container and writes the
pod's status.  Three outcomes matter to someone watching a rollout:

- **Started.**  Phase ``Running``, every container ``ready`` with ``state.running``, conditions
  ``Ready``/``ContainersReady`` True, a ``Started`` event.
- **Crash loop** (an image declared with ``crash``, ``images.py``).  The container exits, the
  kubelet restarts it after a back-off that doubles from 10s to a 5m cap.  The pod stays
  ``Running``; the container is not ready, ``state.waiting.reason`` is ``CrashLoopBackOff``
  (message ``back-off 10s restarting failed container=NAME pod=POD_NAMESPACE(UID)``),
  ``lastState.terminated`` carries the exit code and reason, ``restartCount`` grows, and the
  kubelet records a Warning ``BackOff`` event (``Back-off restarting failed container NAME in pod
  ...``) whose ``count`` rises on each restart.
- **Pull failure** (``pull: fail``).  The container never starts: phase ``Pending``,
  ``state.waiting.reason`` ``ImagePullBackOff`` (``Back-off pulling image "REF"``), a Warning
  ``Failed`` event with the registry's answer and a ``BackOff`` event.

The sandbox compresses time: the n-th restart comes ``2**n * pod_start_delay`` seconds after the
previous one (the messages still quote the kubelet's real back-off), and after
:data:`RESTARTS` restarts the count stops moving (the back-off has reached its cap).  A restart
timer ends with its pod (deleted, or replaced under the same name).  Behaviours apply when a
container starts; pods already running, and pods seeded by a fixture, keep their status.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from collections.abc import Callable
from typing import Any

from sandbox.kube.cluster import Cluster
from sandbox.kube.images import Behaviour, Crash, PullFailure
from sandbox.kube.store import Obj, now_iso

RESTARTS = 6  # restartCount where the sandbox's back-off stops (the kubelet's 5m cap)
BACKOFF_BASE, BACKOFF_CAP = 10, 300  # the kubelet's container restart back-off, seconds

Event = Callable[..., Obj | None]  # Controllers.event(about, reason, message, type_, ...)


def go_duration(seconds: int) -> str:
    """A whole number of seconds as Go's time.Duration prints it (``10s``, ``1m20s``)."""
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def backoff(restarts: int) -> str:
    """The back-off the kubelet quotes after a container's ``restarts``-th restart."""
    return go_duration(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, restarts - 1)))


def _conditions(ready: bool, unready: list[str]) -> list[Obj]:
    conditions = []
    for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
        condition: Obj = {"type": kind, "status": "True", "lastTransitionTime": now_iso()}
        if kind in ("ContainersReady", "Ready") and not ready:
            condition.update(status="False", reason="ContainersNotReady",
                             message=f"containers with unready status: [{' '.join(unready)}]")
        conditions.append(condition)
    return conditions


def _pod_ref(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


class Kubelet:
    def __init__(self, cluster: Cluster, event: Event, pod_start_delay: float) -> None:
        self.cluster = cluster
        self.event = event
        self.pod_start_delay = pod_start_delay
        self.backoffs: dict[str, asyncio.TimerHandle] = {}  # pod uid -> its next restart
        self._backoff_events: dict[tuple[str, str], str] = {}  # (pod uid, container) -> event

    def start_pod(self, namespace: str, name: str, phase: str = "Running") -> None:
        """Report the pod as started (``Running``) or, for a Job's pod, finished
        (``Succeeded``) -- unless one of its containers' images is declared bad."""
        pod = self.cluster.store.peek(self.cluster.pods, namespace, name)
        if pod is None:
            return
        pod = copy.deepcopy(pod)
        if phase != "Running" and any(
                "waiting" in (s.get("state") or {})
                for s in (pod.get("status") or {}).get("containerStatuses") or []):
            return  # a Job pod that never ran cleanly does not complete
        containers = pod["spec"].get("containers") or []
        behaviours = {c["name"]: self.cluster.images.get(c.get("image", ""))
                      for c in containers}
        if phase == "Running" and any(behaviours.values()):
            self._start_failing(pod, behaviours)
            return
        running = phase == "Running"
        pod["status"] = {
            "phase": phase, "podIP": pod["status"].get("podIP") or _pod_ip(),
            "startTime": pod["status"].get("startTime") or now_iso(),
            "conditions": [{"type": t, "status": "True" if running or t == "PodScheduled"
                            else "False", "lastTransitionTime": now_iso()}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{
                "name": c["name"], "image": c.get("image", ""), "ready": running,
                "restartCount": 0, "started": running,
                "state": {"running": {"startedAt": now_iso()}} if running else {
                    "terminated": {"exitCode": 0, "reason": "Completed",
                                   "finishedAt": now_iso()}},
            } for c in containers],
        }
        self.cluster.store.update(self.cluster.pods, pod, check_version=False)
        if running:
            self.event(pod, "Started", "Started container(s) "
                       + ", ".join(c["name"] for c in containers))

    # -- bad images ----------------------------------------------------------------------
    def _start_failing(self, pod: Obj, behaviours: dict[str, Behaviour | None]) -> None:
        statuses = [self._container_status(pod, c, behaviours[c["name"]])
                    for c in pod["spec"].get("containers") or []]
        unready = [s["name"] for s in statuses if not s["ready"]]
        pulling = any(isinstance(b, PullFailure) for b in behaviours.values())
        pod["status"] = {
            "phase": "Pending" if pulling else "Running", "podIP": pod["status"].get(
                "podIP") or _pod_ip(),
            "startTime": pod["status"].get("startTime") or now_iso(),
            "conditions": _conditions(False, unready), "containerStatuses": statuses,
        }
        stored = self.cluster.store.update(self.cluster.pods, pod, check_version=False)
        for container in pod["spec"].get("containers") or []:
            behaviour, image = behaviours[container["name"]], container.get("image", "")
            if isinstance(behaviour, PullFailure):
                self._kubelet_event(stored, container["name"], "Failed",
                                    f'Failed to pull image "{image}": rpc error: code = '
                                    f'NotFound desc = failed to pull and unpack image "{image}":'
                                    f' failed to resolve reference "{image}": {image}: not found',
                                    "Warning")
                self._kubelet_event(stored, container["name"], "BackOff",
                                    f'Back-off pulling image "{image}"')
            elif isinstance(behaviour, Crash):
                self._crash_event(stored, container["name"])
        if any(isinstance(b, Crash) for b in behaviours.values()):
            self._schedule(stored, 1)

    def _container_status(self, pod: Obj, container: Obj,
                          behaviour: Behaviour | None) -> dict[str, Any]:
        name, image = container["name"], container.get("image", "")
        status: dict[str, Any] = {"name": name, "image": image, "imageID": "",
                                  "ready": behaviour is None, "started": behaviour is None,
                                  "restartCount": 0}
        if behaviour is None:
            status["state"] = {"running": {"startedAt": now_iso()}}
        elif isinstance(behaviour, PullFailure):
            status["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                           "message": f'Back-off pulling image "{image}"'}}
        else:
            status["restartCount"] = 1
            status["state"] = self._waiting(pod, name, 1)
            terminated: dict[str, Any] = {"exitCode": behaviour.exit_code,
                                          "reason": behaviour.reason,
                                          "startedAt": now_iso(), "finishedAt": now_iso()}
            if behaviour.message:
                terminated["message"] = behaviour.message
            status["lastState"] = {"terminated": terminated}
        return status

    @staticmethod
    def _waiting(pod: Obj, container: str, restarts: int) -> Obj:
        return {"waiting": {"reason": "CrashLoopBackOff", "message":
                            f"back-off {backoff(restarts)} restarting failed container="
                            f"{container} pod={_pod_ref(pod)}"}}

    def _schedule(self, pod: Obj, restarts: int) -> None:
        uid = pod["metadata"]["uid"]
        delay = self.pod_start_delay * 2 ** restarts
        self.backoffs[uid] = asyncio.get_running_loop().call_later(
            delay, self._restart, pod["metadata"]["namespace"], pod["metadata"]["name"], uid)

    def _restart(self, namespace: str, name: str, uid: str) -> None:
        """The back-off has passed: the kubelet runs the container again, and it exits."""
        self.backoffs.pop(uid, None)
        pod = self.cluster.store.peek(self.cluster.pods, namespace, name)
        if pod is None or pod["metadata"]["uid"] != uid:
            return
        pod = copy.deepcopy(pod)
        restarted, restarts = [], 0
        for status in pod["status"].get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") != "CrashLoopBackOff":
                continue
            status["restartCount"] = restarts = status.get("restartCount", 0) + 1
            status["state"] = self._waiting(pod, status["name"], restarts)
            terminated = (status.get("lastState") or {}).get("terminated")
            if terminated is not None:
                terminated.update(startedAt=now_iso(), finishedAt=now_iso())
            restarted.append(status["name"])
        if not restarted:
            return
        stored = self.cluster.store.update(self.cluster.pods, pod, check_version=False)
        for container in restarted:
            self._crash_event(stored, container)
        if restarts < RESTARTS:
            self._schedule(stored, restarts)

    def _crash_event(self, pod: Obj, container: str) -> None:
        """One ``BackOff`` event per container, its count raised on each restart (as the
        kubelet's event recorder aggregates repeats)."""
        key = (pod["metadata"]["uid"], container)
        events = self.cluster.registry.require("", "v1", "events")
        name = self._backoff_events.get(key)
        current = self.cluster.store.peek(events, pod["metadata"]["namespace"], name) \
            if name else None
        if current is not None:
            current = copy.deepcopy(current)
            current["count"] = current.get("count", 1) + 1
            current["lastTimestamp"] = now_iso()
            self.cluster.store.update(events, current, check_version=False)
            return
        created = self._kubelet_event(
            pod, container, "BackOff", f"Back-off restarting failed container {container} in "
            f"pod {_pod_ref(pod)}", "Warning")
        if created is not None:
            self._backoff_events[key] = created["metadata"]["name"]

    def _kubelet_event(self, pod: Obj, container: str, reason: str, message: str,
                       type_: str = "Normal") -> Obj | None:
        return self.event(pod, reason, message, type_, field_path=f"spec.containers{{"
                          f"{container}}}", component="kubelet",
                          host=pod["spec"].get("nodeName", ""))

    def forget(self, pod: Obj) -> None:
        """The pod is gone: its restart timer and event bookkeeping go with it."""
        uid = pod["metadata"].get("uid", "")
        handle = self.backoffs.pop(uid, None)
        if handle is not None:
            handle.cancel()
        for key in [k for k in self._backoff_events if k[0] == uid]:
            del self._backoff_events[key]

    def stop(self) -> None:
        for handle in self.backoffs.values():
            handle.cancel()
        self.backoffs.clear()


def _pod_ip() -> str:
    return f"10.244.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
