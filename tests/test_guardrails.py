"""Guardrails end to end: the decision flow with a real Postgres and the sandbox cluster.

A refused write is never stored (no card can exist) and the refusal is audited with its rule;
a write during a freeze needs two people other than the requester; the rate limit counts the
stored writes; exec outside the allowlist is refused; the policy is judged again at approval.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from confirmations import rules
from confirmations.flow import WRITE_TOOLS
from confirmations.model import State
from tests.confirm_support import DAVE, DIRECTORY, Rig, rig
from tests.sandbox_support import ThreadedSandbox
from tools import errors

STAGING = "shop-staging"   # alice may approve her own changes here (not two-person)


@pytest.fixture
async def r(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path) -> AsyncIterator[Rig]:
    async with rig(database_url, sandbox, tmp_path, people=DIRECTORY + DAVE) as made:
        yield made


def use(r: Rig, document: dict[str, Any]) -> None:
    r.flow.guardrails = rules.parse(document, "test-policy.yaml", WRITE_TOOLS)


def replicas(sandbox: ThreadedSandbox, namespace: str = STAGING,
             name: str = "web-app") -> int:
    return int(sandbox.obj("apps", "v1", "deployments", namespace, name)["spec"]["replicas"])


async def _events(r: Rig, kind: str) -> list[dict[str, Any]]:
    rows = await r.rows("SELECT event FROM audit_outbox ORDER BY seq")
    return [e for e in (json.loads(x["event"]) for x in rows) if e["kind"] == kind]


async def _scale(r: Rig, count: int, namespace: str = STAGING):  # type: ignore[no-untyped-def]
    ctx = await r.identity.context("alice", namespace=namespace)
    return await r.flow.propose(ctx, "scale_deployment", {"name": "web-app",
                                                          "replicas": count})


async def test_scale_beyond_the_cap_is_refused_before_any_card(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    use(r, {"rules": [{"name": "staging-caps", "tools": ["scale_deployment"],
                       "scope": {"namespaces": ["shop-*"]}, "caps": {"max_replicas": 6}}]})
    with pytest.raises(errors.PlanRefused) as refused:
        await _scale(r, 9)
    assert "9 replicas for Deployment shop-staging/web-app is above the cap of 6" in \
        refused.value.message and "at most 6 would be allowed" in refused.value.message
    assert await r.rows("SELECT id FROM pending_actions") == []
    [ruling] = await _events(r, "policy.evaluate")
    assert ruling["outcome"] == "denied" and ruling["detail"]["rule"] == "staging-caps"
    assert ruling["detail"]["stage"] == "plan"
    allowed = await _scale(r, 6)
    assert allowed.state is State.PENDING and replicas(sandbox) != 6


async def test_a_protected_deployment_cannot_be_restarted(
        r: Rig, sandbox: ThreadedSandbox) -> None:
    carol = await r.identity.context("carol", namespace=STAGING)
    await r.envs.for_context(carol).cluster.call(
        "PATCH", f"/apis/apps/v1/namespaces/{STAGING}/deployments/web-app",
        body={"metadata": {"labels": {"hexabot.io/protected": "true"}}},
        content_type="application/merge-patch+json")
    ctx = await r.identity.context("alice", namespace=STAGING)
    with pytest.raises(errors.PlanRefused, match=r"protected \(rule labelled-protected\): it "
                                                 r"is never restarted"):
        await r.flow.propose(ctx, "restart", {"name": "web-app"})
    with pytest.raises(errors.PlanRefused, match="never scaled to 0"):
        await _scale(r, 0)
    assert (await _scale(r, 2)).state is State.PENDING  # other changes stay possible


async def test_a_protected_deployments_pods_cannot_be_deleted_one_by_one(r: Rig) -> None:
    carol = await r.identity.context("carol", namespace="shop")
    await r.envs.for_context(carol).cluster.call(
        "PATCH", "/apis/apps/v1/namespaces/shop/deployments/web-app",
        body={"metadata": {"labels": {"hexabot.io/protected": "true"}}},
        content_type="application/merge-patch+json")
    with pytest.raises(errors.PlanRefused, match="Deployment shop/web-app is protected"):
        await r.flow.propose(carol, "restart", {"kind": "pod",
                                                "name": "web-app-7c9d8f6b5d-x2k9p"})
    with pytest.raises(errors.PlanRefused, match="Deployment shop/web-app is protected"):
        await r.flow.propose(carol, "delete_resource", {"kind": "pod",
                                                        "name": "web-app-7c9d8f6b5d-x2k9p"})
    other = await r.flow.propose(carol, "restart", {"kind": "pod", "name":
                                                    "checkout-worker-6b8f9d7c4e-h5j2k"})
    assert other.state is State.PENDING


async def test_a_write_during_a_freeze_needs_two_people(r: Rig, sandbox: ThreadedSandbox) -> None:
    use(r, {"timezone": "Europe/Berlin", "rules": [{"name": "year-end", "tools": ["*"],
            "freezes": [{"start": "2026-12-20 00:00", "end": "2027-01-04 00:00",
                         "reason": "year-end freeze"}]}]})
    r.flow.clock = lambda: datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    before = replicas(sandbox)
    action = await _scale(r, 4)
    assert action.two_person and action.approvals_needed == 2
    assert action.policy_rule == "year-end"
    own = await r.flow.approve(action.id, "alice")
    assert not own.ok and "rule year-end needs a second person" in own.message
    first = await r.flow.approve(action.id, "carol")
    assert first.ok and first.partial and "1 of 2" in first.message
    assert replicas(sandbox) == before  # one approval changes nothing
    twice = await r.flow.approve(action.id, "carol")
    assert not twice.ok and "carol already approved this" in twice.message
    second = await r.flow.approve(action.id, "dave")
    assert second.ok and not second.partial, second.message
    assert replicas(sandbox) == 4
    row = (await r.rows("SELECT state, approvals, approver FROM pending_actions"))[0]
    assert row["state"] == "succeeded" and json.loads(row["approvals"]) == ["U0CAROL",
                                                                            "U0DAVE"]
    r.flow.clock = lambda: datetime(2027, 1, 5, 10, 0, tzinfo=UTC)  # after the freeze
    later = await _scale(r, 3)
    assert not later.two_person and later.approvals_needed == 1


async def test_the_eleventh_write_in_an_hour_is_refused(r: Rig) -> None:
    use(r, {"rules": [{"name": "ten-an-hour", "tools": ["*"], "rate": "10/hour"}]})
    for count in range(10):
        await _scale(r, 5 + count)
    with pytest.raises(errors.PlanRefused, match=r"already made 10 writes in the last hour "
                                                 r"\(rule ten-an-hour: 10/hour\)"):
        await _scale(r, 20)
    assert len(await r.rows("SELECT id FROM pending_actions")) == 10
    cancelled = (await r.rows("SELECT id FROM pending_actions ORDER BY created_at"))[0]["id"]
    assert (await r.flow.reject(cancelled, "alice")).ok  # a cancelled proposal is no write
    assert (await _scale(r, 21)).state is State.PENDING


async def test_exec_outside_the_allowlist_is_refused(r: Rig) -> None:
    ctx = await r.identity.context("alice", namespace="shop")
    pod = "web-app-7c9d8f6b5d-x2k9p"
    with pytest.raises(errors.PlanRefused, match="'rm -rf /tmp' is not an allowed command "
                                                 r"\(exec-read-only-diagnostics\)"):
        await r.flow.propose(ctx, "exec_command", {"pod": pod, "command": "rm -rf /tmp"})
    action = await r.flow.propose(ctx, "exec_command", {"pod": pod, "command": "df -h"})
    assert action.two_person  # shop is a two-person namespace
    done = await r.flow.approve(action.id, "carol")
    assert done.ok and done.action is not None and "Filesystem" in (done.action.result or "")
    assert "Filesystem" not in done.message  # exec output is the requester's, not the approver's


async def test_delete_needs_a_teammate_by_default(r: Rig, sandbox: ThreadedSandbox) -> None:
    ctx = await r.identity.context("alice", namespace=STAGING)
    action = await r.flow.propose(ctx, "delete_resource", {"kind": "configmap",
                                                            "name": "web-app-config"})
    assert action.two_person and action.policy_rule == "deletes-need-a-teammate"
    assert action.risk == "high"
    assert "needs a second person" in (await r.flow.approve(action.id, "alice")).message
    assert (await r.flow.approve(action.id, "carol")).ok
    assert sandbox.obj("", "v1", "configmaps", STAGING, "web-app-config") is None


async def test_policy_is_judged_again_at_approval(r: Rig, sandbox: ThreadedSandbox) -> None:
    action = await _scale(r, 7)
    assert not action.two_person
    use(r, {"rules": [{"name": "now-capped", "tools": ["*"], "caps": {"max_replicas": 5}}]})
    refused = await r.flow.approve(action.id, "alice")
    assert not refused.ok and "Refused by policy at approval" in refused.message
    assert refused.action is not None and refused.action.state is State.FAILED
    assert replicas(sandbox) != 7
    stricter = await _scale(r, 4)
    use(r, {"rules": [{"name": "now-two", "tools": ["*"], "approvals": "two_people"}]})
    escalated = await r.flow.approve(stricter.id, "alice")
    assert not escalated.ok and "needs a second person" in escalated.message
    row = (await r.rows(f"SELECT approvals_needed, two_person FROM pending_actions "
                        f"WHERE id = '{stricter.id}'"))[0]
    assert (row["approvals_needed"], row["two_person"]) == (2, True)
    stages = [e["detail"]["stage"] for e in await _events(r, "policy.evaluate")]
    assert stages == ["plan", "approve", "plan", "approve"]


async def test_explain_says_what_would_happen_without_acting(r: Rig) -> None:
    use(r, {"rules": [{"name": "staging-caps", "tools": ["scale_deployment"],
                       "caps": {"max_scale_step": 2}}]})
    ctx = await r.identity.context("alice", namespace=STAGING)
    found = await r.flow.explain(ctx, "scale_deployment", {"name": "web-app", "replicas": 9})
    assert found.ruling is not None and found.ruling.outcome == "deny"
    assert found.ruling.rules == ("staging-caps",)
    assert await r.rows("SELECT id FROM pending_actions") == []


async def test_one_change_in_flight_per_object(r: Rig, sandbox: ThreadedSandbox) -> None:
    use(r, {"rules": [{"name": "one-at-a-time", "tools": ["*"],
                       "concurrency": {"per_object": 1}}]})
    first = await _scale(r, 4)
    with pytest.raises(errors.PlanRefused, match=rf"Deployment shop-staging/web-app already has "
                                                 rf"1 change\(s\) in flight \({first.id}\)"):
        await _scale(r, 5)
    carol = await r.identity.context("carol", namespace=STAGING)
    with pytest.raises(errors.PlanRefused, match="in flight"):  # whoever asks
        await r.flow.propose(carol, "restart", {"name": "web-app"})
    assert (await r.flow.approve(first.id, "alice")).ok
    assert replicas(sandbox) == 4
    assert (await _scale(r, 5)).state is State.PENDING  # the first one is done
