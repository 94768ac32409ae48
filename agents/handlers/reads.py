"""Read intents: pods, services, status, logs, events, usage, recent changes."""

from __future__ import annotations

from typing import Any

from agents.handlers import Turn, on_pod
from agents.handlers.next import after_logs, after_pods, after_status
from agents.understand import Obj


async def pods(turn: Turn) -> str:
    result = await turn.box.read("list_pods", dict(turn.understood.args))
    after_pods(turn, result.data.get("pods") or [])
    return result.text


async def services(turn: Turn) -> str:
    return (await turn.box.read("list_services", dict(turn.understood.args))).text


def _usage_args(target: Obj) -> dict[str, Any]:
    if target.kind == "Pod":
        return {"namespace": target.namespace, "pod": target.name}
    return {"namespace": target.namespace, "label_selector": target.selector}


async def status(turn: Turn) -> str:
    target = turn.understood.target
    assert target is not None
    where = {"namespace": target.namespace}
    if target.kind != "Deployment":
        listed = await turn.box.read("list_pods", {"label_selector": target.selector, **where})
        after_pods(turn, listed.data.get("pods") or [])
        return f"{target.kind} {target.name}:\n{listed.text}"
    found = await turn.box.read("get_deployment_status", {"name": target.name, **where})
    usage = await turn.box.read("get_resource_usage", _usage_args(target))
    after_status(turn, target, found.data)
    return f"{found.text}\n{usage.text}"


async def logs(turn: Turn) -> str:
    found = on_pod(turn, "read logs from")
    if isinstance(found, str):
        return found
    args, pod = found
    args.setdefault("tail_lines", 50)
    result = await turn.box.read("view_logs", args)
    assert turn.understood.target is not None
    after_logs(turn, turn.understood.target, pod, bool(args.get("previous")))
    return result.text


async def events(turn: Turn) -> str:
    return (await turn.box.read("get_events", dict(turn.understood.args))).text


async def usage(turn: Turn) -> str:
    target = turn.understood.target
    args = _usage_args(target) if target is not None else dict(turn.understood.args)
    return (await turn.box.read("get_resource_usage", args)).text


async def changes(turn: Turn) -> str:
    return (await turn.box.read("recent_changes", dict(turn.understood.args))).text
