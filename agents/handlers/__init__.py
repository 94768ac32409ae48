"""What command mode does with an understanding: one handler per intent, each running the same
tools the LLM agent uses through the turn's :class:`~agents.toolbox.Toolbox` (reads run,
writes become proposals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agents.toolbox import Toolbox
from agents.types import Proposal
from agents.understand import Inventory, Obj, Understanding
from agents.verdicts import Verdict


@dataclass
class Turn:
    """One command-mode turn: the toolbox, what was understood, what the person can see, and
    what to suggest typing next (filled by the handlers)."""
    box: Toolbox
    understood: Understanding
    inventory: Inventory
    text: str
    suggestions: list[str] = field(default_factory=list)
    verdict: Verdict | None = None   # the answer's first line and its facts, when one is known

    def suggest(self, *commands: str) -> None:
        for command in commands:
            if command not in self.suggestions:
                self.suggestions.append(command)


Handler = Callable[[Turn], Awaitable[str]]


def on_pod(turn: Turn, doing: str) -> tuple[dict[str, Any], Obj] | str:
    """The understood arguments aimed at the pod of the turn's target (for reading its logs
    or running in it), and that pod — or why there is none (``doing``: what it was for)."""
    target = turn.understood.target
    assert target is not None
    pod = pod_of(turn, target)
    if pod is None:
        return f"{target.name} has no pods to {doing}."
    args = {k: v for k, v in turn.understood.args.items() if k != "workload"}
    args.update({"pod": pod.name, "namespace": pod.namespace})
    return args, pod


def pod_of(turn: Turn, target: Obj) -> Obj | None:
    """The pod to read for a workload: the one that restarted most (the interesting one)."""
    if target.kind == "Pod":
        return target
    pods = turn.inventory.pods_of(target)
    return max(pods, key=lambda p: (p.restarts, p.name)) if pods else None


def proposed_line(proposal: Proposal, what: str = "Proposed") -> str:
    cost = f"; cost {proposal.cost_delta:+.2f} USD/month" if proposal.cost_delta else ""
    return (f"{what}: {proposal.summary} (risk {proposal.risk}{cost}) — awaiting approval "
            f"#{proposal.id}.")
