"""get_deployment_status and get_resource_usage."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools import quantity
from tools.args import Name, Selector, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import bound, columns


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
    lines += [f"condition {c['type']}={c['status']} ({c['reason']}) {c['message']}".rstrip()
              for c in conditions]
    lines += [f"container {c['name']}: {c['image']}; requests "
              f"{c['requests'] or 'none'}; limits {c['limits'] or 'none'}" for c in containers]
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
    rows: list[dict[str, Any]] = []
    for m in metrics.get("items", []):
        for c in m.get("containers") or []:
            res = specs.get(m["metadata"]["name"], {}).get(c["name"], {})
            used_cpu = quantity.parse((c.get("usage") or {}).get("cpu"))
            used_mem = quantity.parse((c.get("usage") or {}).get("memory"))
            lim_cpu = quantity.parse((res.get("limits") or {}).get("cpu"))
            lim_mem = quantity.parse((res.get("limits") or {}).get("memory"))
            rows.append({
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
    table = columns(["POD", "CONTAINER", "CPU", "REQ", "LIMIT", "%LIM", "MEMORY", "REQ",
                     "LIMIT", "%LIM"],
                    [[r["pod"], r["container"], quantity.cpu(r["cpu"]),
                      quantity.cpu(r["cpu_request"]), quantity.cpu(r["cpu_limit"]),
                      quantity.percent(r["cpu"], r["cpu_limit"]), quantity.memory(r["memory"]),
                      quantity.memory(r["memory_request"]), quantity.memory(r["memory_limit"]),
                      quantity.percent(r["memory"], r["memory_limit"])] for r in rows])
    hot = [f"{r['pod']}/{r['container']} at {r['cpu_pct_of_limit']}% of its CPU limit"
           for r in rows if (r["cpu_pct_of_limit"] or 0) >= 80]
    hot += [f"{r['pod']}/{r['container']} at {r['memory_pct_of_limit']}% of its memory limit"
            for r in rows if (r["memory_pct_of_limit"] or 0) >= 90]
    head = f"resource usage in {namespace} ({len(rows)} containers)"
    body = head + ("\n" + table if rows else ": no metrics") + (
        "\nnear limits: " + "; ".join(hot) if hot else "")
    text, cut = bound(body, env.limit)
    return ToolResult(text, {"namespace": namespace, "containers": rows}, cut)
