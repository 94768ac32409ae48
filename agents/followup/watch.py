"""What an approved change should come to, and whether it has: read as the requester.

- A Deployment (scaled, restarted, rolled back, applied): converged when the controller saw
  the change and every wanted replica is updated, ready and available, with no old pod left;
  failed as soon as one of its pods cannot run (crash-looping, image not pulled, not
  schedulable, container not created) — waiting longer would not help, the rollback might.
- A Job (a backup dump): converged when it succeeded, failed on its Failed condition or a pod
  that cannot run.
- A CronJob: converged once the API server holds it (the controller runs it on schedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents import verdicts
from confirmations.model import PendingAction
from tools import errors, registry
from tools.prometheus import pod_pattern
from tools.reads.pods import pod_summary
from tools.spec import ToolEnv

# Pod states that do not get better by waiting: the kubelet backs off from them.
STUCK = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
                   "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
                   "InvalidImageName", "Unschedulable"})
REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
PATHS = {"Deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
         "Job": "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
         "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs/{name}"}


@dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str


@dataclass
class Progress:
    state: str                      # following | converged | failed
    said: str                       # "4/4 ready", "2 of 4 pods CrashLoopBackOff (Error, exit 1)"
    selector: str = ""              # the pods' label selector, when there are pods
    facts: dict[str, Any] = field(default_factory=dict)


def subject(action: PendingAction) -> Subject | None:
    """What to follow after ``action`` executed; None when there is nothing to converge (a
    ConfigMap edit, a deletion, an exec, a pod deleted to be recreated)."""
    plan = action.plan
    if plan.tool in ("scale_deployment", "rollback_deployment"):
        return Subject("Deployment", str(plan.args["name"]), plan.namespace)
    if plan.tool in ("restart", "apply_yaml"):
        found = next((t for t in plan.targets if t.kind == "Deployment"), None)
        return Subject("Deployment", found.name, found.namespace) if found else None
    if plan.tool in ("create_backup_job", "create_cronjob", "create_backup_cronjob"):
        manifest = plan.payload.get("manifest") or {}
        kind, name = manifest.get("kind"), (manifest.get("metadata") or {}).get("name")
        if kind in ("Job", "CronJob") and name:
            return Subject(str(kind), str(name), plan.namespace)
    return None


def _stuck(pod: dict[str, Any], raw: dict[str, Any]) -> str:
    """Why ``pod`` (its summary, and the object) cannot run, or ""."""
    if pod["status"] in STUCK:
        return pod["status"]
    for condition in (raw.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            return "Unschedulable"
    return ""


def _selector(obj: dict[str, Any]) -> str:
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


async def _pods(env: ToolEnv, subject: Subject, selector: str
                ) -> list[tuple[dict[str, Any], str]]:
    """(summary, why it is stuck or "") for each live pod matching ``selector`` — pods being
    deleted or finished (an old revision's, an evicted one) say nothing of the change."""
    listing = await env.cluster.call("GET", f"/api/v1/namespaces/{subject.namespace}/pods",
                                     query=[("labelSelector", selector)],
                                     what=f"list pods of {subject.kind} {subject.name}")
    live = [raw for raw in listing.get("items") or []
            if not (raw.get("metadata") or {}).get("deletionTimestamp")
            and (raw.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]
    return [(summary, _stuck(summary, raw)) for raw in live for summary in [pod_summary(raw)]]


async def _new_revision(env: ToolEnv, subject: Subject, obj: dict[str, Any],
                        selector: str) -> str:
    """The selector of the Deployment's current ReplicaSet's pods (its ``pod-template-hash``
    added): the ReplicaSet carrying the Deployment's revision number."""
    revision = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    listing = await env.cluster.call(
        "GET", f"/apis/apps/v1/namespaces/{subject.namespace}/replicasets",
        query=[("labelSelector", selector)], what=f"list ReplicaSets of {subject.name}")
    for rs in listing.get("items") or []:
        meta = rs.get("metadata") or {}
        template_hash = (meta.get("labels") or {}).get(HASH)
        if revision and (meta.get("annotations") or {}).get(REVISION) == revision \
                and template_hash:
            return f"{selector},{HASH}={template_hash}"
    return selector


def _stuck_said(pods: list[tuple[dict[str, Any], str]]) -> str:
    stuck = [(p, why) for p, why in pods if why]
    worst, why = max(stuck, key=lambda s: (s[0]["restarts"], s[0]["name"]))
    last = f", last {worst['last_termination']}" if worst["last_termination"] else ""
    count = worst["restarts"]
    restarts = f", {count} restart{'' if count == 1 else 's'}" if count else ""
    return (f"{len(stuck)} of {len(pods)} pods {why} ({worst['name']}{last}{restarts})")


async def check(env: ToolEnv, subject: Subject) -> Progress:
    """Where ``subject`` stands now."""
    path = PATHS[subject.kind].format(ns=subject.namespace, name=subject.name)
    obj = await env.cluster.call("GET", path, what=f"read {subject.kind} {subject.name}")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if subject.kind == "CronJob":
        return Progress("converged", f"CronJob scheduled ({spec.get('schedule', '?')}"
                        + (", suspended" if spec.get("suspend") else "") + ")")
    if subject.kind == "Job":
        selector = f"job-name={subject.name}"
        pods = await _pods(env, subject, selector)
        if status.get("succeeded"):
            return Progress("converged", "Job complete", selector)
        failed = next((c for c in status.get("conditions") or []
                       if c.get("type") == "Failed" and c.get("status") == "True"), None)
        if failed is not None:
            return Progress("failed", f"Job failed: {failed.get('reason') or 'Failed'} "
                            f"{failed.get('message') or ''}".strip(), selector)
        if any(why for _, why in pods):
            return Progress("failed", _stuck_said(pods), selector)
        return Progress("following", f"Job running ({status.get('active', 0)} active)", selector)
    desired = int(spec.get("replicas", 1))
    counts = {k: int(status.get(k, 0) or 0) for k in (
        "replicas", "updatedReplicas", "readyReplicas", "availableReplicas")}
    selector = _selector(obj)
    current = await _new_revision(env, subject, obj, selector) if selector else ""
    pods = await _pods(env, subject, current) if current else []
    said = f"{counts['readyReplicas']}/{desired} ready"
    facts = {"desired": desired, **counts}
    if any(why for _, why in pods):
        return Progress("failed", f"{said}; {_stuck_said(pods)}", selector, facts)
    observed = int(status.get("observedGeneration", 0)) >= int(
        (obj.get("metadata") or {}).get("generation", 1))
    if observed and all(counts[k] == desired for k in counts) \
            and sum(1 for p, _ in pods if verdicts.ready(p)) >= desired:
        return Progress("converged", said, selector, facts)
    return Progress("following", said + (f", {counts['updatedReplicas']} updated"
                                         if counts["updatedReplicas"] != desired else ""),
                    selector, facts)


async def usage(env: ToolEnv, subject: Subject, selector: str) -> dict[str, float]:
    """The pods' average share of their CPU and memory limits (%), and their average CPU
    (millicores) and memory (MiB) — what is known of it (metrics may be missing); with a
    Prometheus, the workload's p95 latency (ms) and 5xx share (%) as well."""
    if not selector:
        return {}
    found = await _prometheus(env, subject)
    result = await registry.run(registry.get("get_resource_usage"), env,
                                {"namespace": subject.namespace, "label_selector": selector})
    rows = result.data.get("containers") or []
    for key, source, scale in (("cpu_pct", "cpu_pct_of_limit", 1.0),
                               ("memory_pct", "memory_pct_of_limit", 1.0),
                               ("cpu_m", "cpu", 1000.0), ("memory_mi", "memory", 1 / 2**20)):
        values = [float(r[source]) * scale for r in rows if r.get(source) is not None]
        if values:
            found[key] = round(sum(values) / len(values), 1)
    return found


async def _prometheus(env: ToolEnv, subject: Subject) -> dict[str, float]:
    """What the Prometheus says of the workload's traffic now (nothing without one, or when
    it does not answer: the follow-up does not wait on an optional dependency)."""
    if env.prometheus is None:
        return {}
    prom, pods = env.prometheus, pod_pattern(subject.kind, subject.name)
    found: dict[str, float] = {}
    try:
        latency = await prom.value(prom.latency_query.format(ns=subject.namespace, pods=pods))
        rate = await prom.value(prom.error_query.format(ns=subject.namespace, pods=pods))
    except errors.ToolError:
        return found
    if latency is not None:
        found["latency_ms"] = round(latency * 1000, 1)
    if rate is not None:
        found["error_pct"] = round(rate * 100, 2)
    return found


def compared(before: dict[str, float], after: dict[str, float]) -> str:
    """``CPU 226m → 169m per pod (45% → 34% of its limit); memory 318Mi → 317Mi per pod;
    p95 latency 180 → 120 ms; errors 1.20% → 0.10%``."""
    parts = []
    for label, absolute, unit, share in (("CPU", "cpu_m", "m", "cpu_pct"),
                                         ("memory", "memory_mi", "Mi", "memory_pct")):
        if absolute in before and absolute in after:
            part = f"{label} {before[absolute]:.0f}{unit} → {after[absolute]:.0f}{unit} per pod"
            if share in before and share in after:
                part += f" ({before[share]:.0f}% → {after[share]:.0f}% of its limit)"
            parts.append(part)
    if "latency_ms" in before and "latency_ms" in after:
        parts.append(f"p95 latency {before['latency_ms']:.0f} → {after['latency_ms']:.0f} ms")
    if "error_pct" in before and "error_pct" in after:
        parts.append(f"errors {before['error_pct']:.2f}% → {after['error_pct']:.2f}%")
    return "; ".join(parts)
