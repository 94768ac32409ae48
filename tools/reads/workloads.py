"""get_deployment_status and get_resource_usage.

get_resource_usage answers hottest first (the highest share of a limit, or of the request where
there is no limit); every container near its limit is named, and when the whole table does not
fit the cooler rest is counted per workload in one line with the highest share among them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools import quantity
from tools.args import Name, Selector, ToolArgs
from tools.reads.pods import workload_of
from tools.spec import ToolEnv, ToolResult
from tools.text import Body, Layout, bound, fit, rows, tally, wrap

HOT_CPU, HOT_MEMORY = 80, 90  # % of the limit (throttling; OOM risk)
WARMEST = 10  # cooler containers still shown with a row when the hot ones leave room
USAGE_COLUMNS = ["POD", "CONTAINER", "CPU", "REQ", "LIMIT", "%LIM", "MEMORY", "REQ", "LIMIT",
                 "%LIM"]


class DeploymentArgs(ToolArgs):
    name: Name


def container_resources(template_spec: dict[str, Any]) -> list[dict[str, Any]]:
    result = []
    for c in template_spec.get("containers") or []:
        resources = c.get("resources") or {}
        result.append({"name": c.get("name"), "image": c.get("image"),
                       "requests": resources.get("requests") or {},
                       "limits": resources.get("limits") or {}})
    return result


def amounts(resources: dict[str, Any]) -> str:
    """``cpu 200m, memory 256Mi`` (``none`` when unset)."""
    return ", ".join(f"{name} {value}" for name, value in sorted(resources.items())) or "none"


def condition_line(condition: dict[str, Any]) -> str:
    """A Deployment condition as a sentence: ``Available: yes (MinimumReplicasAvailable)``,
    ``Progressing: NO (ProgressDeadlineExceeded) — message``."""
    said = {"True": "yes", "False": "NO"}.get(str(condition.get("status")), "unknown")
    reason = f" ({condition['reason']})" if condition.get("reason") else ""
    message = f" — {condition['message']}" if condition.get("message") else ""
    return f"{condition.get('type')}: {said}{reason}{message}"


async def get_deployment_status(env: ToolEnv, args: DeploymentArgs) -> ToolResult:
    namespace = env.namespace(args)
    d = await env.cluster.call("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/"
                               f"{args.name}", what=f"read deployment {namespace}/{args.name}")
    spec, status = d.get("spec") or {}, d.get("status") or {}
    desired = spec.get("replicas", 1)
    counts = {k: status.get(k, 0) for k in ("readyReplicas", "updatedReplicas",
                                             "availableReplicas", "unavailableReplicas")}
    observed = status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
    progress = ("complete" if observed and counts["updatedReplicas"] == desired
                and counts["availableReplicas"] == desired
                else f"in progress: {counts['updatedReplicas']} of {desired} updated, "
                     f"{counts['availableReplicas']} available")
    conditions = [{"type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"),
                   "message": c.get("message", "")} for c in status.get("conditions") or []]
    containers = container_resources((spec.get("template") or {}).get("spec") or {})
    lines = [f"deployment {namespace}/{args.name}: {counts['readyReplicas']}/{desired} ready, "
             f"{counts['updatedReplicas']} up-to-date, {counts['availableReplicas']} available"
             f"; rollout {progress}"]
    lines += [condition_line(c) for c in conditions]
    lines += [f"container {c['name']}: {c['image']}; requests {amounts(c['requests'])}; "
              f"limits {amounts(c['limits'])}" for c in containers]
    text, cut = bound("\n".join(lines), env.limit)
    return ToolResult(text, {"namespace": namespace, "name": args.name, "desired": desired,
                             **counts, "rollout": progress, "conditions": conditions,
                             "containers": containers}, cut)


class UsageArgs(ToolArgs):
    pod: Name | None = None
    label_selector: Selector | None = Field(default=None, description="e.g. app=api-service")


async def get_resource_usage(env: ToolEnv, args: UsageArgs) -> ToolResult:
    namespace = env.namespace(args)
    query = [("labelSelector", args.label_selector)] if args.label_selector else []
    if args.pod:
        query.append(("fieldSelector", f"metadata.name={args.pod}"))
    metrics = await env.cluster.call("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/"
                                     f"{namespace}/pods", query=query,
                                     what=f"read pod metrics in {namespace}")
    pods = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/pods", query=query,
                                  what=f"list pods in {namespace}")
    specs = {p["metadata"]["name"]: {c["name"]: c.get("resources") or {} for c in
                                     (p.get("spec") or {}).get("containers") or []}
             for p in pods.get("items", [])}
    workloads = {p["metadata"]["name"]: workload_of(p) for p in pods.get("items", [])}
    found: list[dict[str, Any]] = []
    for m in metrics.get("items", []):
        for c in m.get("containers") or []:
            res = specs.get(m["metadata"]["name"], {}).get(c["name"], {})
            used_cpu = quantity.parse((c.get("usage") or {}).get("cpu"))
            used_mem = quantity.parse((c.get("usage") or {}).get("memory"))
            lim_cpu = quantity.parse((res.get("limits") or {}).get("cpu"))
            lim_mem = quantity.parse((res.get("limits") or {}).get("memory"))
            found.append({
                "pod": m["metadata"]["name"], "container": c["name"],
                "cpu": used_cpu, "cpu_request": quantity.parse((res.get("requests") or {}).get(
                    "cpu")), "cpu_limit": lim_cpu,
                "memory": used_mem, "memory_request": quantity.parse(
                    (res.get("requests") or {}).get("memory")), "memory_limit": lim_mem,
                "cpu_pct_of_limit": round(100 * used_cpu / lim_cpu) if used_cpu is not None
                and lim_cpu else None,
                "memory_pct_of_limit": round(100 * used_mem / lim_mem)
                if used_mem is not None and lim_mem else None,
            })
    head = f"resource usage in {namespace} ({len(found)} containers" + (
        ", hottest first)" if found else "): no metrics")
    text, cut = render_usage(head, found, workloads, env.limit)
    return ToolResult(text, {"namespace": namespace, "containers": found}, cut)


def _shares(r: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(% used, resource, of what) for CPU and memory: of the limit, else of the request."""
    found = []
    for resource, used, limit, request in (
            ("CPU", r["cpu"], r["cpu_limit"], r["cpu_request"]),
            ("memory", r["memory"], r["memory_limit"], r["memory_request"])):
        if used is not None and (limit or request):
            found.append((100 * used / (limit or request), resource,
                          "limit" if limit else "request (no limit)"))
    return found


