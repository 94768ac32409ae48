"""READ tools against the sandbox: allowed and forbidden users, impersonation, output bounds."""

from __future__ import annotations

import asyncio

import pytest

from agents import understand
from tests.sandbox_support import ThreadedSandbox
from tests.tools_support import env_for
from tools import errors, registry
from tools.reads import names

BOTH_GROUPS = ("developers", "shop-team")
READS = {
    "list_pods": {},
    "get_deployment_status": {"name": "web-app"},
    "view_logs": {"pod": "web-app-7c9d8f6b5d-x2k9p", "tail_lines": 3},
    "get_resource_usage": {},
    "list_services": {},
    "get_events": {},
    "recent_changes": {},
}


@pytest.mark.parametrize("tool", sorted(READS))
async def test_each_read_tool_allowed_and_forbidden(sandbox: ThreadedSandbox, tool: str) -> None:
    spec = registry.get(tool)
    allowed = await registry.run(spec, env_for(sandbox, "alice", impersonate=BOTH_GROUPS),
                                 READS[tool])
    assert allowed.text and len(allowed.text.encode()) <= 4096
    assert allowed.data["namespace"] == "shop"
    bot = env_for(sandbox, "hexabot")  # the bot as itself may read nothing
    with pytest.raises(errors.Forbidden) as info:
        await registry.run(spec, bot, READS[tool])
    assert 'User "hexabot" cannot' in info.value.message
    assert bot.cluster.calls == 1  # a 403 is shown, never retried (as anyone)


async def test_impersonation_with_two_groups(sandbox: ThreadedSandbox) -> None:
    """alice's rights in shop come only from her second group, shop-team."""
    only_first = env_for(sandbox, "alice", impersonate=("developers",))
    with pytest.raises(errors.Forbidden, match='User "alice" cannot list resource "pods"'):
        await registry.run(registry.get("list_pods"), only_first, {})
    both = await registry.run(registry.get("list_pods"),
                              env_for(sandbox, "alice", impersonate=BOTH_GROUPS), {})
    assert len(both.data["pods"]) == 6


async def test_list_pods_reports_what_a_person_asks_first(sandbox: ThreadedSandbox) -> None:
    result = await registry.run(registry.get("list_pods"), env_for(sandbox, "bob"),
                                {"label_selector": "app=checkout-worker"})
    pod = result.data["pods"][0]
    assert (pod["status"], pod["restarts"], pod["node"], pod["ready"]) == (
        "CrashLoopBackOff", 12, "node-2", "0/1")
    assert pod["last_termination"] == "OOMKilled (exit 137)"
    assert result.text.startswith("1 pods in shop matching app=checkout-worker: 1 "
                                  "CrashLoopBackOff")
    everything = await registry.run(registry.get("list_pods"), env_for(sandbox, "bob"), {})
    head, columns, *rows = everything.text.splitlines()
    assert head == "6 pods in shop: 1 CrashLoopBackOff, 5 Running"
    assert columns.split()[:3] == ["NAME", "READY", "STATUS"] and len(rows) == 6  # all fit
    assert rows[0].startswith("checkout-worker-6b8f9d7c4e-h5j2k  0/1    CrashLoopBackOff")
    assert not everything.truncated


async def test_deployment_status_and_resource_usage(sandbox: ThreadedSandbox) -> None:
    bob = env_for(sandbox, "bob")
    status = await registry.run(registry.get("get_deployment_status"), bob,
                                {"name": "checkout-worker"})
    assert status.data["desired"] == 1 and status.data["readyReplicas"] == 0
    assert status.data["containers"][0]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    usage = await registry.run(registry.get("get_resource_usage"), bob,
                               {"label_selector": "app=api-service"})
    assert sorted(r["cpu_pct_of_limit"] for r in usage.data["containers"]) == [85, 86]
    assert "at 85% of its CPU limit" in usage.text
    everyone = await registry.run(registry.get("get_resource_usage"), bob, {})
    rows = everyone.text.splitlines()[2:]
    assert everyone.text.startswith("resource usage in shop (6 containers, hottest first)")
    assert rows[0].startswith("checkout-worker-6b8f9d7c4e-h5j2k  worker")  # 113% of its memory
    assert rows[-1] == ("near limits: checkout-worker-6b8f9d7c4e-h5j2k/worker at 82% of its CPU "
                        "limit and 113% of its memory limit; api-service-5f6d7c8b9a-vb6rt/api at "
                        "86% of its CPU limit; api-service-5f6d7c8b9a-qp2lx/api at 85% of its CPU "
                        "limit")
    oom = await registry.run(registry.get("get_resource_usage"), bob,
                             {"pod": "checkout-worker-6b8f9d7c4e-h5j2k"})
    assert oom.data["containers"][0]["memory_pct_of_limit"] == 113  # 580Mi of 512Mi


