"""AnalyzePerformance: per workload, usage against requests and limits, restarts, replicas
against the HPA's bounds — and, where a Prometheus is configured, p95 latency, error rate and
usage over time drawn as a PNG chart (attached in Slack).

Without Prometheus the analysis says so and uses the metrics API's live sample only.  The text
puts the workloads with something to note first (not ready, restarting, near a limit, at the
HPA's maximum, idle), names each of them, and counts the quiet rest when all does not fit.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from pydantic import Field

from tools import errors, quantity
from tools.analysis import chart, usage
from tools.analysis.usage import ContainerUsage, WorkloadUsage
from tools.args import Name, ToolArgs
from tools.prometheus import CPU, MEMORY, Prometheus, Series, pod_pattern
from tools.spec import ToolEnv, ToolResult
from tools.text import Body, Layout, detailed, fit, listing


class PerformanceArgs(ToolArgs):
    name: Name | None = Field(default=None, description="one workload (default: all)")
    window_minutes: int = Field(default=60, ge=5, le=1440,
                                description="history to chart when Prometheus is configured")


def _pct(used: float | None, of: float | None) -> str:
    return f"{100 * used / of:.0f}%" if used is not None and of else "-"


def _container_line(c: ContainerUsage) -> str:
    if c.cpu is None and c.memory is None:
        return f"  {c.name}: no metrics"
    return (f"  {c.name}: cpu {quantity.cpu(c.cpu)} (peak {quantity.cpu(c.cpu_peak)}) = "
            f"{_pct(c.cpu_peak, c.cpu_request)} of request {quantity.cpu(c.cpu_request)}, "
            f"{_pct(c.cpu_peak, c.cpu_limit)} of limit {quantity.cpu(c.cpu_limit)}; memory "
            f"{quantity.memory(c.memory)} (peak {quantity.memory(c.memory_peak)}) = "
            f"{_pct(c.memory_peak, c.memory_request)} of request "
            f"{quantity.memory(c.memory_request)}, {_pct(c.memory_peak, c.memory_limit)} of "
            f"limit {quantity.memory(c.memory_limit)}")


def notes(w: WorkloadUsage) -> list[str]:
    """What stands out, in words."""
    found = []
    if w.ready < w.replicas:
        found.append(f"only {w.ready} of {w.replicas} replicas ready")
    if w.restarts:
        found.append(f"{w.restarts} restarts")
    if w.hpa and w.hpa["current"] >= w.hpa["max"]:
        found.append(f"HPA at its maximum ({w.hpa['max']})")
    for c in w.containers:
        if c.cpu_peak is not None and c.cpu_limit and c.cpu_peak >= 0.8 * c.cpu_limit:
            found.append(f"{c.name} near its CPU limit (throttling)")
        if c.memory_peak is not None and c.memory_limit and \
                c.memory_peak >= 0.9 * c.memory_limit:
            found.append(f"{c.name} near its memory limit (OOM risk)")
        if c.cpu_peak is not None and c.cpu_request and c.cpu_peak < 0.2 * c.cpu_request:
            found.append(f"{c.name} uses under 20% of its CPU request")
    return found


def rank(w: WorkloadUsage, found: list[str]) -> int:
    """0 not ready, 1 restarting or near its memory limit, 2 near its CPU limit or at the
    HPA's maximum, 3 idle (under 20% of a request), 9 nothing to note."""
    if w.ready < w.replicas:
        return 0
    if w.restarts or any("memory limit" in note for note in found):
        return 1
    return 2 if any("CPU limit" in n or "HPA" in n for n in found) else 3 if found else 9


async def _history(prom: Prometheus, w: WorkloadUsage, minutes: int
                   ) -> tuple[dict[str, Any], Series, Series]:
    pods = pod_pattern(w.kind, w.name)
    latency, error_rate, cpu, memory = await asyncio.gather(
        prom.value(prom.latency_query.format(ns=w.namespace, pods=pods)),
        prom.value(prom.error_query.format(ns=w.namespace, pods=pods)),
        prom.series(CPU.format(ns=w.namespace, pods=pods), minutes),
        prom.series(MEMORY.format(ns=w.namespace, pods=pods), minutes))
    return ({"latency_p95_ms": None if latency is None else round(latency * 1000, 1),
             "error_rate": error_rate,
             "cpu_peak_total": max((v for _, v in cpu), default=None),
             "memory_peak_total": max((v for _, v in memory), default=None)}, cpu, memory)


