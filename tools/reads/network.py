"""list_services and get_events."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.args import Name, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import age, bound, columns


class ServicesArgs(ToolArgs):
    pass


def _ready_endpoints(endpoints: dict[str, Any] | None) -> tuple[int, int]:
    ready = not_ready = 0
    for subset in (endpoints or {}).get("subsets") or []:
        ready += len(subset.get("addresses") or [])
        not_ready += len(subset.get("notReadyAddresses") or [])
    return ready, not_ready


async def list_services(env: ToolEnv, args: ServicesArgs) -> ToolResult:
    namespace = env.namespace(args)
    services = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/services",
                                      what=f"list services in {namespace}")
    endpoints = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/endpoints",
                                       what=f"list endpoints in {namespace}")
    by_name = {e["metadata"]["name"]: e for e in endpoints.get("items", [])}
    rows: list[dict[str, Any]] = []
    for svc in services.get("items", []):
        spec = svc.get("spec") or {}
        ready, not_ready = _ready_endpoints(by_name.get(svc["metadata"]["name"]))
        rows.append({
            "name": svc["metadata"]["name"], "type": spec.get("type", "ClusterIP"),
            "cluster_ip": spec.get("clusterIP", ""),
            "ports": [f"{p.get('port')}->{p.get('targetPort', p.get('port'))}/"
                      f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []],
            "selector": spec.get("selector") or {}, "ready_endpoints": ready,
            "not_ready_endpoints": not_ready})
    table = columns(["NAME", "TYPE", "CLUSTER-IP", "PORTS", "SELECTOR", "ENDPOINTS"],
                    [[r["name"], r["type"], r["cluster_ip"], ",".join(r["ports"]) or "-",
                      ",".join(f"{k}={v}" for k, v in r["selector"].items()) or "-",
                      f"{r['ready_endpoints']} ready" + (
                          f", {r['not_ready_endpoints']} not ready"
                          if r["not_ready_endpoints"] else "")] for r in rows])
    empty = [r["name"] for r in rows if r["selector"] and not r["ready_endpoints"]]
    body = f"{len(rows)} services in {namespace}" + ("\n" + table if rows else "") + (
        f"\nno ready endpoints: {', '.join(empty)}" if empty else "")
    text, cut = bound(body, env.limit)
    return ToolResult(text, {"namespace": namespace, "services": rows}, cut)


class EventsArgs(ToolArgs):
    object_name: Name | None = Field(default=None, description="only events about this object")
    limit: int = Field(default=30, ge=1, le=200)


async def get_events(env: ToolEnv, args: EventsArgs) -> ToolResult:
    namespace = env.namespace(args)
    query = [("fieldSelector", f"involvedObject.name={args.object_name}")] \
        if args.object_name else []
    listing = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/events",
                                     query=query, what=f"list events in {namespace}")
    merged: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for e in listing.get("items", []):
        obj = e.get("involvedObject") or {}
        key = (e.get("type", "Normal"), e.get("reason", ""),
               f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}", e.get("message", ""))
        last = e.get("lastTimestamp") or e.get("eventTime") or ""
        entry = merged.setdefault(key, {"type": key[0], "reason": key[1], "object": key[2],
                                        "message": key[3], "count": 0, "last": last})
        entry["count"] += int(e.get("count") or 1)
        entry["last"] = max(entry["last"], last)
    events = sorted(merged.values(), key=lambda e: e["last"], reverse=True)
    events = sorted(events, key=lambda e: e["type"] != "Warning")[: args.limit]
    warnings = sum(1 for e in events if e["type"] == "Warning")
    table = columns(["LAST", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"],
                    [[age(e["last"]), e["type"], e["reason"], e["object"], str(e["count"]),
                      e["message"]] for e in events])
    body = (f"{len(events)} distinct events in {namespace} ({warnings} warnings first)"
            + ("\n" + table if events else ""))
    text, cut = bound(body, env.limit)
    return ToolResult(text, {"namespace": namespace, "events": events}, cut)
