"""The decision flow: propose → approve (or reject/expire) → execute, exactly once.

- ``propose`` plans as the requester and stores the plan (a row, with its hash).
- ``approve`` gathers the facts (who clicks, whether they hold the permission — an access review
  as the approver), asks the pure policy, then claims the row atomically; only the winner of the
  claim executes.
- Execution re-resolves the *requester's* identity, refuses if they lost the permission, holds a
  per-object advisory lock (two actions on one object run one after the other), and runs the
  stored plan, which re-checks the target's resourceVersion and is idempotent.
- ``recover`` (:mod:`confirmations.recovery`) settles rows a crash left mid-way from the
  cluster's state, never what a live replica holds (:mod:`confirmations.lease`).

Every :class:`Decision` carries a ``code`` (:mod:`confirmations.decision`) so doors map
outcomes (HTTP statuses, exit codes) without guessing from the action's state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from confirmations import approvers, explain, guard, recovery, rules, undo
from confirmations.decision import Code, Decision, shown_to
from confirmations.lease import Leasing, heartbeat, process_id
from confirmations.model import PendingAction, State
from confirmations.source import PolicySource
from confirmations.store import ConfirmationStore
from tools import errors, registry
from tools.audit import AuditEvent
from tools.env import Environments
from tools.kube.access import allowed
from tools.security import SecurityContext
from tools.spec import ActionPlan, Effect, ToolEnv

# How long a proposal waits; recovery's bound for rows that hold no lease.
DEFAULT_TTL, STALE_AFTER = timedelta(minutes=15), timedelta(minutes=10)
log = logging.getLogger("hexabot.confirmations")

WRITE_TOOLS = {spec.name for spec in registry.TOOLS if spec.effect is Effect.WRITE}


class ContextSource(Protocol):
    """Resolves a Slack user to their SecurityContext (``app.identity`` implements it)."""

    async def context(self, who: str, session_id: str = "", request_id: str = "",
                      workspace: str | None = None,
                      namespace: str | None = None,
                      workspace_id: str | None = None) -> SecurityContext: ...


def _time(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S UTC") if at else "?"


class DecisionFlow:
    """``envs`` is how the flow reaches the cluster as the people of an action (planning,
    access reviews, execution, recovery); it is the composition root's, shared with every door."""

    def __init__(self, store: ConfirmationStore, identity: ContextSource, envs: Environments,
                 ttl: timedelta = DEFAULT_TTL,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 guardrails: rules.Policy | PolicySource | None = None,
                 leasing: Leasing | None = None, stale_after: timedelta = STALE_AFTER) -> None:
        self.store, self.identity, self.envs = store, identity, envs
        self.ttl, self.clock = ttl, clock
        self.policies = (guardrails if isinstance(guardrails, PolicySource)
                         else PolicySource.fixed(guardrails or rules.load(None, WRITE_TOOLS)))
        self.on_execution_start: Callable[[str], None] | None = None  # benchmarks
        self.leasing = leasing or Leasing(process_id())
        self.stale_after = stale_after
        self._unsettleable: set[str] = set()  # rows recovery failed on (logged once)

    @property
    def guardrails(self) -> rules.Policy:
        """The policy in force now (a file policy is re-read when it changes)."""
        return self.policies.current()

    @guardrails.setter
    def guardrails(self, policy: rules.Policy) -> None:
        self.policies = PolicySource.fixed(policy)

    def _event(self, kind: str, action: PendingAction, actor: str, outcome: str,
               **extra: Any) -> AuditEvent:
        target = action.plan.targets[0] if action.plan.targets else None
        return AuditEvent(kind=kind, actor=actor, outcome=outcome,
                          hexabase_user=action.requester_hexabase, workspace=action.workspace,
                          workspace_id=action.workspace_id,
                          namespace=action.namespace, confirmation_id=action.id,
                          resource_kind=target.kind if target else "",
                          resource_name=target.name if target else "",
                          detail={"tool": action.tool, "hash": action.params_hash}, **extra)

    async def judge(self, ctx: SecurityContext, tool: str, args: dict[str, Any],
                    plan: ActionPlan | None, exclude: str = "") -> guard.Ruling:
        """The guardrails' ruling on a write for ``ctx`` now, from the stored activity.  At
        approval (``exclude`` = the action) only changes already running count as in flight:
        proposals waiting beside it were judged when they were made."""
        now, policy = self.clock(), self.guardrails
        horizon = policy.rate_horizon()
        activity = await self.store.activity(
            ctx.slack_id, plan.workspace_id if plan and plan.workspace_id else ctx.workspace_id,
            now - horizon if horizon else None, now, exclude,
            in_flight=policy.counts_in_flight, running_only=bool(exclude))
        return guard.evaluate(policy, tool, args, plan, ctx, activity, now)

    def ruling_event(self, ctx: SecurityContext, tool: str, plan: ActionPlan | None,
                      ruling: guard.Ruling, stage: str) -> AuditEvent:
        target = plan.targets[0] if plan and plan.targets else None
        return AuditEvent(kind="policy.evaluate", actor=ctx.slack_id,
                          outcome="denied" if not ruling.allowed else "ok",
                          hexabase_user=ctx.hexabase_user,
                          workspace=plan.workspace if plan else ctx.workspace,
                          workspace_id=ctx.workspace_id,
                          namespace=plan.namespace if plan else ctx.namespace,
                          confirmation_id=plan.id if plan else "",
                          resource_kind=target.kind if target else "",
                          resource_name=target.name if target else "",
                          request_id=ctx.request_id, session_id=ctx.session_id,
                          error=ruling.reason if not ruling.allowed else "",
                          detail={"tool": tool, "stage": stage, **ruling.audit()})

    async def explain(self, ctx: SecurityContext, tool: str,
                      raw: dict[str, Any]) -> explain.Explanation:
        """What the guardrails would decide, without proposing (:func:`explain.decide`)."""
        return await explain.decide(self, ctx, tool, raw)

    async def propose(self, ctx: SecurityContext, tool: str,
                      raw: dict[str, Any]) -> PendingAction:
        plan = await registry.plan(registry.get(tool), self.envs.for_context(ctx), raw)
        ruling = await self.judge(ctx, tool, plan.args, plan)
        verdict = self.ruling_event(ctx, tool, plan, ruling, "plan")
        if not ruling.allowed:
            await self.store.record(verdict)
            raise errors.PlanRefused(f"Refused by policy: {ruling.reason}.")
        if ruling.risk is not None and ruling.risk is not plan.risk:
            plan = dataclasses.replace(plan, risk=ruling.risk)
        now = self.clock()
        two_person = ruling.approvals.excludes_requester
        event = AuditEvent(kind="confirmation.propose", actor=ctx.slack_id, outcome="ok",
                           hexabase_user=ctx.hexabase_user, workspace=plan.workspace,
                           workspace_id=plan.workspace_id, namespace=plan.namespace,
                           confirmation_id=plan.id,
                           confirmation_state=State.PENDING.value, request_id=ctx.request_id,
                           session_id=ctx.session_id,
                           detail={"tool": tool, "hash": plan.params_hash(),
                                   "summary": plan.summary, "risk": plan.risk.value})
        return await self.store.create(
            plan, ctx.hexabase_user, two_person, now, now + self.ttl, verdict, event,
            approvals_needed=ruling.approvals.clicks,
            policy_rule=ruling.rule)

    async def _explain(self, action_id: str) -> Decision:
        current = await self.store.get(action_id)
        if current is None:
            return Decision(False, f"No pending action {action_id}.", private=True,
                            code="not_found")
        if current.state in (State.APPROVED, State.EXECUTING, State.SUCCEEDED, State.FAILED,
                             State.UNKNOWN):
            return Decision(False, f"Already approved by {current.approver} at "
                                   f"{_time(current.decided_at)} ({current.state.value}).",
                            current, private=True, code="closed")
        if current.state is State.PENDING and self.clock() >= current.expires_at:
            await self.store.expire_due(self.clock(), action_id)
            current = await self.store.get(action_id) or current
        return Decision(False, f"This action is {current.state.value}"
                               + (f" (by {current.approver})" if current.approver else "") + ".",
                        current, private=True, code="closed")

    async def pending_for(self, ctx: SecurityContext) -> list[PendingAction]:
        """The pending actions ``ctx`` may see and decide — every door lists these (Slack's
        ``/hexabot pending`` and App Home, the chat API, the CLI): :func:`approvers.in_reach`."""
        found = await self.store.pending_in(ctx.workspace_id, ctx.namespaces)
        return [a for a in found if approvers.in_reach(ctx.workspace_id, ctx.namespaces, a)]

    async def _people(self, action: PendingAction, who: str, event: str
                      ) -> tuple[SecurityContext, SecurityContext] | Decision:
        """The clicker and the requester, both resolved in the action's own workspace — the
        same name *and* cluster; a person with a like-named workspace elsewhere is refused."""
        if not action.workspace_id:
            reason = ("this action was stored before workspaces were identified by their "
                      "cluster; it cannot be decided — ask for a fresh plan")
            await self.store.record(self._event(event, action, who, "denied", error=reason))
            return Decision(False, reason, action, private=True, code="forbidden")
        try:
            clicker, requester = await asyncio.gather(
                self.identity.context(who, workspace_id=action.workspace_id),
                self.identity.context(action.requester, workspace_id=action.workspace_id,
                                      namespace=action.namespace))
        except LookupError as exc:
            await self.store.record(self._event(event, action, who, "denied", error=str(exc)))
            return Decision(False, str(exc), action, private=True, code="forbidden")
        if clicker.slack_id != action.requester and not approvers.in_reach(
                clicker.workspace_id, clicker.namespaces, action):
            reason = (f"{clicker.name}'s directory entry does not include namespace "
                      f"{action.namespace} of workspace {action.workspace}, so they cannot "
                      "decide it")
            await self.store.record(self._event(event, action, clicker.slack_id, "denied",
                                                error=reason))
            return Decision(False, reason, action, private=True, code="forbidden")
        return clicker, requester

    async def _open(self, action_id: str, who: str, event: str
                    ) -> tuple[PendingAction, SecurityContext, SecurityContext] | Decision:
        """The pending action with its clicker and requester, or the answer to give: people out
        of reach learn nothing about it, not even its state; others hear why it is closed."""
        action = await self.store.get(action_id)
        if action is None:
            return await self._explain(action_id)
        people = await self._people(action, who, event)
        if isinstance(people, Decision):
            return people
        if action.state is not State.PENDING or self.clock() >= action.expires_at:
            return await self._explain(action_id)
        return action, *people

    async def approve(self, action_id: str, who: str) -> Decision:
        opened = await self._open(action_id, who, "confirmation.approve")
        if isinstance(opened, Decision):
            return opened
        action, approver, requester = opened
        spec = registry.get(action.tool)
        access = spec.access(registry.parse_args(spec, action.plan.args))
        target = action.plan.targets[0].name if action.plan.targets else None
        in_scope = approver.allows_namespace(action.namespace)
        holds = False
        if in_scope:  # the access review only for someone the directory lets in at all
            holds, _ = await allowed(self.envs.clusters.for_context(approver), access,
                                     action.namespace, target)
        rechecked, ruled = False, []
        for _ in range(4):  # another approver may record theirs between our read and write
            verdict = approvers.may_approve(
                approvers.Approver(approver.slack_id, approver.name, holds, access.describe(),
                                   in_scope), action, self.clock())
            if not verdict.allowed:
                await self.store.record(self._event("confirmation.approve", action,
                                                    approver.slack_id, "denied",
                                                    error=verdict.reason))
                return Decision(False, verdict.reason, action, private=True,
                                code="forbidden")
            if not rechecked:
                rechecked = True
                checked = await self._recheck(action, requester)
                if isinstance(checked, Decision):
                    return checked
                if checked[0] is not action:  # escalated: judge this approval again
                    action = checked[0]
                    continue
                ruled = [checked[1]]  # written with the approval, in its transaction
            have = len(action.approvals)
            if action.approvals_missing > 1:
                noted = await self.store.add_approval(action_id, approver.slack_id, have,
                                                      self.clock(), *ruled, self._event(
                                                          "confirmation.approve", action,
                                                          approver.slack_id, "partial",
                                                          approver=approver.slack_id))
                if noted is not None:
                    return Decision(True, f"Approved by {approver.name} ({len(noted.approvals)}"
                                          f" of {noted.approvals_needed}); "
                                          f"{noted.approvals_missing} more approval needed "
                                          "from someone else.", noted, partial=True,
                                code="partial")
            else:
                claimed = await self.store.claim(
                    action_id, approver.slack_id, approver.hexabase_user, self.clock(),
                    *ruled, self._event("confirmation.approve", action, approver.slack_id,
                                        "ok", approver=approver.slack_id,
                                        confirmation_state=State.APPROVED.value),
                    lease=self.leasing.lease(self.clock()), have=have)
                if claimed is not None:
                    return await self._execute(claimed, requester)
            fresh = await self.store.get(action_id)
            if fresh is None or fresh.state is not State.PENDING:
                break
            action = fresh
        await self.store.record_many(ruled)  # the ruling is audited even when the click lost
        return await self._explain(action_id)

    async def _recheck(self, action: PendingAction, requester: SecurityContext
                       ) -> tuple[PendingAction, AuditEvent] | Decision:
        """The guardrails again, before anything runs: the policy, the clock or the activity
        may have changed since the plan.  A refusal fails the action (nothing changed); a
        stricter requirement is stored before this approval counts."""
        ruling = await self.judge(requester, action.tool, action.plan.args, action.plan,
                                  exclude=action.id)
        event = self.ruling_event(requester, action.tool, action.plan, ruling, "approve")
        if not ruling.allowed:
            reason = f"Refused by policy at approval: {ruling.reason}; nothing was changed."
            done = await self.store.finish(action.id, State.FAILED, self.clock(), event,
                                           error=reason, expected=(State.PENDING,))
            return (Decision(False, reason, done, code="policy") if done
                    else await self._explain(action.id))
        needed, two_person = ruling.approvals.clicks, ruling.approvals.excludes_requester
        if needed > action.approvals_needed or (two_person and not action.two_person):
            raised = await self.store.escalate(
                action.id, two_person or action.two_person,
                max(needed, action.approvals_needed), ruling.rule, event)
            return (raised, event) if raised else await self._explain(action.id)
        return action, event

    async def _execute(self, action: PendingAction, requester: SecurityContext) -> Decision:
        """Run a claimed action as ``requester`` (resolved from the directory at approval),
        renewing its lease until the outcome is recorded."""
        async with heartbeat(self.store, self.leasing, action.id, self.clock):
            return await self._execute_leased(action, requester)

    async def _execute_leased(self, action: PendingAction,
                              requester: SecurityContext) -> Decision:
        began = time.monotonic()
        env = self.envs.for_context(requester)
        spec = registry.get(action.tool)
        access = spec.access(registry.parse_args(spec, action.plan.args))
        target = action.plan.targets[0].name if action.plan.targets else None
        still, _ = await allowed(env.cluster, access, action.namespace, target)
        if not still:
            reason = (f"{requester.name} no longer may {access.describe()} in "
                      f"{action.namespace}; nothing was changed")
            done = await self.store.finish(action.id, State.FAILED, self.clock(), self._event(
                "confirmation.execute", action, action.requester, "denied", error=reason,
                approver=action.approver or ""), error=reason, expected=(State.APPROVED,))
            return Decision(False, reason, done, code="forbidden")
        async with self.store.engine.connect() as lock:
            await self.store.object_lock(lock, action)
            try:
                return await self._run(env, action, began)
            finally:
                await self.store.object_unlock(lock, action)

    async def _run(self, env: ToolEnv, action: PendingAction, began: float) -> Decision:
        started = await self.store.start(action.id, self.clock(), self._event(
            "confirmation.execute", action, action.requester, "ok",
            approver=action.approver or "", confirmation_state=State.EXECUTING.value),
            lease=self.leasing.lease(self.clock()))
        if started is None:
            return await self._explain(action.id)
        if self.on_execution_start is not None:
            self.on_execution_start(action.id)
        try:
            result = await registry.execute(env, started.plan)
        except errors.ToolError as exc:
            done = await self.store.finish(action.id, State.FAILED, self.clock(), self._event(
                "confirmation.result", action, action.requester, "error", error=exc.message,
                api_audit_id=exc.audit_id, approver=action.approver or "",
                confirmation_state=State.FAILED.value,
                duration_ms=int((time.monotonic() - began) * 1000)), error=exc.message)
            code: Code = ("conflict" if isinstance(exc, errors.Conflict) else "unavailable"
                          if isinstance(exc, errors.Unavailable) else "failed")
            said = exc.message
            if isinstance(exc, errors.PartiallyApplied):  # the undo, as new approvals
                said += " " + await undo.propose(self.propose, env.ctx, exc)
            return (Decision(False, said, done, code=code) if done
                    else await self._explain(action.id))
        done = await self.store.finish(action.id, State.SUCCEEDED, self.clock(), self._event(
            "confirmation.result", action, action.requester, "ok",
            approver=action.approver or "", confirmation_state=State.SUCCEEDED.value,
            duration_ms=int((time.monotonic() - began) * 1000)), result=result.text)
        if done is None:  # recovery settled it meanwhile (our lease had run out)
            return await self._explain(action.id)
        return Decision(True, shown_to(action.approver or "", started, result.text), done,
                        code="executed")

    async def reject(self, action_id: str, who: str) -> Decision:
        opened = await self._open(action_id, who, "confirmation.reject")
        if isinstance(opened, Decision):
            return opened
        action, clicker, _ = opened
        holds, in_scope = False, clicker.allows_namespace(action.namespace)
        if clicker.slack_id != action.requester and in_scope:
            spec = registry.get(action.tool)
            holds, _ = await allowed(self.envs.clusters.for_context(clicker), spec.access(
                registry.parse_args(spec, action.plan.args)), action.namespace)
        verdict = approvers.may_reject(clicker.slack_id, holds, action, in_scope)
        if not verdict.allowed:
            return Decision(False, verdict.reason, action, private=True, code="forbidden")
        own = clicker.slack_id == action.requester
        state = State.CANCELLED if own else State.REJECTED
        done = await self.store.decide(action_id, state, clicker.slack_id, self.clock(),
                                       self._event(f"confirmation.{'cancel' if own else 'reject'}",
                                                   action, clicker.slack_id, "ok",
                                                   approver=clicker.slack_id,
                                                   confirmation_state=state.value))
        if done is None:
            return await self._explain(action_id)
        return Decision(True, f"{state.value.capitalize()} by {clicker.name}.", done,
                        code="rejected")

    async def recover(self) -> list[PendingAction]:
        """Settle rows no live replica holds, from the cluster (see :mod:`recovery`)."""
        return await recovery.recover(self)
