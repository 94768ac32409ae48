"""The approval policy is pure: tested without fixtures or I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from confirmations.approvers import Approver, may_approve, may_reject
from confirmations.model import PendingAction, State
from tools.spec import ActionPlan, Risk, Target

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def action(two_person: bool = False, state: State = State.PENDING,
           expires: timedelta = timedelta(minutes=15)) -> PendingAction:
    plan = ActionPlan(tool="scale_deployment", args={"name": "web-app", "replicas": 5},
                      workspace="shop", namespace="shop", requester="U0ALICE", summary="s",
                      diff="d", risk=Risk.LOW, payload={"spec": {"replicas": 5}},
                      targets=(Target("Deployment", "shop", "web-app", "uid", "7"),))
    return PendingAction(id=plan.id, requester="U0ALICE", requester_hexabase="hxb-alice",
                         workspace="shop", namespace="shop", tool=plan.tool, plan=plan,
                         params_hash=plan.params_hash(), risk="low", two_person=two_person,
                         state=state, created_at=NOW, expires_at=NOW + expires)


ALICE = Approver("U0ALICE", "alice", True, "patch deployments/scale", in_scope=True)
CAROL = Approver("U0CAROL", "carol", True, "patch deployments/scale", in_scope=True)
BOB = Approver("U0BOB", "bob", False, "patch deployments/scale", in_scope=True)
# A cluster-admin (the access review says yes) whose directory entry lacks the namespace.
ERIN = Approver("U0ERIN", "erin", True, "patch deployments/scale", in_scope=False)


def test_requester_may_approve_own_action() -> None:
    assert may_approve(ALICE, action(), NOW).allowed


def test_two_person_namespace_needs_someone_else() -> None:
    assert "second person" in may_approve(ALICE, action(two_person=True), NOW).reason
    assert may_approve(CAROL, action(two_person=True), NOW).allowed


def test_approver_needs_the_same_permission() -> None:
    verdict = may_approve(BOB, action(), NOW)
    assert not verdict.allowed and verdict.reason == (
        "bob may not patch deployments/scale in shop, so cannot approve it")


def test_expired_and_decided_actions() -> None:
    assert "expired" in may_approve(CAROL, action(expires=timedelta(0)), NOW).reason
    assert may_approve(CAROL, action(state=State.APPROVED), NOW).reason == (
        "this action is already approved")


def test_tampered_plan() -> None:
    tampered = action()
    object.__setattr__(tampered, "params_hash", "0" * 64)
    assert "altered" in may_approve(CAROL, tampered, NOW).reason


def test_reject_rules() -> None:
    assert may_reject("U0ALICE", False, action()).allowed
    assert may_reject("U0CAROL", True, action(), in_scope=True).allowed
    assert not may_reject("U0BOB", False, action(), in_scope=True).allowed
    assert not may_reject("U0ERIN", True, action(), in_scope=False).allowed


def test_approver_needs_the_namespace_in_their_directory_entry() -> None:
    verdict = may_approve(ERIN, action(), NOW)
    assert not verdict.allowed and verdict.reason == (
        "erin's directory entry does not include namespace shop of workspace shop, so they "
        "cannot approve it")


def test_in_reach_is_workspace_identity_and_namespace() -> None:
    import dataclasses

    from confirmations.approvers import in_reach
    stamped = action()
    stamped = dataclasses.replace(stamped, plan=dataclasses.replace(
        stamped.plan, workspace_id="shop@aaaa"))
    assert in_reach("shop@aaaa", ("shop",), stamped)
    assert not in_reach("shop@bbbb", ("shop",), stamped)      # same name, another cluster
    assert not in_reach("shop@aaaa", ("shop-staging",), stamped)
    assert not in_reach("", ("shop",), action())               # stored without an identity
