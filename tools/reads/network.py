"""list_services and get_events, worst first.

Services with no ready endpoint come first, then those with some not ready; events, warnings
first.  Each of them is named; when the whole table does not fit, the healthy services and the
normal events are counted in a line.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tools.args import Name, ToolArgs
from tools.spec import ToolEnv, ToolResult
from tools.text import Body, Layout, age, fit, listing, rows, squeeze, tally, wrap

SERVICE_COLUMNS = ["NAME", "TYPE", "CLUSTER-IP", "PORTS", "SELECTOR", "ENDPOINTS"]
EVENT_COLUMNS = ["LAST", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]
MESSAGE_WIDTH = 100  # event messages are cut to this before warnings lose their rows


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
    found: list[dict[str, Any]] = []
    for svc in services.get("items", []):
        spec = svc.get("spec") or {}
        ready, not_ready = _ready_endpoints(by_name.get(svc["metadata"]["name"]))
        found.append({
            "name": svc["metadata"]["name"], "type": spec.get("type", "ClusterIP"),
            "cluster_ip": spec.get("clusterIP", ""),
            "ports": [f"{p.get('port')}->{p.get('targetPort', p.get('port'))}/"
                      f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []],
            "selector": spec.get("selector") or {}, "ready_endpoints": ready,
            "not_ready_endpoints": not_ready})
    text, cut = render_services(f"{len(found)} services in {namespace}", found, env.limit)
    return ToolResult(text, {"namespace": namespace, "services": found}, cut)


def service_rank(service: dict[str, Any]) -> int | None:
    """0: selects pods but none is ready; 1: some endpoints not ready; None: healthy."""
    if service["selector"] and service["type"] != "ExternalName" and \
            not service["ready_endpoints"]:
        return 0
    return 1 if service["not_ready_endpoints"] else None


def _service_cells(r: dict[str, Any]) -> list[str]:
    return [r["name"], r["type"], r["cluster_ip"], ",".join(r["ports"]) or "-",
            ",".join(f"{k}={v}" for k, v in r["selector"].items()) or "-",
            f"{r['ready_endpoints']} ready" + (
                f", {r['not_ready_endpoints']} not ready" if r["not_ready_endpoints"] else "")]


def render_services(head: str, found: list[dict[str, Any]], limit: int) -> tuple[str, bool]:
    """Services without ready endpoints first, each named, within ``limit`` bytes."""
    ranked = sorted(found, key=lambda r: (9 if (n := service_rank(r)) is None else n))
    empty = [r["name"] for r in ranked if service_rank(r) == 0]
    partly = [r for r in ranked if service_rank(r) == 1]
    good = [r for r in ranked if service_rank(r) is None]
    note = [f"no ready endpoints: {', '.join(empty)}"] if empty else []
    compact: Body = ([("no ready endpoints:", 0), *wrap([(n, 1) for n in empty])] if empty
                     else []) + ([("some endpoints not ready:", 0), *wrap([
                         (f"{r['name']} ({r['not_ready_endpoints']}/"
                          f"{r['ready_endpoints'] + r['not_ready_endpoints']} not ready)", 1)
                         for r in partly])] if partly else [])
    listed = [f"+ {len(good)} services with every endpoint ready: "
              f"{listing([r['name'] for r in good])}"]
    counted = [f"+ {len(good)} services with every endpoint ready "
               f"({tally(r['type'] for r in good)})"] if good else []
    bad_rows = rows(SERVICE_COLUMNS, [_service_cells(r) for r in ranked if service_rank(r) is
                                      not None])
    layouts = [Layout([head], rows(SERVICE_COLUMNS, [_service_cells(r) for r in ranked]), note),
               Layout([head], bad_rows, note + (listed if good else []), complete=not good),
               Layout([head], bad_rows, note + counted, complete=not good),
               Layout([head], compact, counted, complete=False)]
    return fit(layouts, limit, "services without ready endpoints", "ask about one service")


class EventsArgs(ToolArgs):
    object_name: Name | None = Field(default=None, description="only events about this object "
                                     "and what it owns (a Deployment's ReplicaSets and Pods)")
    limit: int = Field(default=30, ge=1, le=200)


async def get_events(env: ToolEnv, args: EventsArgs) -> ToolResult:
    namespace = env.namespace(args)
    listing = await env.cluster.call("GET", f"/api/v1/namespaces/{namespace}/events",
                                     what=f"list events in {namespace}")
    merged: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for e in listing.get("items", []):
        obj = e.get("involvedObject") or {}
        owned = str(obj.get("name", ""))
        if args.object_name and owned != args.object_name and not owned.startswith(
                args.object_name + "-"):  # its ReplicaSets and Pods are named after it
            continue
        key = (e.get("type", "Normal"), e.get("reason", ""),
               f"{str(obj.get('kind', '')).lower()}/{obj.get('name', '')}", e.get("message", ""))
        last = e.get("lastTimestamp") or e.get("eventTime") or ""
        entry = merged.setdefault(key, {"type": key[0], "reason": key[1], "object": key[2],
                                        "message": key[3], "count": 0, "last": last})
        entry["count"] += int(e.get("count") or 1)
        entry["last"] = max(entry["last"], last)
    events = sorted(merged.values(), key=lambda e: e["last"], reverse=True)
    events = sorted(events, key=lambda e: e["type"] != "Warning")
    text, cut = render_events(namespace, events, args.limit, env.limit)
    return ToolResult(text, {"namespace": namespace, "events": events[: args.limit]}, cut)


def _event_cells(e: dict[str, Any], width: int | None = None) -> list[str]:
    """A table row; ``width`` cuts the message (its first line) to that many characters."""
    message = e["message"]
    if width is not None and (len(message) > width or "\n" in message):
        message = (message.splitlines() or [""])[0][:width] + "…"
    return [age(e["last"]), e["type"], e["reason"], e["object"], str(e["count"]), message]


def _warned(warnings: list[dict[str, Any]], squeezed: bool) -> Body:
    """Warnings by reason, naming each object (with its count, unless squeezed)."""
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for e in warnings:
        by_reason.setdefault(e["reason"], []).append(e)
    lines: Body = []
    for reason, found in by_reason.items():
        lines.append((f"Warning {reason} ×{sum(e['count'] for e in found)} on:", 0))
        objects = list(dict.fromkeys(e["object"] for e in found))
        lines += wrap(squeeze(objects) if squeezed else [
            (f"{e['object']} ×{e['count']}", 1) for e in found])
    return lines


def render_events(namespace: str, events: list[dict[str, Any]], rows_wanted: int,
                  limit: int) -> tuple[str, bool]:
    """Warnings first, every object with a warning named, within ``limit`` bytes."""
    warnings = [e for e in events if e["type"] == "Warning"]
    normal = [e for e in events if e["type"] != "Warning"]
    head = f"{len(events)} distinct events in {namespace} ({len(warnings)} warnings first)"
    shown = events[:rows_wanted]
    more = [f"more warnings ({len(warnings) - rows_wanted}):"] if len(warnings) > rows_wanted \
        else []

    def counted(left: list[dict[str, Any]]) -> list[str]:
        return [f"+ {len(left)} Normal events ({tally(e['reason'] for e in left)})"] if left \
            else []

    over = warnings[rows_wanted:]
    layouts = [Layout([head], rows(EVENT_COLUMNS, [_event_cells(e) for e in shown])
                      + [(m, 0) for m in more] + _warned(over, False),
                      counted(normal[max(0, rows_wanted - len(warnings)):]),
                      complete=len(shown) == len(events)),
               Layout([head], rows(EVENT_COLUMNS, [_event_cells(e) for e in warnings[
                   :rows_wanted]]) + [(m, 0) for m in more] + _warned(over, False),
                      counted(normal), complete=not normal and not over),
               Layout([head], rows(EVENT_COLUMNS, [_event_cells(e, MESSAGE_WIDTH) for e in
                                                   warnings[:rows_wanted]])
                      + [(m, 0) for m in more] + _warned(over, False), counted(normal),
                      complete=False),
               Layout([head], _warned(warnings, False), counted(normal), complete=False),
               Layout([head], _warned(warnings, True), counted(normal), complete=False)]
    return fit(layouts, limit, "objects with warnings", "ask with object_name")
