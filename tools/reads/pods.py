"""list_pods and view_logs."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.args import Name, Selector, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import age, bound, columns

LOG_BYTES_FROM_SERVER = 256 * 1024  # never pull more than this from the API server


class ListPodsArgs(ToolArgs):
    label_selector: Selector | None = Field(default=None,
                                            description="e.g. app=web-app (optional)")


def pod_summary(pod: dict[str, Any]) -> dict[str, Any]:
    """The facts about a pod a person asks for first."""
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
        "age": age(pod["metadata"].get("creationTimestamp")),
        "node": (pod.get("spec") or {}).get("nodeName", "-"),
        "last_termination": f"{last_reason} (exit {exit_code})" if last_reason else "",
    }


async def list_pods(env: ToolEnv, args: ListPodsArgs) -> ToolResult:
    namespace = env.namespace(args)
    query = [("labelSelector", args.label_selector)] if args.label_selector else []
    listing = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/pods", query=query,
                                     what=f"list pods in {namespace}")
    pods = [pod_summary(p) for p in listing.get("items", [])]
    counts: dict[str, int] = {}
    for pod in pods:
        counts[pod["status"]] = counts.get(pod["status"], 0) + 1
    head = f"{len(pods)} pods in {namespace}" + (
        f" matching {args.label_selector}" if args.label_selector else "") + (
        ": " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if pods else "")
    table = columns(["NAME", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "LAST TERMINATION"],
                    [[p["name"], p["ready"], p["status"], str(p["restarts"]), p["age"],
                      p["node"], p["last_termination"] or "-"] for p in pods])
    text, cut = bound(head + ("\n" + table if pods else ""), env.limit)
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
