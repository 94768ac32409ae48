"""list_pods and view_logs.

list_pods answers worst first: failing pods (CrashLoopBackOff, Error, OOMKilled, ImagePull…),
then pods not yet running, not ready, or restarting often; each of them is named, and when the
whole table does not fit the healthy pods are counted per workload in one line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from tools.args import Name, Selector, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import Body, Layout, age, bound, fit, rows, squeeze, tally, wrap

LOG_BYTES_FROM_SERVER = 256 * 1024  # never pull more than this from the API server
HIGH_RESTARTS = 5  # a running, ready pod restarted this often is named among the unhealthy
FAILING = frozenset({
    "CrashLoopBackOff", "Error", "OOMKilled", "ImagePullBackOff", "ErrImagePull",
    "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", "ContainerCannotRun", "ContainerStatusUnknown",
    "DeadlineExceeded", "Evicted", "Failed", "Unknown"})
STARTING = frozenset({"Pending", "ContainerCreating", "PodInitializing"})
COLUMNS = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "LAST TERMINATION"]
CRONJOB_RUN = re.compile(r"-\d{8,}$")  # a CronJob's Job: its name + the scheduled minute


def workload_of(pod: dict[str, Any]) -> str:
    """The name of what runs ``pod`` (Deployment, StatefulSet, DaemonSet, CronJob…), from its
    owner and labels alone; the pod's own name when nothing owns it."""
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    template_hash = labels.get("pod-template-hash")
    for ref in meta.get("ownerReferences") or []:
        name = str(ref.get("name") or "")
        if ref.get("kind") == "ReplicaSet" and template_hash and name.endswith(
                f"-{template_hash}"):
            return name[: -len(template_hash) - 1]
        if ref.get("kind") == "Job":
            return CRONJOB_RUN.sub("", name)
        if name:
            return name
    name = str(meta["name"])
    if template_hash and f"-{template_hash}-" in name:
        return name.split(f"-{template_hash}-")[0]
    return str(labels.get("app.kubernetes.io/name") or labels.get("app") or name)


class ListPodsArgs(ToolArgs):
    label_selector: Selector | None = Field(default=None,
                                            description="e.g. app=web-app (optional)")


