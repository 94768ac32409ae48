"""Read intents: pods, services, status, logs, events, usage, recent changes."""

from __future__ import annotations

import asyncio
from typing import Any

from agents import verdicts
from agents.handlers import Turn, on_pod
from agents.handlers.next import after_logs, after_pods, after_status
from agents.understand import Obj
from tools import errors


async def pods(turn: Turn) -> str:
    result = await turn.box.read("list_pods", dict(turn.understood.args))
    after_pods(turn, result.data.get("pods") or [])
    turn.verdict = verdicts.for_tool("list_pods", result.data)
    return result.text


async def services(turn: Turn) -> str:
    result = await turn.box.read("list_services", dict(turn.understood.args))
    turn.verdict = verdicts.for_tool("list_services", result.data)
    return result.text


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
    listed = await turn.box.read("list_pods", {"label_selector": target.selector, **where})
    usage = await turn.box.read("get_resource_usage", _usage_args(target))
    after_status(turn, target, found.data)
    turn.verdict = verdicts.deployment(target.name, found.data, listed.data.get("pods") or [],
                                       usage.data.get("containers") or [],
                                       await _log_errors(turn, target))
    return f"{found.text}\n{usage.text}"


async def _log_errors(turn: Turn, target: Obj) -> int | None:
    """Error lines in the last minutes of logs of up to three of ``target``'s pods (read at
    once); None when the person may not read them.  Only the count is shown, so the answer
    stays public."""
    async def read(pod: Obj) -> str:
        logs = await turn.box.read("view_logs", {
            "pod": pod.name, "namespace": pod.namespace, "tail_lines": 500,
            "since_seconds": verdicts.LOG_MINUTES * 60}, private=False)
        return logs.text

    try:
        texts = await asyncio.gather(*(read(p) for p in turn.inventory.pods_of(target)[:3]))
    except errors.ToolError:
        return None
    return sum(verdicts.error_lines(text) for text in texts)


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
    result = await turn.box.read("get_events", dict(turn.understood.args))
    turn.verdict = verdicts.for_tool("get_events", result.data)
    return result.text


async def usage(turn: Turn) -> str:
    target = turn.understood.target
    args = _usage_args(target) if target is not None else dict(turn.understood.args)
    result = await turn.box.read("get_resource_usage", args)
    where = target.name if target is not None else str(result.data.get("namespace"))
    turn.verdict = verdicts.usage(where, result.data.get("containers") or [])
    return result.text


async def changes(turn: Turn) -> str:
    return (await turn.box.read("recent_changes", dict(turn.understood.args))).text
