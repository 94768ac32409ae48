"""Write intents: each becomes one proposal (the understanding layer only gets here with an
explicit verb, a resolved target and, for scaling, an amount); nothing is applied."""

from __future__ import annotations

from agents.handlers import Turn, on_pod, proposed_line
from agents.understand.build import app_container


async def _propose(turn: Turn, tool: str, args: dict[str, object], diff: bool = False) -> str:
    proposal = await turn.box.propose(tool, args)
    return proposed_line(proposal) + (f"\n{proposal.diff}" if diff and proposal.diff else "")


async def scale(turn: Turn) -> str:
    return await _propose(turn, "scale_deployment", dict(turn.understood.args))


async def restart(turn: Turn) -> str:
    return await _propose(turn, "restart", dict(turn.understood.args))


async def rollback(turn: Turn) -> str:
    return await _propose(turn, "rollback_deployment", dict(turn.understood.args), diff=True)


async def configmap(turn: Turn) -> str:
    return await _propose(turn, "update_configmap", dict(turn.understood.args), diff=True)


async def delete(turn: Turn) -> str:
    return await _propose(turn, "delete_resource", dict(turn.understood.args), diff=True)


async def execute(turn: Turn) -> str:
    found = on_pod(turn, "run a command in")
    if isinstance(found, str):
        return found
    args, pod = found
    if "container" not in args and len(pod.containers) > 1:
        name = pod.owner or pod.name
        chosen = app_container(pod.containers, name)
        if chosen is None:
            return (f"{pod.name} has containers {', '.join(pod.containers)}: say which, "
                    f"`exec {name} -c CONTAINER -- COMMAND`.")
        args["container"] = chosen
    return await _propose(turn, "exec_command", args)