def pod_summary(pod: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The facts about a pod a person asks for first (its age as of ``now``)."""
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    state = "Terminating" if pod["metadata"].get("deletionTimestamp") else status.get(
        "phase", "Unknown")
    last_reason, exit_code = "", None
    for c in containers:
        current = c.get("state") or {}
        reason = (current.get("waiting") or {}).get("reason") or (
            current.get("terminated") or {}).get("reason")
        if reason:
            state = reason
        terminated = (c.get("lastState") or {}).get("terminated") or {}
        if terminated:
            last_reason, exit_code = terminated.get("reason", ""), terminated.get("exitCode")
    total = len((pod.get("spec") or {}).get("containers") or []) or len(containers)
    return {
        "name": pod["metadata"]["name"], "phase": status.get("phase", "Unknown"),
        "status": state, "ready": f"{sum(1 for c in containers if c.get('ready'))}/{total}",
        "restarts": sum(int(c.get("restartCount", 0)) for c in containers),
        "age": age(pod["metadata"].get("creationTimestamp"), now),
        "node": (pod.get("spec") or {}).get("nodeName", "-"),
        "last_termination": f"{last_reason} (exit {exit_code})" if last_reason else "",
        "workload": workload_of(pod),
    }


def rank(pod: dict[str, Any]) -> int | None:
    """How bad ``pod`` (a :func:`pod_summary`) is: 0 failing, 1 not started, 2 not ready,
    3 restarting often, OOMKilled before or terminating; None: healthy."""
    status, phase = pod["status"], pod["phase"]
    if phase == "Succeeded":
        return None
    if status in FAILING or phase in ("Failed", "Unknown"):
        return 0
    if phase == "Pending" or status in STARTING or status.startswith("Init:"):
        return 1
    ready, _, total = pod["ready"].partition("/")
    if ready != total and status != "Terminating":
        return 2
    if (pod["restarts"] >= HIGH_RESTARTS or "OOMKilled" in pod["last_termination"]
            or status == "Terminating"):
        return 3
    return None


def _cells(pod: dict[str, Any]) -> list[str]:
    return [pod["name"], pod["ready"], pod["status"], str(pod["restarts"]), pod["age"],
            pod["node"], pod["last_termination"] or "-"]


def _compact(bad: list[dict[str, Any]], squeezed: bool) -> Body:
    """The unhealthy pods by status and last termination, names only (or squeezed)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for pod in bad:
        status = pod["status"] + (" but not ready" if rank(pod) == 2 else "")
        groups.setdefault((status, pod["last_termination"]), []).append(pod)
    lines: Body = []
    for (status, last), pods in groups.items():
        restarts = sorted(p["restarts"] for p in pods)
        facts = [f"{restarts[0]}-{restarts[-1]} restarts" if restarts[0] != restarts[-1]
                 else f"{restarts[0]} restarts"] if restarts[-1] else []
        facts += [f"last {last}"] if last else []
        lines.append((f"{status} ×{len(pods)}" + (f" ({', '.join(facts)})" if facts else "")
                      + ":", 0))
        names = [p["name"] for p in pods]
        lines += wrap(squeeze(names) if squeezed else [(n, 1) for n in names])
    return lines


def render(head: str, pods: list[dict[str, Any]], limit: int) -> tuple[str, bool]:
    """Worst first, every unhealthy pod named, within ``limit`` bytes (see tools.text.fit)."""
    ranked = sorted(((rank(p), p) for p in pods),
                    key=lambda rp: (9 if rp[0] is None else rp[0], -rp[1]["restarts"],
                                    rp[1]["name"]))
    bad = [p for r, p in ranked if r is not None]
    good = [p for r, p in ranked if r is None]
    by_status: dict[str, list[str]] = {}
    for pod in good:
        by_status.setdefault(pod["status"], []).append(pod["workload"])
    summary = [f"+ {len(names)} {status} pods ({tally(names)})"
               for status, names in sorted(by_status.items(), key=lambda i: -len(i[1]))]
    named = [f"{len(bad)} not healthy, worst first:"] if bad else []
    layouts = [Layout([head, *named], _compact(bad, False), summary, complete=False),
               Layout([head, *named], _compact(bad, True), summary, complete=False)]
    if _names_alone(bad) <= limit:  # else a row per unhealthy pod cannot fit: not laid out
        layouts.insert(0, Layout([head, *named], rows(COLUMNS, [_cells(p) for p in bad]),
                                 summary, complete=not good))
        if _names_alone(pods) <= limit:
            layouts.insert(0, Layout([head], rows(COLUMNS, [_cells(p) for _, p in ranked])))
    return fit(layouts, limit, "unhealthy pods", "narrow with label_selector")


def _names_alone(pods: list[dict[str, Any]]) -> int:
    """Fewer bytes than a table with a row per pod can take: each row holds the pod's name."""
    return sum(len(p["name"].encode()) + 1 for p in pods)


async def list_pods(env: ToolEnv, args: ListPodsArgs) -> ToolResult:
    namespace = env.namespace(args)
    query = [("labelSelector", args.label_selector)] if args.label_selector else []
    listing = await env.listing(f"/api/v1/namespaces/{namespace}/pods", query=query,
                                what=f"list pods in {namespace}")
    now = datetime.now(UTC)
    pods = [pod_summary(p, now) for p in listing.get("items", [])]
    counts: dict[str, int] = {}
    for pod in pods:
        counts[pod["status"]] = counts.get(pod["status"], 0) + 1
    head = f"{len(pods)} pods in {namespace}" + (
        f" matching {args.label_selector}" if args.label_selector else "") + (
        ": " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if pods else "")
    text, cut = render(head, pods, env.limit)
    return ToolResult(text, {"namespace": namespace, "pods": pods}, cut)


class ViewLogsArgs(ToolArgs):
    pod: Name
    container: Name | None = None
    tail_lines: int = Field(default=100, ge=1, le=5000)
    previous: bool = False
    since_seconds: int | None = Field(default=None, ge=1, le=7 * 86400)


async def view_logs(env: ToolEnv, args: ViewLogsArgs) -> ToolResult:
    namespace = env.namespace(args)
    query: list[tuple[str, Any]] = [("tailLines", args.tail_lines),
                                    ("limitBytes", LOG_BYTES_FROM_SERVER)]
    if args.container:
        query.append(("container", args.container))
    if args.previous:
        query.append(("previous", "true"))
    if args.since_seconds:
        query.append(("sinceSeconds", args.since_seconds))
    which = "previous container's " if args.previous else ""
    raw = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/pods/{args.pod}/log",
                                 query=query, what=f"read {which}logs of {namespace}/{args.pod}")
    log = str(raw or "")
    head = (f"last {args.tail_lines} lines of {which}logs of {namespace}/{args.pod}"
            + (f" [{args.container}]" if args.container else "") + ":")
    text, cut = bound(log, env.limit - len(head) - 1, keep="tail")
    return ToolResult(f"{head}\n{text}" if log else f"{head} (empty)",
                      {"namespace": namespace, "pod": args.pod, "container": args.container,
                       "previous": args.previous, "lines": text.splitlines()}, cut)
