"""Guardrail evaluation cost (no target set): the pure ruling with a large policy
(50 rules with windows, freezes, caps, rates and concurrency limits, 20 protected entries)
against a busy user (1,000 writes in the horizon) and workspace (200 changes in flight).

Every write is judged twice (plan, approval), so the ruling must stay negligible next to the
plan's own API calls; reported as the median of 200 rulings, with our own bar of 5 ms.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from bench.common import Result
from confirmations import guard, rules
from confirmations.flow import WRITE_TOOLS
from tools.security import KubeconfigCredentials, SecurityContext
from tools.spec import ActionPlan, Risk, Target

NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
BAR_MS = 5.0


def _policy() -> rules.Policy:
    rule_docs = []
    for i in range(50):
        rule_docs.append({
            "name": f"rule-{i:02d}", "tools": ["*"] if i % 5 == 0 else ["scale_deployment"],
            "scope": {"namespaces": [f"team-{i % 7}-*", "prod-*"]},
            "windows": [{"cron": "* 6-22 * * mon-fri"}], "outside_windows": "two_people",
            "freezes": [{"start": "2026-12-20 00:00", "end": "2027-01-04 00:00"}],
            "caps": {"max_replicas": 200, "max_scale_step": 50},
            "rate": "2000/day", "concurrency": {"per_object": 5, "per_user": 500}})
    protected = [{"name": f"protected-{i:02d}", "names": [f"db-{i}-*"]} for i in range(20)]
    return rules.parse({"timezone": "Europe/Berlin", "rules": rule_docs,
                        "protected": protected}, "bench", WRITE_TOOLS)


def run() -> list[Result]:
    policy = _policy()
    ctx = SecurityContext("U0ALICE", "hxb-alice", "alice", (), "shop", ("prod-web",),
                          "prod-web", (), False, KubeconfigCredentials({}, "alice", "bench"))
    plan = ActionPlan(tool="scale_deployment", args={"name": "web", "replicas": 12},
                      workspace="shop", namespace="prod-web", requester="U0ALICE", summary="s",
                      diff="d", risk=Risk.LOW, payload={},
                      targets=(Target("Deployment", "prod-web", "web"),),
                      facts={"objects": [{"kind": "Deployment", "namespace": "prod-web",
                                          "name": "web", "labels": {"app": "web"},
                                          "replicas": [10, 12]}]})
    activity = guard.Activity(
        writes=tuple(guard.PastWrite(NOW - timedelta(minutes=i), "restart", "shop", "prod-web")
                     for i in range(1000)),
        in_flight=tuple(guard.InFlight(f"a{i}", "U0BOB", "restart",
                                       (f"Deployment/prod-web/app-{i}",)) for i in range(200)))
    timings = []
    for _ in range(200):
        began = time.perf_counter()
        ruling = guard.evaluate(policy, "scale_deployment", plan.args, plan, ctx, activity, NOW)
        timings.append((time.perf_counter() - began) * 1000)
    assert ruling.outcome == "allow", ruling
    median = statistics.median(timings)
    return [Result("guardrail ruling, 50 rules, 1,000 writes, 200 in flight (median of 200)",
                   f"{median:.2f} ms", f"< {BAR_MS:.0f} ms (ours; issue sets none)",
                   median < BAR_MS)]