def _workload_lines(w: WorkloadUsage, row: dict[str, Any]) -> Body:
    hpa = (f"HPA {w.hpa['min']}..{w.hpa['max']} (now {w.hpa['current']})" if w.hpa
           else "no HPA")
    lines = [(f"{w.kind} {w.name}: {w.ready}/{w.replicas} ready, {w.restarts} restarts, {hpa}",
              1)]
    lines += [(_container_line(c), 0) for c in w.containers]
    if row.get("latency_p95_ms") is not None or row.get("error_rate") is not None:
        rate = row.get("error_rate")
        lines.append((f"  p95 latency {row.get('latency_p95_ms', '-')} ms, errors "
                      + (f"{100 * rate:.2f}%" if rate is not None else "-"), 0))
    if row["notes"]:
        lines.append(("  ⚠ " + "; ".join(row["notes"]), 0))
    return lines


def _workload_json(w: WorkloadUsage) -> dict[str, Any]:
    return {"kind": w.kind, "name": w.name, "namespace": w.namespace, "replicas": w.replicas,
            "ready": w.ready, "pods": w.pods, "restarts": w.restarts, "hpa": w.hpa,
            "pdb": w.pdb, "containers": [c.as_json() for c in w.containers],
            "notes": notes(w)}


async def analyze_performance(env: ToolEnv, args: PerformanceArgs) -> ToolResult:
    namespace = env.namespace(args)
    snap, found = await usage.read(env, namespace, args.name)
    rows = [_workload_json(w) for w in found]
    charts: list[dict[str, str]] = []
    source = "live metrics sample" + ("" if "metrics" not in snap.unreadable
                                      else " (not readable as you)")
    histories: list[tuple[dict[str, Any], Series, Series]] = []
    if env.prometheus is not None and found:
        try:
            histories = list(await asyncio.gather(*(
                _history(env.prometheus, w, args.window_minutes) for w in found)))
        except errors.ToolError as exc:  # the live sample still answers
            source += f"; Prometheus failed, so no history: {exc.message}"
    if histories:
        cpu, memory = {}, {}
        for row, (extra, cpu_series, memory_series) in zip(rows, histories, strict=True):
            row.update(extra)
            cpu[row["name"]], memory[row["name"]] = cpu_series, memory_series
        source += f" + Prometheus, last {args.window_minutes} min"
        if any(cpu.values()) or any(memory.values()):
            title = f"{namespace}: usage over the last {args.window_minutes} min"
            png = await asyncio.to_thread(chart.usage_png, title, cpu, memory)
            charts.append({"title": title, "filename": f"{namespace}-usage.png",
                           "png_base64": base64.b64encode(png).decode()})
    elif env.prometheus is None:
        source += "; no Prometheus configured (no history, latency or error rate)"
    head = [f"performance in {namespace} ({len(found)} workload"
            f"{'' if len(found) == 1 else 's'}; {source}" + (
                "; what to note first)" if len(found) > 1 else ")")]
    ordered = sorted(zip(found, rows, strict=True),
                     key=lambda wr: (rank(wr[0], wr[1]["notes"]), -wr[0].restarts, wr[0].name))
    noted = [(w, row) for w, row in ordered if row["notes"]]
    quiet = [w for w, row in ordered if not row["notes"]]
    tail = [f"(chart: {charts[0]['filename']})"] if charts else []
    summary = [f"+ {len(quiet)} workloads with nothing to note: "
               f"{listing([w.name for w in quiet])}"] if quiet else []
    layouts = [Layout(head, [line for w, row in ordered for line in _workload_lines(w, row)],
                      tail),
               *detailed(head, [_workload_lines(w, row) for w, row in noted],
                         lambda k: [("more workloads to note:", 0)] * bool(noted[k:]) + [
                             (f"  {w.kind} {w.name}: " + "; ".join(row["notes"]), 1)
                             for w, row in noted[k:]], summary + tail, len(noted))]
    text, cut = fit(layouts, env.limit, "workloads to note", "ask with name for one workload")
    return ToolResult(text, {"namespace": namespace, "workloads": rows, "charts": charts,
                             "prometheus": env.prometheus is not None,
                             "unreadable": snap.unreadable}, cut)
