"""Following an approved change after it executed, until it converges or a deadline.

:meth:`Follower.prepare` reads the workload's usage when the change is proposed (before
anything changes); :meth:`Follower.start` follows it in ``followups`` when its action
succeeded (:meth:`Follower.drop` forgets one rejected or expired).  Every replica's
background loop calls :meth:`Follower.due`, which claims open rows (``FOR UPDATE SKIP
LOCKED`` and a lease, so a replica that dies while checking one leaves it to the others),
reads the workload as the requester and, when it converged, failed or ran out of time, ends
the row — a conditional update, so the outcome is told once however many replicas look.  A
change that did not converge gets the diagnosis of what changed and, for a Deployment, a
rollback proposed as the requester (a new approval card: nothing is rolled back on the bot's
say-so).  Every step is audited (``followup.*``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.followup import watch
from agents.tables import followups
from agents.toolbox import Toolbox
from confirmations import outbox
from confirmations.flow import ContextSource, DecisionFlow
from confirmations.model import PendingAction
from tools import errors
from tools.audit import AuditEvent
from tools.env import Environments
from tools.security import SecurityContext
from tools.spec import ToolEnv

log = logging.getLogger("hexabot.followup")
ENDED = ("converged", "failed", "timed_out", "unknown")
F = followups.c


@dataclass(frozen=True)
class Told:
    """A followed change that ended: what to say in its thread, and the rollback proposed."""
    action_id: str
    state: str                  # converged | failed | timed_out | unknown
    text: str
    rollback: str | None = None


class Follower:
    def __init__(self, engine: AsyncEngine, identity: ContextSource, flow: DecisionFlow,
                 envs: Environments, timeout: float = 600.0, lease: float = 60.0) -> None:
        self.engine, self.identity, self.flow, self.envs = engine, identity, flow, envs
        self.timeout, self.lease = timeout, lease

    async def _context(self, requester: str, workspace_id: str) -> SecurityContext:
        return await self.identity.context(requester, workspace_id=workspace_id or None)

    async def _baseline(self, action: PendingAction, found: watch.Subject) -> dict[str, float]:
        """The workload's usage now, as the requester (empty when it cannot be read)."""
        if found.kind != "Deployment":
            return {}
        try:
            env = self.envs.for_context(await self._context(action.requester,
                                                            action.workspace_id))
            return await watch.usage(env, found, (await watch.check(env, found)).selector)
        except (LookupError, errors.ToolError) as exc:
            log.info("no usage baseline for %s: %s", action.id, exc)
            return {}

    async def prepare(self, action: PendingAction) -> bool:
        """When ``action`` is proposed: its workload's usage before anything changes (read
        after execution, a rollout may already have replaced every pod)."""
        found = watch.subject(action)
        if found is None:
            return False
        before = await self._baseline(action, found)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            added = await conn.execute(insert(followups).values(**self._row(
                action, found, before, now), state="proposed").on_conflict_do_nothing())
        return bool(added.rowcount)

    async def drop(self, action: PendingAction) -> None:
        """``action`` ended without being applied (rejected, expired, failed): no follow-up."""
        async with self.engine.begin() as conn:
            await conn.execute(followups.delete().where(F.action_id == action.id,
                                                        F.state == "proposed"))

    async def start(self, action: PendingAction) -> bool:
        """Follow ``action`` (it just succeeded) if it is a change that converges; the usage
        baseline is the one read when it was proposed, else read now."""
        found = watch.subject(action)
        if found is None:
            return False
        now = datetime.now(UTC)
        started = {"state": "following", "started_at": action.executed_at or now,
                   "deadline": now + timedelta(seconds=self.timeout)}
        async with self.engine.begin() as conn:
            row = (await conn.execute(followups.update().where(
                F.action_id == action.id, F.state == "proposed").values(**started)
                .returning(F.before))).first()
        if row is not None:
            before = row.before or {}
        else:
            before = await self._baseline(action, found)
            async with self.engine.begin() as conn:
                added = await conn.execute(insert(followups).values(**{
                    **self._row(action, found, before, now), **started}
                ).on_conflict_do_nothing())
            if not added.rowcount:
                return False  # already followed (a second notice of the same decision)
        async with self.engine.begin() as conn:
            await outbox.record(conn, self._event(action.requester, action.workspace,
                                                  action.workspace_id, found, action.id,
                                                  "followup.start", "ok", {"before": before}))
        return True

    @staticmethod
    def _row(action: PendingAction, found: watch.Subject, before: dict[str, float],
             now: datetime) -> dict[str, Any]:
        return dict(action_id=action.id, tool=action.tool, kind=found.kind, name=found.name,
                    namespace=found.namespace, requester=action.requester,
                    workspace=action.workspace, workspace_id=action.workspace_id,
                    before=before, started_at=now, deadline=now)

    async def due(self, most: int = 5) -> list[Told]:
        """Claim open rows no replica holds (and ended ones not yet told) and check them; the
        ones that ended, to be told — then :meth:`told`.  A claim is a lease: rows whose
        checker died (or whose telling failed) are taken up again once it runs out."""
        now = datetime.now(UTC)
        claim = now + timedelta(seconds=self.lease)
        async with self.engine.begin() as conn:
            free = sa.select(F.action_id).where(
                sa.or_(F.state.in_(("following", "ending")),
                       sa.and_(F.state.in_(ENDED), F.told_at.is_(None))),
                sa.or_(F.claimed_until.is_(None), F.claimed_until < now)
            ).order_by(F.deadline).limit(most).with_for_update(skip_locked=True)
            rows = (await conn.execute(followups.update().where(F.action_id.in_(
                free.scalar_subquery())).values(claimed_until=claim)
                .returning(*followups.c))).all()
        told = []
        for row in rows:
            if row.state in ENDED:  # ended before, its telling did not finish: tell again
                told.append(Told(row.action_id, row.state, row.outcome, row.rollback_action))
                continue
            ended = await self._step(row, now, claim)
            if ended is not None:
                told.append(ended)
        return told

    async def told(self, action_id: str) -> None:
        """The outcome of ``action_id`` reached its thread: never told again."""
        async with self.engine.begin() as conn:
            await conn.execute(followups.update().where(F.action_id == action_id)
                               .values(told_at=datetime.now(UTC), claimed_until=None))

    async def _step(self, row: Any, now: datetime, claim: datetime) -> Told | None:
        found = watch.Subject(row.kind, row.name, row.namespace)
        try:
            ctx = await self._context(row.requester, row.workspace_id)
        except LookupError as exc:
            return await self._end(row, claim, "unknown", f"I stopped following {found.kind} "
                                   f"{found.name}: {exc}", None, {})
        env = self.envs.for_context(ctx)
        try:
            progress = await watch.check(env, found)
        except errors.ToolError as exc:
            if now < row.deadline:
                await self._release(row.action_id, claim)
                return None
            return await self._end(row, claim, "timed_out", f"I could not read {found.kind} "
                                   f"{found.name} in time: {exc.message}", None, {})
        elapsed = max(0.0, (now - row.started_at).total_seconds())
        seconds = round(elapsed, 1) if elapsed < 10 else round(elapsed)
        if progress.state == "converged":
            after = await self._usage(env, found, progress.selector)
            change = watch.compared(row.before or {}, after)
            text = (f"{found.kind} {found.name}: {progress.said} in {seconds} s"
                    + (f"; {change}" if change else "") + ".")
            return await self._end(row, claim, "converged", text, None,
                                   {"after": after, "seconds": seconds})
        if progress.state == "following" and now < row.deadline:
            await self._release(row.action_id, claim)
            return None
        if not await self._ending(row.action_id, claim):
            return None  # another replica holds it now
        state = "failed" if progress.state == "failed" else "timed_out"
        head = (f"{found.kind} {found.name} did not converge: {progress.said} after "
                f"{seconds} s." if state == "failed" else
                f"{found.kind} {found.name} has not converged after {seconds} s: "
                f"{progress.said}.")
        box = Toolbox(ctx, env, self.flow)
        lines = [head, *await self._diagnosis(box, found)]
        undo, said = await self._undo(box, row, found)
        lines.append(said)
        await self._events(box)
        return await self._end(row, claim, state, "\n".join(lines), undo,
                               {"seconds": seconds, **progress.facts})

    async def _usage(self, env: ToolEnv, found: watch.Subject,
                     selector: str) -> dict[str, float]:
        """Usage now, or nothing when it cannot be read (metrics are not the change)."""
        if found.kind != "Deployment":
            return {}
        try:
            return await watch.usage(env, found, selector)
        except errors.ToolError as exc:
            log.info("no usage after %s %s: %s", found.kind, found.name, exc)
            return {}

    async def _undo(self, box: Toolbox, row: Any, found: watch.Subject
                    ) -> tuple[str | None, str]:
        """The undo to approve, proposed as the requester: a template change (restart, apply)
        rolls back to the previous revision; a scale goes back to its count.  A rollback that
        did not converge gets none — its previous revision is the one that failed."""
        if found.kind != "Deployment" or row.tool == "rollback_deployment":
            return None, (f"No undo is proposed: `rollback {found.name} --to-revision N` "
                          "picks a revision that worked, or fix what the diagnosis names.")
        args: dict[str, Any] = {"name": found.name, "namespace": found.namespace}
        tool = "rollback_deployment"
        if row.tool == "scale_deployment":
            action = await self.flow.store.get(row.action_id)
            counts = ((action.plan.facts.get("objects") or [{}])[0].get("replicas")
                      if action is not None else None)
            if not counts:
                return None, "No undo is proposed: the replica count before is not known."
            tool, args["replicas"] = "scale_deployment", counts[0]
        try:
            proposal = await box.propose(tool, args)
        except errors.ToolError as exc:
            return None, f"I could not propose an undo: {exc.message}"
        return proposal.id, f"The undo needs approval: {proposal.summary}."

    async def _diagnosis(self, box: Toolbox, found: watch.Subject) -> list[str]:
        try:
            findings, _ = await box.diagnose(found.namespace)
        except errors.ToolError as exc:
            return [f"(diagnosis unavailable: {exc.message})"]
        mine = [f for f in findings if f.name == found.name
                or f.name.startswith(f"{found.name}-")]
        return [f"Diagnosis: {f.cause}; fix: {f.fix}" for f in mine[:2]] or [
            "Diagnosis: nothing more specific found."]

    async def _events(self, box: Toolbox) -> None:
        if box.events:
            async with self.engine.begin() as conn:
                await outbox.record(conn, *box.events)

    async def _release(self, action_id: str, claim: datetime) -> None:
        """Checked and still converging: free for the next round (any replica) — if this
        replica's claim is still the row's."""
        async with self.engine.begin() as conn:
            await conn.execute(followups.update().where(
                F.action_id == action_id, F.claimed_until == claim).values(claimed_until=None))

    async def _ending(self, action_id: str, claim: datetime) -> bool:
        """Take the row to ``ending`` before proposing an undo: with this claim only, so two
        replicas never both propose one."""
        async with self.engine.begin() as conn:
            return bool((await conn.execute(followups.update().where(
                F.action_id == action_id, F.claimed_until == claim,
                F.state.in_(("following", "ending"))).values(state="ending"))).rowcount)

    async def _end(self, row: Any, claim: datetime, state: str, text: str,
                   rollback: str | None, detail: dict[str, Any]) -> Told | None:
        async with self.engine.begin() as conn:
            ended = (await conn.execute(followups.update().where(
                F.action_id == row.action_id, F.claimed_until == claim,
                F.state.in_(("following", "ending"))).values(
                    state=state, outcome=text, finished_at=datetime.now(UTC),
                    rollback_action=rollback))).rowcount
            if not ended:
                return None  # another replica holds it (this one's lease ran out)
            await outbox.record(conn, self._event(
                row.requester, row.workspace, row.workspace_id,
                watch.Subject(row.kind, row.name, row.namespace), row.action_id,
                f"followup.{state}", "ok" if state == "converged" else "failed",
                {**detail, "rollback_action": rollback}, text))
        return Told(row.action_id, state, text, rollback)

    @staticmethod
    def _event(requester: str, workspace: str, workspace_id: str, found: watch.Subject,
               action_id: str, kind: str, outcome: str, detail: dict[str, Any],
               said: str = "") -> AuditEvent:
        return AuditEvent(kind=kind, actor=requester, outcome=outcome, workspace=workspace,
                          workspace_id=workspace_id, namespace=found.namespace,
                          resource_kind=found.kind, resource_name=found.name,
                          confirmation_id=action_id,
                          detail={**detail, **({"said": said} if said else {})})
