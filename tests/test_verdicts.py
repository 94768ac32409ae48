"""Verdicts over the read tools' data: the first line people read must say the right thing in
the plain cases and the awkward ones (nothing there, one, two, all bad, half rolled out)."""

from __future__ import annotations

from typing import Any

import pytest

from agents import verdicts


def pod(name: str, status: str = "Running", ready: str = "1/1", restarts: int = 0,
        last: str = "") -> dict[str, Any]:
    return {"name": name, "status": status, "ready": ready, "restarts": restarts,
            "last_termination": last, "phase": "Running"}


def row(name: str, cpu_pct: int | None, memory_pct: int | None,
        **more: Any) -> dict[str, Any]:
    """A get_resource_usage row whose shares of its limits are ``cpu_pct`` and ``memory_pct``."""
    return {"pod": name, "container": "app", "cpu": 0.5 * (cpu_pct or 40) / 100,
            "cpu_limit": 0.5 if cpu_pct else None, "cpu_request": 0.2,
            "memory": 2**29 * (memory_pct or 50) / 100, "memory_request": 2**28,
            "memory_limit": 2**29 if memory_pct else None, "cpu_pct_of_limit": cpu_pct,
            "memory_pct_of_limit": memory_pct, **more}


@pytest.mark.parametrize(("found", "said"), [
    ([], "No pods in shop."),
    ([pod("a")], "The only pod in shop is running and ready."),
    ([pod("a"), pod("b")], "Both pods in shop are running and ready."),
    ([pod("a"), pod("b", "CrashLoopBackOff", "0/1", 12, "OOMKilled (exit 137)")],
     "1 of 2 pods in shop is not healthy: b CrashLoopBackOff (OOMKilled, 12 restarts)"),
    ([pod("a", "Pending", "0/1"), pod("b", "ImagePullBackOff", "0/1"), pod("c")],
     "2 of 3 pods in shop are not healthy: b ImagePullBackOff and 1 more"),
])
def test_pods(found: list[dict[str, Any]], said: str) -> None:
    assert verdicts.pods("shop", found).line == said


STATUS = {"desired": 3, "readyReplicas": 3, "rollout": "complete"}


def test_a_healthy_deployment_names_usage_and_logs() -> None:
    found = verdicts.deployment("web", STATUS, [pod("w1"), pod("w2"), pod("w3")],
                                [row("w1", 40, 60), row("w2", 50, 64)], 0)
    assert found.line == ("web is healthy: 3/3 ready; CPU 45% and memory 62% of limits on "
                          "average; no errors in the last 15 min of logs")
    assert ("Errors in logs (15 min)", "0") in found.facts


@pytest.mark.parametrize(("status", "pods", "usage", "errors", "said"), [
    ({**STATUS, "readyReplicas": 0, "desired": 1},
     [pod("c", "CrashLoopBackOff", "0/1", 12, "OOMKilled (exit 137)")],
     [row("c", 80, 113, memory=580 * 2**20, memory_limit=512 * 2**20)], None,
     "c is failing: 0/1 ready; OOMKilled 12 times, 580Mi used against a 512Mi limit"),
    ({**STATUS, "readyReplicas": 2}, [pod("a"), pod("b"), pod("c", "Running", "0/1")], [], 0,
     "web is degraded: 2/3 ready; Running"),
    ({**STATUS, "rollout": "in progress: 1 of 3 updated, 3 available"},
     [pod("a"), pod("b"), pod("c")], [], None,
     "web is rolling out: 3/3 ready; rollout in progress: 1 of 3 updated, 3 available"),
    (STATUS, [pod("a")], [row("a", 90, 50)], 0,
     "web is busy: 3/3 ready; CPU 90% and memory 50% of limits on average; no errors in the "
     "last 15 min of logs"),
    (STATUS, [pod("a")], [row("a", None, None)], 4,
     "web is up but logging errors: 3/3 ready; 4 error lines in the last 15 min of logs"),
])
def test_deployments_that_are_not_simply_healthy(status: dict[str, Any],
                                                 pods: list[dict[str, Any]],
                                                 usage: list[dict[str, Any]],
                                                 errors: int | None, said: str) -> None:
    name = "c" if status["desired"] == 1 else "web"
    assert verdicts.deployment(name, status, pods, usage, errors).line == said


def test_error_lines() -> None:
    logs = "\n".join(['10.0.0.1 - - "GET / HTTP/1.1" 200 512', '10.0.0.1 - - "GET /x HTTP/1.1" '
                      '503 0', "ERROR could not connect", "Traceback (most recent call last):",
                      "error_count=0 is fine?", "all good"])
    assert verdicts.error_lines(logs) == 3  # the 503, ERROR, Traceback; not error_count


def test_usage_services_events() -> None:
    assert verdicts.usage("shop", []).line.startswith("No usage metrics for shop")
    hot = verdicts.usage("shop", [row("a", 20, 30), row("b", 90, 20), row("c", 40, 120)])
    assert hot.line.startswith("2 of 3 containers in shop run near their limits: c/app at ")
    assert verdicts.services("shop", [{"name": "web", "selector": {"app": "web"},
                                       "ready_endpoints": 0}]).line == (
        "The only Service in shop has no ready endpoints: web")
    assert verdicts.services("shop", [{"name": "ext", "selector": {},
                                       "ready_endpoints": 0}]).line == (
        "The only Service in shop has ready endpoints.")
    loud = verdicts.events("shop", [
        {"type": "Warning", "reason": "BackOff", "object": "pod/a", "count": 57},
        {"type": "Normal", "reason": "Pulled", "object": "pod/a", "count": 1},
        {"type": "Warning", "reason": "OOMKilling", "object": "pod/a", "count": 12}])
    assert loud.line == "2 warnings in shop: BackOff ×57 on pod/a, OOMKilling ×12 on pod/a"
    assert verdicts.events("shop", []).line == "No warnings among the recent events in shop."
