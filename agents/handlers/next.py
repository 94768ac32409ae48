"""What to type next, from the answer just given: a crash-looping pod suggests its previous
logs and a diagnosis, a rollout stuck half-way its events, a diagnosis its logs.  Shown under
the answer (Slack, the web console) and by ``help`` right after it."""

from __future__ import annotations

from typing import Any

from agents.handlers import Turn
from agents.understand import Obj
from tools.reads.pods import rank

MOST = 4  # suggestions per answer


def after_pods(turn: Turn, pods: list[dict[str, Any]]) -> None:
    """Each unhealthy pod's workload, worst first: its previous logs and a diagnosis."""
    bad = sorted((p for p in pods if rank(p) is not None), key=lambda p: rank(p) or 0)
    for pod in bad[:2]:
        name = pod.get("workload") or pod["name"]
        crashed = pod.get("restarts", 0) > 0 or pod.get("last_termination")
        turn.suggest(f"logs {name} --previous" if crashed else f"events {name}",
                     f"troubleshoot {name}")
    del turn.suggestions[MOST:]


def after_status(turn: Turn, target: Obj, status: dict[str, Any]) -> None:
    desired, ready = status.get("desired", 0), status.get("readyReplicas", 0)
    if ready < desired or status.get("rollout", "complete") != "complete":
        turn.suggest(f"events {target.name}", f"troubleshoot {target.name}",
                     f"logs {target.name}")
    else:
        turn.suggest(f"logs {target.name}", f"performance {target.name}")


def after_logs(turn: Turn, target: Obj, pod: Obj, previous: bool) -> None:
    if pod.restarts and not previous:
        turn.suggest(f"logs {target.name} --previous")
    turn.suggest(f"troubleshoot {target.name}", f"events {target.name}")


def after_findings(turn: Turn, names: list[str]) -> None:
    for name in names[:2]:
        turn.suggest(f"logs {name} --previous", f"events {name}")
    del turn.suggestions[MOST:]
