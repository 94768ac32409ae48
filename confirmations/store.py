"""Pending actions in Postgres, with exactly-once state transitions.

Every transition is one conditional UPDATE … RETURNING (the row only moves if it is still in
the expected state, so 100 simultaneous approvals produce one winner) and writes its audit
event in the same transaction.  Times come from the caller (``now``), so expiry is testable and
all replicas judge it the same way.

An action being executed (``approved`` or ``executing``) holds a lease — the replica running it
(``lease_owner``) and until when (``lease_expires_at``) — taken with the claim, renewed by a
heartbeat (:mod:`confirmations.lease`) and cleared by ``finish``.  Recovery settles only rows
whose lease expired; ``finish`` outlasts a database blip (:meth:`ConfirmationStore.finish`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tenacity import RetryCallState

from confirmations import outbox
from confirmations.guard import Activity, ChangeInFlight, PastWrite
from confirmations.model import PendingAction, State
from tools import retry
from tools.audit import AuditEvent
from tools.schema import metadata
from tools.spec import ActionPlan

log = logging.getLogger("hexabot.confirmations")
R = TypeVar("R")
TS = sa.DateTime(timezone=True)
pending_actions = sa.Table(
    "pending_actions", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    *(sa.Column(name, sa.Text, nullable=False) for name in (
        "requester", "requester_hexabase", "workspace", "namespace", "tool", "params_hash",
        "risk", "state")),
    *(sa.Column(name, sa.Text) for name in (
        "approver", "approver_hexabase", "slack_channel", "slack_ts", "result", "error",
        "policy_rule", "workspace_id", "lease_owner", "slack_thread_ts")),
    sa.Column("approvals", postgresql.JSONB, nullable=False,
              server_default=sa.text("'[]'::jsonb")),
    sa.Column("approvals_needed", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("args", sa.JSON, nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("two_person", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    *(sa.Column(name, TS) for name in ("decided_at", "executing_at", "executed_at",
                                       "lease_expires_at")),
    sa.Index("pending_actions_open", "state", "expires_at"),
    sa.Index("pending_actions_requester_created", "requester", "created_at"),
    sa.Index("pending_actions_workspace_state", "workspace", "state"),
    sa.Index("pending_actions_workspace_id_state", "workspace_id", "state"),
)
T = pending_actions.c


def _action(row: Any) -> PendingAction:
    return PendingAction(
        id=row.id, requester=row.requester, requester_hexabase=row.requester_hexabase,
        workspace=row.workspace, namespace=row.namespace, tool=row.tool,
        plan=ActionPlan.from_dict(row.plan), params_hash=row.params_hash, risk=row.risk,
        two_person=row.two_person, state=State(row.state), created_at=row.created_at,
        expires_at=row.expires_at, approver=row.approver,
        approver_hexabase=row.approver_hexabase, decided_at=row.decided_at,
        executed_at=row.executed_at, result=row.result, error=row.error,
        slack_channel=row.slack_channel, slack_ts=row.slack_ts,
        slack_thread=row.slack_thread_ts,
        approvals=tuple(row.approvals or ()), approvals_needed=row.approvals_needed or 1,
        policy_rule=row.policy_rule or "")


OPEN = (State.PENDING.value, State.APPROVED.value, State.EXECUTING.value)
NOT_WRITES = (State.REJECTED.value, State.CANCELLED.value, State.EXPIRED.value)


@dataclass(frozen=True)
class Lease:
    """Who executes an action (a per-process id) and until when, unless renewed."""
    owner: str
    expires_at: datetime


BLIPS = (sa.exc.DBAPIError, OSError, ConnectionError, TimeoutError)


def transient(exc: BaseException) -> bool:
    """A database or network blip (worth retrying), not a wrong statement or a broken row."""
    if isinstance(exc, (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.DataError,
                        sa.exc.NotSupportedError)):
        return False
    return isinstance(exc, BLIPS)


def object_lock_key(action: PendingAction) -> int:
    """A 63-bit advisory-lock key for the object an action changes."""
    target = action.plan.targets[0] if action.plan.targets else None
    name = f"{target.kind}/{target.namespace}/{target.name}" if target else action.id
    digest = hashlib.sha256(f"{action.workspace_id or action.workspace}|{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF


class ConfirmationStore:
    def __init__(self, engine: AsyncEngine, finish_patience: float = 600.0,
                 retry_backoff: tuple[float, float] = (0.1, 5.0)) -> None:
        self.engine = engine
        self.finish_patience = finish_patience  # seconds ``finish`` retries a database blip
        self.retry_backoff = retry_backoff      # first and longest wait between attempts

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[R]]) -> R:
        """``attempt`` until it gets through a database blip, for ``finish_patience`` seconds
        with exponential back-off; anything else (and the last blip) is raised."""

        def blip(state: RetryCallState) -> None:
            if state.attempt_number == 1 and state.outcome is not None:
                log.warning("%s: database unavailable, retrying: %s", what,
                            state.outcome.exception())

        async def once() -> R:  # tenacity awaits only what a coroutine function returns
            return await attempt()

        first, longest = self.retry_backoff
        policy = retry.async_retrying(transient, retry.backoff(first, longest),
                                      patience=self.finish_patience, on_retry=blip)
        result: R = await policy(once)
        failures = int(policy.statistics["attempt_number"]) - 1
        if failures:
            log.info("%s: landed after %d failed attempts", what, failures)
        return result

    async def create(self, plan: ActionPlan, requester_hexabase: str, two_person: bool,
                     now: datetime, expires_at: datetime, *events: AuditEvent,
                     approvals_needed: int = 1, policy_rule: str = "") -> PendingAction:
        async with self.engine.begin() as conn:
            row = (await conn.execute(pending_actions.insert().values(
                id=plan.id, requester=plan.requester, requester_hexabase=requester_hexabase,
                workspace=plan.workspace, workspace_id=plan.workspace_id or None,
                namespace=plan.namespace, tool=plan.tool,
                args=plan.args, plan=plan.to_dict(), params_hash=plan.params_hash(),
                risk=plan.risk.value, two_person=two_person, state=State.PENDING.value,
                created_at=now, expires_at=expires_at, approvals_needed=approvals_needed,
                policy_rule=policy_rule).returning(pending_actions))).one()
            await outbox.record(conn, *events)
        return _action(row)

    async def activity(self, requester: str, workspace_id: str, since: datetime | None,
                       now: datetime, exclude: str = "", in_flight: bool = True,
                       running_only: bool = False) -> Activity:
        """The facts the guardrails count: the requester's writes since ``since`` (proposals
        not rejected, cancelled or expired; None = not needed) and the workspace's open
        changes (``running_only``: approved or executing)."""
        writes: Sequence[Any] = ()
        open_rows: Sequence[Any] = ()
        async with self.engine.connect() as conn:
            if since is not None:
                writes = (await conn.execute(sa.select(
                    T.created_at, T.tool, T.workspace, T.namespace,
                    T.plan["facts"].label("facts")).where(
                    T.requester == requester, T.created_at > since, T.id != exclude,
                    T.state.not_in(NOT_WRITES)))).all()
            if in_flight:
                open_rows = (await conn.execute(sa.select(
                    T.id, T.requester, T.tool, T.plan).where(
                    T.workspace_id == workspace_id, T.id != exclude,
                    T.state.in_(OPEN[1:] if running_only else OPEN),
                    sa.or_(T.state != State.PENDING.value, T.expires_at > now)))).all()
        return Activity(
            writes=tuple(PastWrite(r.created_at, r.tool, r.workspace, r.namespace,
                                   PastWrite.touched(r.facts)) for r in writes),
            in_flight=tuple(ChangeInFlight(r.id, r.requester, r.tool, tuple(
                f"{t['kind']}/{t['namespace']}/{t['name']}"
                for t in (r.plan or {}).get("targets") or [])) for r in open_rows))

    async def add_approval(self, action_id: str, who: str, have: int, now: datetime,
                           *events: AuditEvent) -> PendingAction | None:
        """Record one approval of several (pending stays pending); None if someone else
        approved in the meantime (``have`` changed) or ``who`` already did."""
        return await self._transition(
            action_id, [State.PENDING],
            {"approvals": T.approvals.op("||")(sa.func.to_jsonb(sa.cast(who, sa.Text)))},
            events, extra=sa.and_(T.expires_at > now,
                                   sa.func.jsonb_array_length(T.approvals) == have,
                                   sa.not_(T.approvals.has_key(who))))

    async def escalate(self, action_id: str, two_person: bool, needed: int, rule: str,
                       event: AuditEvent) -> PendingAction | None:
        """Raise what a pending action needs (the policy became stricter since the plan)."""
        return await self._transition(action_id, [State.PENDING],
                                      {"two_person": two_person, "approvals_needed": needed,
                                       "policy_rule": rule}, [event])

    async def get(self, action_id: str) -> PendingAction | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(pending_actions).where(
                T.id == action_id))).first()
        return _action(row) if row else None

    async def _transition(self, action_id: str, expected: Sequence[State],
                          values: dict[str, Any], events: Sequence[AuditEvent],
                          extra: Any = None) -> PendingAction | None:
        condition = sa.and_(T.id == action_id, T.state.in_([s.value for s in expected]))
        if extra is not None:
            condition = sa.and_(condition, extra)
        async with self.engine.begin() as conn:
            row = (await conn.execute(pending_actions.update().where(condition).values(**values)
                                      .returning(pending_actions))).first()
            if row is not None:
                await outbox.record(conn, *events)
        return _action(row) if row else None

    async def claim(self, action_id: str, approver: str, approver_hexabase: str,
                    now: datetime, *events: AuditEvent, lease: Lease,
                    have: int = 0) -> PendingAction | None:
        """pending → approved by the last approval needed, only if still pending, unexpired
        and with the ``have`` earlier approvals (none by ``approver``); None for the losers.
        The winner holds ``lease`` from here until ``finish``."""
        return await self._transition(
            action_id, [State.PENDING],
            {"state": State.APPROVED.value, "approver": approver,
             "lease_owner": lease.owner, "lease_expires_at": lease.expires_at,
             "approver_hexabase": approver_hexabase, "decided_at": now,
             "approvals": T.approvals.op("||")(sa.func.to_jsonb(sa.cast(approver, sa.Text)))},
            events, extra=sa.and_(T.expires_at > now,
                                   sa.func.jsonb_array_length(T.approvals) == have,
                                   sa.not_(T.approvals.has_key(approver))))

    async def start(self, action_id: str, now: datetime, event: AuditEvent, *,
                    lease: Lease) -> PendingAction | None:
        """approved → executing, only by the lease's owner (renewing it)."""
        return await self._transition(action_id, [State.APPROVED],
                                      {"state": State.EXECUTING.value, "executing_at": now,
                                       "lease_expires_at": lease.expires_at}, [event],
                                      extra=T.lease_owner == lease.owner)

    async def renew(self, action_id: str, lease: Lease) -> bool:
        """The heartbeat: extend the lease while its owner still holds an open action."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(pending_actions.update().where(
                T.id == action_id, T.lease_owner == lease.owner,
                T.state.in_([State.APPROVED.value, State.EXECUTING.value])).values(
                lease_expires_at=lease.expires_at).returning(T.id))).first()
        return row is not None

    async def finish(self, action_id: str, state: State, now: datetime, event: AuditEvent,
                     result: str | None = None, error: str | None = None,
                     expected: Sequence[State] = (State.EXECUTING,),
                     extra: Any = None) -> PendingAction | None:
        """Record an outcome and clear the lease.  A database blip is retried (see
        :meth:`_retrying`): what was applied is recorded as applied once Postgres is back."""
        values = {"state": state.value, "executed_at": now, "result": result, "error": error,
                  "lease_owner": None, "lease_expires_at": None}
        return await self._retrying(f"recording action {action_id} {state.value}", lambda: (
            self._transition(action_id, expected, values, [event], extra=extra)))

    @staticmethod
    def abandoned(now: datetime, stale_before: datetime) -> Any:
        """The condition recovery settles on: the lease expired, or (rows written before
        leases, or by a replica without them) the action started before ``stale_before``."""
        return sa.or_(
            sa.and_(T.lease_expires_at.is_not(None), T.lease_expires_at <= now),
            sa.and_(T.lease_expires_at.is_(None),
                    sa.func.coalesce(T.executing_at, T.decided_at) <= stale_before))

    async def unsettled(self, now: datetime, stale_before: datetime) -> list[PendingAction]:
        """Approved or executing actions no live replica holds (see :meth:`abandoned`)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(pending_actions).where(
                T.state.in_([State.APPROVED.value, State.EXECUTING.value]),
                self.abandoned(now, stale_before)).order_by(T.created_at))).all()
        return [_action(r) for r in rows]

    async def decide(self, action_id: str, state: State, who: str, now: datetime,
                     event: AuditEvent) -> PendingAction | None:
        """pending → rejected | cancelled."""
        return await self._transition(action_id, [State.PENDING],
                                      {"state": state.value, "approver": who,
                                       "decided_at": now}, [event])

    async def expire_due(self, now: datetime, action_id: str | None = None
                         ) -> list[PendingAction]:
        """The sweeper (or a click on one late action): pending actions past their expiry
        become expired, audited."""
        condition = sa.and_(T.state == State.PENDING.value, T.expires_at <= now)
        if action_id is not None:
            condition = sa.and_(condition, T.id == action_id)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(pending_actions.update().where(condition).values(
                state=State.EXPIRED.value, decided_at=now).returning(pending_actions))).all()
            await outbox.record(conn, *(AuditEvent(
                kind="confirmation.expire", actor="hexabot", outcome="ok",
                workspace=r.workspace, namespace=r.namespace, confirmation_id=r.id,
                confirmation_state=State.EXPIRED.value) for r in rows))
        return [_action(r) for r in rows]

    async def in_states(self, states: Sequence[State]) -> list[PendingAction]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(pending_actions).where(
                T.state.in_([s.value for s in states])).order_by(T.created_at))).all()
        return [_action(r) for r in rows]

    async def count_by_state(self) -> dict[str, int]:
        """How many actions are in each state (every state, zeros included)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(T.state, sa.func.count()).group_by(
                T.state))).all()
        counts = {state.value: 0 for state in State}
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    async def pending_in(self, workspace_id: str, namespaces: Sequence[str]
                         ) -> list[PendingAction]:
        """Pending actions of one workspace (name and cluster) in ``namespaces``, oldest first;
        the caller applies :func:`confirmations.approvers.in_reach` to what comes back."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(pending_actions).where(
                T.state == State.PENDING.value, T.workspace_id == workspace_id,
                T.namespace.in_(list(namespaces))).order_by(T.created_at))).all()
        return [_action(r) for r in rows]

    async def recent(self, slack_id: str, limit: int = 5) -> list[PendingAction]:
        """The user's latest decided or finished actions (App Home's "recent actions")."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(pending_actions).where(
                T.requester == slack_id, T.state != State.PENDING.value)
                .order_by(T.created_at.desc()).limit(limit))).all()
        return [_action(r) for r in rows]

    async def set_card(self, action_id: str, channel: str, ts: str,
                       thread: str | None = None) -> None:
        """Where the action's card was posted (``thread``: the thread it is a reply in)."""
        async with self.engine.begin() as conn:
            await conn.execute(pending_actions.update().where(T.id == action_id).values(
                slack_channel=channel, slack_ts=ts, slack_thread_ts=thread))

    async def record(self, event: AuditEvent) -> None:
        await self.record_many([event])

    async def record_many(self, events: Sequence[AuditEvent]) -> None:
        if events:
            async with self.engine.begin() as conn:
                await outbox.record(conn, *events)

    async def object_lock(self, conn: AsyncConnection, action: PendingAction) -> None:
        """Hold the per-object lock on ``conn`` (session level) until :meth:`object_unlock`."""
        await conn.execute(sa.text("SELECT pg_advisory_lock(:k)"),
                           {"k": object_lock_key(action)})

    async def object_unlock(self, conn: AsyncConnection, action: PendingAction) -> None:
        """Release the lock; a session the database dropped holds no locks any more."""
        try:
            await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"),
                               {"k": object_lock_key(action)})
        except BLIPS as exc:
            if not transient(exc):
                raise
            log.info("object lock of %s went with its connection: %s", action.id, exc)
