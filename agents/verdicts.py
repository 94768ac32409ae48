"""The first line of an answer: a verdict that answers the question, from what the tools found
("web-app is healthy: 3/3 ready; CPU 45% and memory 62% of limits on average; no errors in the
last 15 min of logs"), and the facts behind it as (label, value) pairs, which Slack shows as a
section's fields.  Pure functions over the read tools' ``data``; the tools' text stays the
evidence under them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tools import quantity
from tools.analysis.findings import Finding
from tools.reads.workloads import heat, hot

# A log line that says something went wrong: words programs use, or an HTTP 5xx status in an
# access log line ("GET /x HTTP/1.1" 503).
ERROR_LINE = re.compile(r"\b(?:error|exception|fatal|panic|traceback|critical)\b"
                        r"|\"\s5\d\d\s", re.IGNORECASE)
LOG_MINUTES = 15
BUSY_PERCENT = 80     # of a limit, on average: busy
FAILING = {"CrashLoopBackOff", "Error", "OOMKilled", "ImagePullBackOff", "ErrImagePull",
           "CreateContainerConfigError", "RunContainerError", "InvalidImageName"}


@dataclass
class Verdict:
    line: str
    facts: list[tuple[str, str]] = field(default_factory=list)


def _every(count: int, noun: str) -> str:
    """``The only pod``, ``Both pods``, ``All 6 pods``."""
    return {1: f"The only {noun}", 2: f"Both {noun}s"}.get(count, f"All {count} {noun}s")


def error_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if ERROR_LINE.search(line))


def _average(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def ready(pod: dict[str, Any]) -> bool:
    """Every container of ``pod`` (a ``pod_summary``) is ready: ``3/3``."""
    done, _, total = pod["ready"].partition("/")
    return done == total


def _worst_pod(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    bad = [p for p in pods if p["status"] != "Running" or not ready(p)]
    return max(bad, key=lambda p: (p["restarts"], p["name"])) if bad else None


def _peak_over_limit(usage: list[dict[str, Any]]) -> str:
    """``peak 580Mi over a 512Mi limit`` for the container furthest over its memory limit."""
    over = [r for r in usage if r.get("memory_pct_of_limit") and r["memory_pct_of_limit"] > 100]
    if not over:
        return ""
    top = max(over, key=lambda r: r["memory_pct_of_limit"])
    return (f"{quantity.memory(top['memory'])} used against a "
            f"{quantity.memory(top['memory_limit'])} limit")


def deployment(name: str, status: dict[str, Any], pods: list[dict[str, Any]],
               usage: list[dict[str, Any]], log_errors: int | None) -> Verdict:
    """How a Deployment is doing, from get_deployment_status, its pods (list_pods), their
    usage (get_resource_usage) and error lines in its pods' recent logs (None: not read)."""
    desired, ready = status.get("desired", 0), status.get("readyReplicas", 0)
    cpu = _average([r.get("cpu_pct_of_limit") for r in usage])
    memory = _average([r.get("memory_pct_of_limit") for r in usage])
    worst = _worst_pod(pods)
    facts = [("Ready", f"{ready}/{desired}"), ("Rollout", str(status.get("rollout", "?")))]
    if cpu is not None:
        facts.append(("CPU (of limits, average)", f"{cpu:.0f}%"))
    if memory is not None:
        facts.append(("Memory (of limits, average)", f"{memory:.0f}%"))
    restarts = sum(p["restarts"] for p in pods)
    facts.append(("Restarts", str(restarts)))
    if log_errors is not None:
        facts.append((f"Errors in logs ({LOG_MINUTES} min)", str(log_errors)))
    why: list[str] = [f"{ready}/{desired} ready"]
    if worst is not None and (worst["status"] in FAILING or ready < desired):
        last = worst["last_termination"].split(" (")[0] if worst["last_termination"] else ""
        cause = f"{last} {worst['restarts']} times" if last and worst["restarts"] else \
            worst["status"]
        peak = _peak_over_limit(usage) if last == "OOMKilled" else ""
        why.append(cause + (f", {peak}" if peak else ""))
        state = "failing" if ready == 0 and desired else "degraded"
        return Verdict(f"{name} is {state}: " + "; ".join(why), facts)
    if "complete" not in str(status.get("rollout", "")):
        why.append(f"rollout {status.get('rollout')}")
        return Verdict(f"{name} is rolling out: " + "; ".join(why), facts)
    if cpu is not None and memory is not None:
        why.append(f"CPU {cpu:.0f}% and memory {memory:.0f}% of limits on average")
    elif cpu is not None or memory is not None:
        which, value = ("CPU", cpu) if cpu is not None else ("memory", memory)
        why.append(f"{which} {value:.0f}% of limits on average")
    if log_errors is not None:
        why.append("no errors in the last 15 min of logs" if not log_errors else
                   f"{log_errors} error lines in the last {LOG_MINUTES} min of logs")
    busy = [w for w, v in (("CPU", cpu), ("memory", memory))
            if v is not None and v >= BUSY_PERCENT]
    state = ("busy" if busy else "healthy") if not log_errors else "up but logging errors"
    return Verdict(f"{name} is {state}: " + "; ".join(why), facts)


