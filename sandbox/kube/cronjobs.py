"""A light CronJob controller: a CronJob's Job starts when its schedule comes due.

Like Kubernetes' controller it looks for the most recent due time after ``lastScheduleTime``
(or the CronJob's creation): it starts a Job for it unless that is later than
``startingDeadlineSeconds`` (then a ``MissSchedule`` Warning event, once), the CronJob is
suspended, or ``concurrencyPolicy: Forbid`` and a Job is still running.  Starting sets
``status.lastScheduleTime``; the Job controller then runs the Job as usual.  Times are UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter

from sandbox.kube.cluster import Cluster
from sandbox.kube.errors import ApiError
from sandbox.kube.store import Obj

log = logging.getLogger("hexabot.sandbox.kube")
Event = Callable[..., object]  # Controllers.event(about, reason, message, type_)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class CronJobs:
    def __init__(self, cluster: Cluster, event: Event, interval: float = 10.0) -> None:
        self.cluster, self.event, self.interval = cluster, event, interval
        self.kind = cluster.registry.require("batch", "v1", "cronjobs")
        self.jobs = cluster.registry.require("batch", "v1", "jobs")
        self._warned: set[tuple[str, datetime]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                self.tick(datetime.now(UTC))
            except ApiError as exc:  # an object vanished mid-way: the next tick heals it
                log.debug("cronjob controller skipped a tick: %s", exc.message)
            await asyncio.sleep(self.interval)

    def tick(self, now: datetime) -> None:
        for cron in list(self.cluster.store.iter(self.kind)):
            self._sync(cron, now)

    def _sync(self, cron: Obj, now: datetime) -> None:
        spec, status = cron.get("spec") or {}, cron.get("status") or {}
        schedule = str(spec.get("schedule", ""))
        if spec.get("suspend") or not croniter.is_valid(schedule):
            return
        last = _time(status.get("lastScheduleTime")) or _time(
            cron["metadata"].get("creationTimestamp")) or now
        due = croniter(schedule, now).get_prev(datetime)
        if due <= last:
            return
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and due + timedelta(seconds=int(deadline)) < now:
            if (cron["metadata"]["uid"], due) not in self._warned:
                self._warned.add((cron["metadata"]["uid"], due))
                self.event(cron, "MissSchedule", f"Missed scheduled time to start a job: "
                            f"{due:%Y-%m-%dT%H:%M:%SZ}", "Warning")
            return
        owned = self.cluster.owned_by(self.jobs, cron)
        if spec.get("concurrencyPolicy") == "Forbid" and any(
                (j.get("status") or {}).get("active") for j in owned):
            return
        template = spec.get("jobTemplate") or {}
        name = f"{cron['metadata']['name']}-{int(due.timestamp() // 60)}"
        namespace = cron["metadata"]["namespace"]
        if self.cluster.store.peek(self.jobs, namespace, name) is None:
            self.cluster.store.create(self.jobs, {
                "metadata": {"name": name, "namespace": namespace,
                             "labels": copy.deepcopy((template.get("metadata") or {}).get(
                                 "labels") or {}),
                             "ownerReferences": [{
                                 "apiVersion": "batch/v1", "kind": "CronJob",
                                 "name": cron["metadata"]["name"],
                                 "uid": cron["metadata"]["uid"], "controller": True}]},
                "spec": copy.deepcopy(template.get("spec") or {})})
            self.event(cron, "SuccessfulCreate", f"Created job {name}")
        updated = copy.deepcopy(cron)
        updated["status"] = {**status, "lastScheduleTime": f"{due:%Y-%m-%dT%H:%M:%SZ}"}
        self.cluster.store.update(self.kind, updated, check_version=False)
