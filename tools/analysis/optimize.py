"""SuggestOptimizations: rightsizing requests from observed usage with headroom, over- and
under-replication, missing limits, probes and PodDisruptionBudgets — each with its monthly
cost delta from the configured prices and, where a write tool can apply it, a ready proposal.

Usage is the peak over the workload's pods in the metrics API's live sample (one moment: the
headroom is what covers the peaks it did not see); a workload with no metrics gets no
rightsizing, only the structural checks.  All of a workload's resource changes are one
proposal (two plans on one object would conflict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from tools import quantity
from tools.analysis import proposals, usage
from tools.analysis.proposals import Changes
from tools.analysis.usage import WorkloadUsage
from tools.args import Name, ToolArgs
from tools.spec import Pricing, ToolEnv, ToolResult
from tools.text import Body, detailed, fit, grouped

MI = 2**20
CPU_STEP, MEMORY_STEP = 0.01, 16 * MI       # round suggestions up to 10m / 16Mi
OVER = 1.5                                  # a request this much above the target is waste
LOW_CPU, HIGH_CPU, TARGET_CPU = 0.25, 0.80, 0.60  # replicas: mean use / request


class OptimizeArgs(ToolArgs):
    name: Name | None = Field(default=None, description="one workload (default: all)")
    headroom_percent: int = Field(default=30, ge=0, le=200,
                                  description="kept above the observed peak")


@dataclass
class Suggestion:
    kind: str            # resources | replicas | limits | probes | pdb
    workload: str
    detail: str
    cost_delta: float = 0.0          # USD per month
    proposal: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "workload": self.workload, "detail": self.detail,
                "cost_delta": round(self.cost_delta, 2), "proposal": self.proposal}


def _up(value: float, step: float) -> float:
    return max(step, math.ceil(value / step) * step)


def _resources(w: WorkloadUsage, headroom: float, pricing: Pricing) -> Suggestion | None:
    changes: Changes = {}
    words: list[str] = []
    cost = 0.0
    for c in w.containers:
        wanted: dict[str, dict[str, str]] = {}
        for res, peak, request, step, fmt in (
                ("cpu", c.cpu_peak, c.cpu_request, CPU_STEP, quantity.cpu),
                ("memory", c.memory_peak, c.memory_request, MEMORY_STEP, quantity.memory)):
            if peak is None:
                continue
            target = _up(peak * (1 + headroom), step)
            if request is None or request > target * OVER or peak > request:
                why = ("no request" if request is None else "over-provisioned"
                       if request > target * OVER else "used above its request")
                wanted.setdefault("requests", {})[res] = fmt(target)
                words.append(f"{c.name} {res} request {fmt(request)} → {fmt(target)} ({why}; "
                             f"peak {fmt(peak)})")
                delta = target - (request or 0.0)
                cost += w.replicas * (pricing.monthly(delta, 0) if res == "cpu"
                                      else pricing.monthly(0, delta))
                limit = c.cpu_limit if res == "cpu" else c.memory_limit
                if limit is not None and limit < target:
                    wanted.setdefault("limits", {})[res] = fmt(target)
                    words.append(f"{c.name} {res} limit {fmt(limit)} → {fmt(target)} (below "
                                 "the new request)")
        if c.memory_limit is None:
            new_request = quantity.parse(wanted.get("requests", {}).get("memory")) or 0.0
            base = max(c.memory_peak or 0.0, c.memory_request or 0.0, new_request)
            if base:
                limit = _up(base * 1.5, MEMORY_STEP)
                wanted.setdefault("limits", {})["memory"] = quantity.memory(limit)
                words.append(f"{c.name} has no memory limit → {quantity.memory(limit)} "
                             "(a leak then restarts one pod instead of starving the node)")
        if wanted:
            changes[c.name] = wanted
    if not changes:
        return None
    return Suggestion("resources", w.name, "; ".join(words), cost,
                      proposals.resources(w.workload, changes))


def _replicas(w: WorkloadUsage, pricing: Pricing) -> Suggestion | None:
    """Deployments without an HPA: fewer replicas when every pod idles (mean CPU under 25%
    of the request, keeping two for availability); more when pods run at their CPU limit
    (over 80%: throttled — more requests would not help, more pods do)."""
    if w.kind != "Deployment" or w.hpa is not None or w.pods == 0:
        return None
    used = sum(c.cpu for c in w.containers if c.cpu is not None)
    requested = sum(c.cpu_request or 0 for c in w.containers if c.cpu is not None)
    limited = sum(c.cpu_limit or 0 for c in w.containers if c.cpu is not None)
    if requested and used / requested < LOW_CPU and w.replicas > 2:
        target = max(2, math.ceil(used * w.replicas / (TARGET_CPU * requested)))
        why = f"over-replicated: mean CPU is {100 * used / requested:.0f}% of the request"
    elif limited and used / limited > HIGH_CPU:
        target = max(w.replicas + 1, math.ceil(used * w.replicas / (TARGET_CPU * limited)))
        why = f"under-replicated: mean CPU is {100 * used / limited:.0f}% of the limit"
    else:
        return None
    if target == w.replicas:
        return None
    per_pod = sum(pricing.monthly(c.cpu_request or 0, c.memory_request or 0)
                  for c in w.containers)
    return Suggestion("replicas", w.name, f"{why}; {w.replicas} → {target} replicas",
                      (target - w.replicas) * per_pod, proposals.scale(w.name, target))


def _structure(w: WorkloadUsage) -> list[Suggestion]:
    found = []
    for c in w.containers:
        missing = [p for p, has in (("readiness", c.readiness_probe),
                                    ("liveness", c.liveness_probe)) if not has]
        if missing and w.workload is not None:
            found.append(Suggestion("probes", w.name, f"{c.name} has no {' or '.join(missing)} "
                                    "probe: add an HTTP or TCP check of its health endpoint "
                                    "(no plan: only the app knows its endpoint)"))
    selector = (((w.workload or {}).get("spec") or {}).get("selector") or {}).get(
        "matchLabels")
    if w.replicas >= 2 and not w.pdb and selector:
        pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": f"{w.name}-pdb"[:63], "namespace": w.namespace},
               "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}}
        found.append(Suggestion("pdb", w.name, f"{w.replicas} replicas but no "
                                "PodDisruptionBudget: a node drain may take them all at once; "
                                "add one allowing 1 unavailable", 0.0, proposals.manifest(pdb)))
    return found


def suggest(found: list[WorkloadUsage], pricing: Pricing, headroom: float) -> list[Suggestion]:
    result = []
    for w in found:
        result += [s for s in (_resources(w, headroom, pricing), _replicas(w, pricing)) if s]
        result += _structure(w)
    return result


async def suggest_optimizations(env: ToolEnv, args: OptimizeArgs) -> ToolResult:
    namespace = env.namespace(args)
    snap, found = await usage.read(env, namespace, args.name)
    suggestions = suggest(found, env.pricing, args.headroom_percent / 100)
    total = sum(s.cost_delta for s in suggestions)
    head = [f"{len(suggestions)} suggestions for {namespace} (headroom "
            f"{args.headroom_percent}%; total {total:+.2f} USD/month)"]
    full = [[(f"• [{s.kind}] {s.workload}: {s.detail}" + (
        f" ({s.cost_delta:+.2f} USD/month)" if s.cost_delta else "") + (
        f" — ready to propose ({s.proposal['tool']})" if s.proposal else ""), 1)]
        for s in suggestions]
    tail = ["(no metrics readable as you: no rightsizing)"] if "metrics" in snap.unreadable \
        else []

    def rest(k: int) -> Body:
        return grouped("more suggestions (USD/month in brackets; ask with name for one "
                       "workload's):", [(f"[{s.kind}]", s.workload + (
                           f" ({s.cost_delta:+.2f})" if s.cost_delta else ""))
                                        for s in suggestions[k:]])

    text, cut = fit(detailed(head, full, rest, tail, len(full)), env.limit, "suggestions",
                    "ask with name for one workload's")
    return ToolResult(text, {"namespace": namespace, "total_cost_delta": round(total, 2),
                             "suggestions": [s.as_json() for s in suggestions]}, cut)