def heat(r: dict[str, Any]) -> float | None:
    """The highest share (%) of a limit, or of the request where there is no limit, that this
    container uses; None: nothing to compare with."""
    return max((pct for pct, _, _ in _shares(r)), default=None)


def hot(r: dict[str, Any]) -> list[str]:
    """What is near its limit (or, without one, above its request): ``85% of its CPU limit``."""
    return [f"{round(pct)}% of its {resource} {of}" for pct, resource, of in _shares(r)
            if (round(pct) >= {"CPU": HOT_CPU, "memory": HOT_MEMORY}[resource]
                if of == "limit" else round(pct) > 100)]


def _cells(r: dict[str, Any]) -> list[str]:
    return [r["pod"], r["container"], quantity.cpu(r["cpu"]), quantity.cpu(r["cpu_request"]),
            quantity.cpu(r["cpu_limit"]), quantity.percent(r["cpu"], r["cpu_limit"]),
            quantity.memory(r["memory"]), quantity.memory(r["memory_request"]),
            quantity.memory(r["memory_limit"]), quantity.percent(r["memory"], r["memory_limit"])]


def _near(hottest: list[dict[str, Any]]) -> list[str]:
    return ["near limits: " + "; ".join(f"{r['pod']}/{r['container']} at "
                                        + " and ".join(hot(r)) for r in hottest)] if hottest else []


def _rest(others: list[dict[str, Any]], workloads: dict[str, str]) -> list[str]:
    """One line for the containers without a row: how many, their highest share, by workload."""
    if not others:
        return []
    top = max((h for r in others if (h := heat(r)) is not None), default=None)
    return [f"+ {len(others)} more containers not near a limit (under {HOT_CPU}% CPU, "
            f"{HOT_MEMORY}% memory" + (f"; the highest at {round(top)}% of a limit or request"
                                       if top is not None else "")
            + f"): {tally(workloads.get(r['pod'], r['pod']) for r in others)}"]


def render_usage(head: str, found: list[dict[str, Any]], workloads: dict[str, str],
                 limit: int) -> tuple[str, bool]:
    """Hottest first (by share of limit or request), every hot container named, within
    ``limit`` bytes (tools.text.fit)."""
    ordered = sorted(found, key=lambda r: (-(h if (h := heat(r)) is not None else -1),
                                           r["pod"], r["container"]))
    hottest = [r for r in ordered if hot(r)]
    warm = [r for i, r in enumerate(ordered) if i < WARMEST or hot(r)]
    rest = [r for i, r in enumerate(ordered) if i >= WARMEST and not hot(r)]
    others = [r for r in ordered if not hot(r)]
    compact: Body = wrap([(f"{r['pod']}/{r['container']} " + ", ".join(
        word.replace(" of its ", " ") for word in hot(r)), 1) for r in hottest])
    layouts = [Layout([head], rows(USAGE_COLUMNS, [_cells(r) for r in ordered]), _near(hottest)),
               Layout([head], rows(USAGE_COLUMNS, [_cells(r) for r in warm]),
                      _near(hottest) + _rest(rest, workloads), complete=not rest),
               Layout([head], rows(USAGE_COLUMNS, [_cells(r) for r in hottest]),
                      _near(hottest) + _rest(others, workloads), complete=not others),
               Layout([head, *(["near limits:"] if hottest else [])], compact,
                      _rest(others, workloads), complete=False)]
    return fit(layouts, limit, "hot containers", "narrow with pod or label_selector")