def pods(namespace: str, found: list[dict[str, Any]]) -> Verdict:
    """What a pod listing comes to: all running and ready, or which are not and why."""
    if not found:
        return Verdict(f"No pods in {namespace}.")
    bad = [p for p in found if p["status"] not in ("Running", "Completed") or not ready(p)]
    facts = [("Pods", str(len(found))), ("Not healthy", str(len(bad))),
             ("Restarts", str(sum(p["restarts"] for p in found)))]
    if not bad:
        return Verdict(f"{_every(len(found), 'pod')} in {namespace} "
                       f"{'is' if len(found) == 1 else 'are'} running and ready.", facts)
    worst = max(bad, key=lambda p: (p["status"] in FAILING, p["restarts"], p["name"]))
    detail = ", ".join(part for part in (
        worst["last_termination"].split(" (")[0] if worst["last_termination"] else "",
        f"{worst['restarts']} restarts" if worst["restarts"] else "") if part)
    return Verdict(f"{len(bad)} of {len(found)} pods in {namespace} "
                   f"{'is' if len(bad) == 1 else 'are'} not healthy: {worst['name']} "
                   f"{worst['status']}" + (f" ({detail})" if detail else "")
                   + (f" and {len(bad) - 1} more" if len(bad) > 1 else ""), facts)


def findings(scope: str, found: list[Finding]) -> Verdict:
    """What a diagnosis comes to: the worst root cause first, how many others."""
    counts = {level: sum(1 for f in found if f.severity == level)
              for level in ("critical", "warning", "info")}
    facts = [(level.capitalize(), str(n)) for level, n in counts.items() if n]
    if not found:
        return Verdict(f"Nothing wrong found in {scope}.")
    top = found[0]
    state = {"critical": "failing", "warning": "at risk"}.get(top.severity, "worth a look")
    others = len(found) - 1
    return Verdict(f"{top.name} is {state}: {top.cause}"
                   + (f" (and {others} more finding{'s' if others > 1 else ''} in {scope})"
                      if others else ""), facts)


def usage(where: str, rows: list[dict[str, Any]]) -> Verdict:
    """Which containers run near their limits (or above their requests without one)."""
    if not rows:
        return Verdict(f"No usage metrics for {where} (is metrics-server running?).")
    hot_rows = [(r, hot(r)) for r in rows]
    near = sorted(((r, said) for r, said in hot_rows if said),
                  key=lambda rs: -(heat(rs[0]) or 0))  # the hottest first
    facts = [("Containers", str(len(rows))), ("Near a limit", str(len(near)))]
    cpu = _average([r.get("cpu_pct_of_limit") for r in rows])
    if cpu is not None:
        facts.append(("CPU (of limits, average)", f"{cpu:.0f}%"))
    if not near:
        return Verdict(f"{_every(len(rows), 'container')} in {where} "
                       f"{'runs' if len(rows) == 1 else 'run'} below {BUSY_PERCENT}% of "
                       f"{'its' if len(rows) == 1 else 'their'} limits.", facts)
    named = "; ".join(f"{r['pod']}/{r['container']} at {' and '.join(said)}"
                      for r, said in near[:2])
    more = f" and {len(near) - 2} more" if len(near) > 2 else ""
    return Verdict(f"{len(near)} of {len(rows)} containers in {where} run near their limits: "
                   f"{named}{more}", facts)


def services(namespace: str, found: list[dict[str, Any]]) -> Verdict:
    """Which Services have nothing ready behind them (a Service without a selector has its
    endpoints managed by hand and is not judged)."""
    if not found:
        return Verdict(f"No Services in {namespace}.")
    empty = [s["name"] for s in found if s.get("selector") and not s.get("ready_endpoints")]
    facts = [("Services", str(len(found))), ("Without ready endpoints", str(len(empty)))]
    if not empty:
        return Verdict(f"{_every(len(found), 'Service')} in {namespace} "
                       f"{'has' if len(found) == 1 else 'have'} ready endpoints.", facts)
    which = ("The only Service" if len(found) == 1 else
             f"{len(empty)} of {len(found)} Services")
    return Verdict(f"{which} in {namespace} {'has' if len(empty) == 1 else 'have'} no ready "
                   f"endpoints: {', '.join(empty[:5])}", facts)


def events(namespace: str, found: list[dict[str, Any]]) -> Verdict:
    """Warnings first: how many, and the loudest."""
    warnings = [e for e in found if e.get("type") == "Warning"]
    facts = [("Warnings", str(len(warnings))), ("Events", str(len(found)))]
    if not warnings:
        return Verdict(f"No warnings among the recent events in {namespace}.", facts)
    loudest = sorted(warnings, key=lambda e: -int(e.get("count") or 1))[:2]
    named = ", ".join(f"{e['reason']} ×{e.get('count') or 1} on {e['object']}" for e in loudest)
    return Verdict(f"{len(warnings)} warning{'s' if len(warnings) > 1 else ''} in {namespace}: "
                   f"{named}", facts)


def for_tool(tool: str, data: dict[str, Any]) -> Verdict | None:
    """The verdict on one read tool's result, where there is one (what a model is grounded on
    starts with it, as command mode's answers do)."""
    namespace = str(data.get("namespace", ""))
    if tool == "list_pods":
        return pods(namespace, data.get("pods") or [])
    if tool == "get_resource_usage":
        return usage(namespace, data.get("containers") or [])
    if tool == "list_services":
        return services(namespace, data.get("services") or [])
    if tool == "get_events":
        return events(namespace, data.get("events") or [])
    return None