async def test_services_and_events(sandbox: ThreadedSandbox) -> None:
    bob = env_for(sandbox, "bob")
    services = await registry.run(registry.get("list_services"), bob, {})
    by_name = {s["name"]: s for s in services.data["services"]}
    assert by_name["web-app"]["ready_endpoints"] == 3
    assert by_name["web-app"]["ports"] == ["80->8080/TCP"]
    events = await registry.run(registry.get("get_events"), bob, {})
    assert events.data["events"][0]["type"] == "Warning"
    backoff = next(e for e in events.data["events"] if e["reason"] == "BackOff")
    assert backoff["count"] == 57


async def test_namespace_outside_the_users_is_refused(sandbox: ThreadedSandbox) -> None:
    with pytest.raises(errors.InvalidArguments, match="'kube-system' is not one of yours"):
        await registry.run(registry.get("list_pods"), env_for(sandbox, "carol"),
                           {"namespace": "kube-system"})


async def test_a_50_mb_log_stays_within_the_cap(sandbox: ThreadedSandbox) -> None:
    pod = "web-app-7c9d8f6b5d-x2k9p"
    line = "2026-11-23T10:00:00Z INFO " + "x" * 200 + "\n"
    huge = line * (50 * 2**20 // len(line))
    sandbox.call(lambda: sandbox.sc.cluster.logs.__setitem__(("shop", pod),
                                                             {"web": {"current": huge}}))
    env = env_for(sandbox, "alice", impersonate=BOTH_GROUPS)
    result = await registry.run(registry.get("view_logs"), env,
                                {"pod": pod, "tail_lines": 5000})
    assert len(result.text.encode()) <= 4096 and result.truncated
    assert "lines (" in result.text and "cut to stay under" in result.text
    assert result.text.rstrip().endswith("x" * 50)  # the newest lines are the ones kept
    one_line = "y" * (50 * 2**20)
    sandbox.call(lambda: sandbox.sc.cluster.logs.__setitem__(("shop", pod),
                                                             {"web": {"current": one_line}}))
    single = await registry.run(registry.get("view_logs"), env, {"pod": pod})
    assert len(single.text.encode()) <= 4096 and single.truncated


async def test_one_turn_lists_a_thing_once(sandbox: ThreadedSandbox) -> None:
    """The command-mode inventory and list_pods in one answer share the pod list (one request,
    one state); a failed list is asked again; the next turn's environment asks afresh."""
    env = env_for(sandbox, "bob")
    inventory = await understand.inventory(env, env.ctx)
    made = env.cluster.calls
    assert made == len(names.LISTS) * len(env.ctx.namespaces)
    result = await registry.run(registry.get("list_pods"), env, {})
    assert env.cluster.calls == made
    assert {p["name"] for p in result.data["pods"]} == {
        o.name for o in inventory.objects if o.kind == "Pod" and o.namespace == "shop"}
    path = "/api/v1/namespaces/shop/services"
    together = await asyncio.gather(*(env.listing(path, "list services") for _ in range(3)))
    assert env.cluster.calls == made and together[0] is together[2]
    selected = await registry.run(registry.get("list_pods"), env,
                                  {"label_selector": "app=checkout-worker"})
    assert env.cluster.calls == made + 1 and len(selected.data["pods"]) == 1
    next_turn = env_for(sandbox, "bob")
    await next_turn.listing(path, "list services")
    assert next_turn.cluster.calls == 1

    bot = env_for(sandbox, "hexabot")
    for attempt in (1, 2):
        with pytest.raises(errors.Forbidden):
            await bot.listing(path, "list services")
        assert bot.cluster.calls == attempt
