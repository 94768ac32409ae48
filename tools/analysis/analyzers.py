"""Analyzers: pure functions from a Snapshot to Findings, with stable codes.

Pod-level problems are attributed to the workload that owns the pod (found by its selector), so
a Deployment with three crashing pods is one finding; service and rollout symptoms caused by a
pod-level problem are folded into that finding (``engine.correlate``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from tools import quantity
from tools.analysis import admission, availability, network, proposals, storage
from tools.analysis.findings import Finding
from tools.analysis.snapshot import Obj, Snapshot

MI = 2**20
CPU_RISK = 0.80
MEMORY_RISK = 0.90


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def owner(snapshot: Snapshot, pod: Obj) -> tuple[str, str, Obj | None]:
    """(kind, name, object) of the workload that runs ``pod`` (the pod itself if none)."""
    labels = pod["metadata"].get("labels") or {}
    for kind, items in (("Deployment", snapshot["deployments"]),
                        ("StatefulSet", snapshot["statefulsets"]),
                        ("DaemonSet", snapshot["daemonsets"])):
        for workload in items:
            selector = ((workload.get("spec") or {}).get("selector") or {}).get(
                "matchLabels") or {}
            if _matches(selector, labels):
                return kind, workload["metadata"]["name"], workload
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "Job":
            job = next((j for j in snapshot["jobs"] if j["metadata"]["name"] == ref["name"]),
                       None)
            return "Job", str(ref["name"]), job
    return "Pod", pod["metadata"]["name"], None


UNSCHEDULABLE_FIXES = (  # what the scheduler's message says → what to do about it
    ("Insufficient cpu", "lower the pod's requests (cpu) or add nodes with free cpu"),
    ("Insufficient memory", "lower the pod's requests (memory) or add nodes with free memory"),
    ("taint", "add a matching toleration, or run it on nodes without that taint"),
    ("affinity", "fix the pod's nodeSelector/affinity, or label a node to match it"),
    ("selector", "fix the pod's nodeSelector/affinity, or label a node to match it"),
)


def unschedulable_fix(message: str) -> str:
    return next((fix for hint, fix in UNSCHEDULABLE_FIXES if hint in message),
                "lower the pod's requests, add capacity, or fix taints/selectors")


def _limit(pod: Obj, container: str, resource: str) -> float | None:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return quantity.parse(((c.get("resources") or {}).get("limits") or {}).get(resource))
    return None


def _suggest_memory(peak: float | None, limit: float) -> float:
    """A new limit: the next power-of-two MiB above 125 % of the peak (or double the limit)."""
    need = (peak or limit) * 1.25 if peak else limit * 2
    return float(2 ** math.ceil(math.log2(need / MI)) * MI)


def pods(snapshot: Snapshot) -> list[Finding]:
    found: dict[tuple[str, str, str], Finding] = {}
    ns = snapshot.namespace
    for pod in snapshot["pods"]:
        name = pod["metadata"]["name"]
        kind, workload_name, workload = owner(snapshot, pod)
        status = pod.get("status") or {}
        usage = snapshot.metrics_for(name)

        def add(code: str, severity: str, cause: str, fix: str, evidence: list[str],
                proposal: dict[str, Any] | None = None, _kind: str = kind,
                _name: str = workload_name) -> None:
            finding = found.setdefault((code, _kind, _name), Finding(
                code, severity, _kind, ns, _name, cause, fix, [], [], proposal))
            finding.evidence += [e for e in evidence if e not in finding.evidence]

        if status.get("reason") == "Evicted":
            add("EvictedPods", "warning", f"pod {name} was evicted: {status.get('message', '')}",
                "delete the evicted pods; check node pressure and the pod's requests",
                [f"pod {name} status.reason=Evicted"])
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False" and \
                    cond.get("reason") == "Unschedulable":
                add("Unschedulable", "critical", f"no node can run {name}: "
                    f"{cond.get('message', 'no reason given')}",
                    unschedulable_fix(cond.get("message") or ""),
                    [f"pod {name} PodScheduled=False: {cond.get('message', '')}"])
        for init in status.get("initContainerStatuses") or []:
            term = ((init.get("lastState") or {}).get("terminated") or
                    (init.get("state") or {}).get("terminated") or {})
            if term and term.get("exitCode", 0) != 0:
                add("InitContainerFailing", "critical", f"init container {init['name']} of "
                    f"{name} exits {term.get('exitCode')}", "read its logs and fix what it "
                    "waits for", [f"pod {name} init {init['name']} exit {term.get('exitCode')}"])
        for c in status.get("containerStatuses") or []:
            cname, waiting = c["name"], (c.get("state") or {}).get("waiting") or {}
            last = (c.get("lastState") or {}).get("terminated") or {}
            restarts = int(c.get("restartCount", 0))
            if last.get("reason") == "OOMKilled":
                limit = _limit(pod, cname, "memory") or 0.0
                peak = quantity.parse((usage.get(cname) or {}).get("memory"))
                new = _suggest_memory(peak, limit) if limit else 0.0
                add("OOMKilled", "critical",
                    f"container {cname} is killed for using more memory than its "
                    f"{quantity.memory(limit)} limit" + (
                        f" (peak {quantity.memory(peak)})" if peak else ""),
                    f"raise the memory limit to {quantity.memory(new)} (or make it use less)",
                    [f"pod {name} container {cname}: lastState.terminated.reason=OOMKilled, "
                     f"exitCode={last.get('exitCode')}, restartCount={restarts}",
                     f"limits.memory={quantity.memory(limit)}"] + (
                        [f"metrics peak memory={quantity.memory(peak)}"] if peak else []),
                    proposals.resources(workload, {cname: {"limits": {
                        "memory": quantity.memory(new)}}}) if new else None)
                continue
            reason = waiting.get("reason", "")
            if reason in ("ImagePullBackOff", "ErrImagePull"):
                add("ImagePullBackOff", "critical", f"image {c.get('image')} cannot be pulled",
                    "check the image name and tag, and the registry credentials",
                    [f"pod {name} container {cname}: {reason} {waiting.get('message', '')}"])
            elif reason == "CreateContainerConfigError":
                add("CreateContainerConfigError", "critical",
                    f"container {cname} refers to configuration that does not exist: "
                    f"{waiting.get('message', '')}", "create the missing ConfigMap/Secret/key "
                    "or fix the reference", [f"pod {name} container {cname}: {reason}"])
            elif reason == "CrashLoopBackOff":
                add("CrashLoopBackOff", "critical", f"container {cname} keeps exiting "
                    f"(exit {last.get('exitCode', '?')}, {last.get('reason', 'no reason')})",
                    "read the previous container's logs for the error it exits with",
                    [f"pod {name} container {cname}: CrashLoopBackOff, restartCount={restarts}"])
            elif not c.get("ready") and (status.get("phase") == "Running") and any(
                    "Readiness probe failed" in (e.get("message") or "")
                    for e in snapshot.events_for(name)):
                add("ReadinessProbeFailing", "warning", f"{name} runs but fails its readiness "
                    "probe, so it gets no traffic", "check the probe path/port and the app's "
                    "health endpoint", [f"pod {name} container {cname}: ready=false"])
            if restarts and any("Liveness probe failed" in (e.get("message") or "")
                                for e in snapshot.events_for(name)):
                add("LivenessProbeRestarts", "warning", f"{cname} is restarted by its liveness "
                    "probe", "relax the probe (initialDelaySeconds, timeout) or fix the "
                    "endpoint", [f"pod {name}: restartCount={restarts}, liveness failures"])
            cpu = quantity.parse((usage.get(cname) or {}).get("cpu"))
            cpu_limit = _limit(pod, cname, "cpu")
            if cpu is not None and cpu_limit and cpu >= CPU_RISK * cpu_limit:
                replicas = int(((workload or {}).get("spec") or {}).get("replicas", 1))
                add("CPUThrottlingRisk", "warning", f"{cname} uses "
                    f"{100 * cpu / cpu_limit:.0f}% of its CPU limit and will be throttled",
                    f"add a replica ({replicas} → {replicas + 1}) or raise the CPU limit", [
                        f"pod {name} container {cname}: cpu {quantity.cpu(cpu)} of limit "
                        f"{quantity.cpu(cpu_limit)}"],
                    proposals.scale(workload_name, replicas + 1)
                    if kind == "Deployment" else None)
            memory = quantity.parse((usage.get(cname) or {}).get("memory"))
            memory_limit = _limit(pod, cname, "memory")
            if memory is not None and memory_limit and memory >= MEMORY_RISK * memory_limit \
                    and last.get("reason") != "OOMKilled":
                add("MemoryNearLimit", "warning", f"{cname} uses "
                    f"{100 * memory / memory_limit:.0f}% of its memory limit",
                    "raise the memory limit before it is OOMKilled", [
                        f"pod {name} container {cname}: memory {quantity.memory(memory)} of "
                        f"limit {quantity.memory(memory_limit)}"])
    return list(found.values())


def _ingress_backends(snapshot: Snapshot) -> list[tuple[Obj, str, str]]:
    """(ingress, host+path, service name) for every backend of every Ingress."""
    found = []
    for ingress in snapshot["ingresses"]:
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            for path in ((rule.get("http") or {}).get("paths")) or []:
                service = ((path.get("backend") or {}).get("service") or {}).get("name")
                if service:
                    found.append((ingress, f"{rule.get('host', '*')}{path.get('path', '/')}",
                                  str(service)))
    return found


def services(snapshot: Snapshot) -> list[Finding]:
    findings = []
    endpoints = {e["metadata"]["name"]: e for e in snapshot["endpoints"]}
    for svc in snapshot["services"]:
        spec, name = svc.get("spec") or {}, svc["metadata"]["name"]
        selector = spec.get("selector") or {}
        if not selector:
            continue
        backing = [p for p in snapshot["pods"]
                   if _matches(selector, p["metadata"].get("labels") or {})]
        ready = sum(len(s.get("addresses") or [])
                    for s in (endpoints.get(name) or {}).get("subsets") or [])
        if not ready:
            routes = [f"ingress {i['metadata']['name']} routes {path} to it"
                      for i, path, backend in _ingress_backends(snapshot) if backend == name]
            findings.append(Finding(
                "ServiceNoEndpoints", "critical", "Service", snapshot.namespace, name,
                f"service {name} has no ready endpoint ({len(backing)} pods match its selector)",
                "make the selected pods ready, or fix the selector",
                [f"selector {selector}", f"{len(backing)} matching pods, 0 ready endpoints",
                 *routes]))
        ports = {p.get("containerPort") for pod in backing
                 for c in (pod.get("spec") or {}).get("containers") or []
                 for p in c.get("ports") or []} | {p.get("name") for pod in backing
                                                    for c in (pod.get("spec") or {}).get(
                                                        "containers") or []
                                                    for p in c.get("ports") or []}
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if backing and ports - {None} and target not in ports:
                findings.append(Finding(
                    "ServicePortMismatch", "critical", "Service", snapshot.namespace, name,
                    f"service port {port.get('port')} targets {target}, which no selected "
                    "container exposes", "set targetPort to the container's port",
                    [f"targetPort={target}",
                     f"container ports={sorted(map(str, ports - {None}))}"]))
    return findings


def workloads(snapshot: Snapshot) -> list[Finding]:
    findings, ns = [], snapshot.namespace
    for d in snapshot["deployments"]:
        for cond in (d.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == \
                    "ProgressDeadlineExceeded":
                findings.append(Finding(
                    "RolloutStuck", "critical", "Deployment", ns, d["metadata"]["name"],
                    "the rollout did not progress within its deadline",
                    "find why new pods are not ready (see the pod findings) or roll back",
                    [f"Progressing: NO — {cond.get('message', '')}"]))
    for hpa in snapshot["hpas"]:
        spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
        if spec.get("maxReplicas") and status.get("currentReplicas", 0) >= spec["maxReplicas"]:
            findings.append(Finding(
                "HPAAtMaxReplicas", "warning", "HorizontalPodAutoscaler", ns,
                hpa["metadata"]["name"], "the autoscaler is at its maximum and cannot add pods",
                "raise maxReplicas or make each pod do more",
                [f"currentReplicas={status.get('currentReplicas')} maxReplicas="
                 f"{spec['maxReplicas']}"]))
    for quota in snapshot["quotas"]:
        status = quota.get("status") or {}
        for key, hard in (status.get("hard") or {}).items():
            used = (status.get("used") or {}).get(key)
            if used is not None and (quantity.parse(used) or 0) >= (quantity.parse(hard) or 0):
                findings.append(Finding(
                    "QuotaExceeded", "critical", "ResourceQuota", ns, quota["metadata"]["name"],
                    f"quota {key} is used up ({used} of {hard})",
                    "raise the quota or lower what the namespace requests",
                    [f"{key}: used {used}, hard {hard}"]))
    for job in snapshot["jobs"]:
        for cond in (job.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Failed" and cond.get("reason") == "BackoffLimitExceeded":
                findings.append(Finding(
                    "JobBackoffLimitExceeded", "critical", "Job", ns, job["metadata"]["name"],
                    "the job failed more times than its backoffLimit allows",
                    "read the failed pods' logs and re-run the job when fixed",
                    [f"condition Failed: {cond.get('message', '')}"]))
    for cron in snapshot["cronjobs"]:
        finding = _cronjob(snapshot, cron)
        if finding is not None:
            findings.append(finding)
    return findings


MISSED_GRACE = timedelta(minutes=5)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _cronjob(snapshot: Snapshot, cron: Obj) -> Finding | None:
    """Suspended, or its last expected run (past the starting deadline) never started."""
    spec, status, name = cron.get("spec") or {}, cron.get("status") or {}, \
        cron["metadata"]["name"]
    if spec.get("suspend"):
        return Finding("CronJobSuspendedOrMissed", "warning", "CronJob", snapshot.namespace,
                       name, "the CronJob is suspended: nothing runs on its schedule",
                       "unsuspend it if it should run", ["spec.suspend=true"])
    grace = max(MISSED_GRACE, timedelta(seconds=int(spec.get("startingDeadlineSeconds") or 0)))
    schedule = str(spec.get("schedule", ""))
    if not croniter.is_valid(schedule):
        return None
    due = croniter(schedule, snapshot.at - grace).get_prev(datetime)
    last = _time(status.get("lastScheduleTime")) or _time(
        cron["metadata"].get("creationTimestamp"))
    if last is None or due <= last:
        return None
    return Finding("CronJobSuspendedOrMissed", "warning", "CronJob", snapshot.namespace, name,
                   f"the run due at {due:%Y-%m-%d %H:%M} UTC never started",
                   "check the CronJob controller's events (too many missed starts, or a "
                   "startingDeadlineSeconds too short) and its concurrencyPolicy",
                   [f"schedule {spec.get('schedule')!r}", "status.lastScheduleTime="
                    f"{status.get('lastScheduleTime') or 'never'}"])


def nodes(snapshot: Snapshot) -> list[Finding]:
    findings = []
    for node in snapshot["nodes"]:
        name = node["metadata"]["name"]
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") != "True":
                findings.append(Finding("NodeNotReady", "critical", "Node", "", name,
                                        f"node {name} is not ready", "check the kubelet and "
                                        "the node's health", [f"Ready={cond.get('status')}"]))
            elif cond.get("type") in ("MemoryPressure", "DiskPressure", "PIDPressure") and \
                    cond.get("status") == "True":
                findings.append(Finding("NodePressure", "warning", "Node", "", name,
                                        f"node {name} reports {cond['type']}",
                                        "free resources or add nodes",
                                        [f"{cond['type']}=True"]))
    return findings


ERROR_LINE = re.compile(r"\b(ERROR|FATAL|CRITICAL|panic|Exception|Traceback)\b")
ERROR_BURST = 3


def logs(snapshot: Snapshot) -> list[Finding]:
    findings: dict[tuple[str, str], Finding] = {}
    by_name = {p["metadata"]["name"]: p for p in snapshot["pods"]}
    for name, text in snapshot.logs.items():
        errors = [line for line in text.splitlines() if ERROR_LINE.search(line)]
        if len(errors) < ERROR_BURST or name not in by_name:
            continue
        kind, workload, _ = owner(snapshot, by_name[name])
        finding = findings.setdefault((kind, workload), Finding(
            "ErrorsInLogs", "warning", kind, snapshot.namespace, workload,
            f"{len(errors)} error lines in the recent logs of {name}",
            "read the errors below; they usually name the failing dependency or input"))
        finding.evidence += [f"{name}: {line.strip()[:200]}" for line in errors[-3:]]
    return list(findings.values())


ANALYZERS = (pods, services, workloads, nodes, logs, admission.refused_pods, admission.webhooks,
             storage.pvcs, storage.volumes, network.ingresses, network.network_policies,
             availability.pdbs)
