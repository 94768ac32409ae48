"""Workflow runs in Postgres: a run's step states are saved with its audit events in one
transaction, so a run waiting for an approval survives restarts and any replica resumes it.

Resuming is claimed with one conditional UPDATE (``waiting`` → ``resuming``), so two replicas
never resume one run twice; a claim older than ``STALE`` (a replica died mid-resume) may be
taken again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.orchestrator.runner import WorkflowRun
from agents.tables import workflow_runs
from confirmations import outbox
from tools.audit import AuditEvent

STALE = timedelta(minutes=10)
R = workflow_runs.c


@dataclass(frozen=True)
class Owner:
    """Whose run it is and where to report: identity is re-resolved from these on resume."""
    slack_id: str
    workspace: str
    namespace: str
    session_id: str = ""
    reply_channel: str | None = None
    reply_ts: str | None = None
    workspace_id: str = ""   # name and cluster: a resumed run acts only in that very workspace


def _run(row: Any) -> tuple[Owner, WorkflowRun]:
    return (Owner(row.slack_id, row.workspace, row.namespace, row.session_id,
                  row.reply_channel, row.reply_ts, row.workspace_id or ""),
            WorkflowRun.from_json(row.id, row.workflow, row.inputs, row.state, row.output,
                                  row.data))


class RunStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save(self, owner: Owner, run: WorkflowRun, events: Sequence[AuditEvent] = ()) -> None:
        """Store a run that was just started (or update it, saved again)."""
        now = datetime.now(UTC)
        values = self._values(run, now)
        async with self.engine.begin() as conn:
            statement = postgresql.insert(workflow_runs).values(
                id=run.id, slack_id=owner.slack_id, workspace=owner.workspace,
                workspace_id=owner.workspace_id or None, namespace=owner.namespace,
                session_id=owner.session_id,
                reply_channel=owner.reply_channel, reply_ts=owner.reply_ts, created_at=now,
                **values)
            await conn.execute(statement.on_conflict_do_update(index_elements=[R.id],
                                                               set_=values))
            await outbox.record(conn, *events)

    async def update(self, owner: Owner, run: WorkflowRun,
                     events: Sequence[AuditEvent] = ()) -> bool:
        """Store a resumed run's progress; False when the run is gone — its owner logged out
        meanwhile, and it must not come back (what its steps did is audited all the same)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(workflow_runs.update().where(
                R.id == run.id, R.slack_id == owner.slack_id).values(
                **self._values(run, datetime.now(UTC))))
            await outbox.record(conn, *events)
        return bool(result.rowcount)

    @staticmethod
    def _values(run: WorkflowRun, now: datetime) -> dict[str, object]:
        return {"workflow": run.workflow, "state": run.state, "output": run.output,
                "inputs": run.inputs, "data": run.to_json(), "waiting_on": run.waiting_on,
                "updated_at": now}

    async def get(self, run_id: str, slack_id: str) -> tuple[Owner, WorkflowRun] | None:
        """One of ``slack_id``'s runs (another person's run is as good as missing)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(workflow_runs).where(
                R.id == run_id, R.slack_id == slack_id))).first()
        return _run(row) if row else None

    async def recent(self, slack_id: str, limit: int = 10) -> list[tuple[Owner, WorkflowRun]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(workflow_runs).where(
                R.slack_id == slack_id).order_by(R.created_at.desc()).limit(limit))).all()
        return [_run(row) for row in rows]

    async def waiting(self, action_id: str | None = None, limit: int = 50) -> list[str]:
        """Ids of runs that wait (on ``action_id``, if given), oldest first."""
        query = sa.select(R.id).where(R.state == "waiting")
        if action_id is not None:
            query = query.where(R.waiting_on.any_() == action_id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query.order_by(R.updated_at).limit(limit)))
                        .scalars())

    async def claim(self, run_id: str) -> tuple[Owner, WorkflowRun] | None:
        """Take a waiting run for resuming; None when another replica has it (or it is done)."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            row = (await conn.execute(workflow_runs.update().where(
                R.id == run_id, sa.or_(R.state == "waiting", sa.and_(
                    R.state == "resuming", R.updated_at < now - STALE)))
                .values(state="resuming", updated_at=now).returning(workflow_runs))).first()
        if row is None:
            return None
        owner, run = _run(row)
        run.state = "waiting"
        return owner, run

    async def release(self, run_id: str) -> None:
        """Give a claimed run back unchanged (its action is not decided yet)."""
        async with self.engine.begin() as conn:
            await conn.execute(workflow_runs.update().where(
                R.id == run_id, R.state == "resuming").values(state="waiting"))

    async def forget(self, slack_id: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(workflow_runs.delete().where(R.slack_id == slack_id))
        return int(result.rowcount)
