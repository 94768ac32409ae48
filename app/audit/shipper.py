"""Ship the Postgres audit outbox to ClickHouse in batches, exactly once, losing nothing.

One batch = one Postgres transaction: lock the oldest unshipped rows (``FOR UPDATE SKIP
LOCKED``, so several shippers never take the same rows), skip event_ids ClickHouse already has
(a retry after a crash between the insert and the commit duplicates nothing), insert the rest,
mark the batch shipped, commit.  ClickHouse down → the transaction rolls back and the events wait
in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit import clickhouse
from app.loops import Guard
from confirmations.outbox import audit_outbox
from tools.errors import HexabotError

log = logging.getLogger("hexabot.audit")
BATCH = 5000


def ch_row(seq: int, prev: str, digest: str, text: str) -> tuple[Any, ...]:
    """One ClickHouse row; ``text`` is the event's JSON as stored (verify re-canonicalises)."""
    event = json.loads(text)
    at = datetime.fromisoformat(str(event["at"]))
    return (event["event_id"], seq, at.replace(tzinfo=None, microsecond=0),
            at.microsecond // 1000, event.get("kind", ""), event.get("actor", ""),
            event.get("outcome", ""), event.get("hexabase_user", ""), event.get("workspace", ""),
            event.get("namespace", ""), event.get("request_id", ""), event.get("session_id", ""),
            event.get("resource_kind", ""), event.get("resource_name", ""),
            event.get("confirmation_id", ""), event.get("confirmation_state", ""),
            event.get("approver", ""), event.get("error", ""), int(event.get("duration_ms") or 0),
            event.get("api_audit_id", ""), text, prev, digest, event.get("workspace_id", ""))


@dataclass
class Shipper:
    engine: AsyncEngine
    clickhouse_url: str
    batch: int = BATCH

    async def ship_once(self) -> int:
        """Ship one batch; returns how many outbox rows it settled (0: nothing to do)."""
        o = audit_outbox.c
        async with self.engine.begin() as conn:
            rows = (await conn.execute(
                sa.select(o.id, o.event_id, sa.cast(o.event, sa.Text).label("text"), o.seq,
                          o.prev_hash, o.hash)
                .where(o.shipped_at.is_(None)).order_by(o.id).limit(self.batch)
                .with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            present = await clickhouse.existing_ids(self.clickhouse_url,
                                                    [r.event_id for r in rows])
            await clickhouse.insert_events(self.clickhouse_url, [
                ch_row(r.seq, r.prev_hash, r.hash, r.text)
                for r in rows if r.event_id not in present])
            await conn.execute(sa.text("UPDATE audit_outbox SET shipped_at = now() "
                                       "WHERE id = ANY(:ids)"), {"ids": [r.id for r in rows]})
        return len(rows)

    async def drain(self) -> int:
        total = 0
        while shipped := await self.ship_once():
            total += shipped
        return total

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Ship until ``stop`` is set; a ClickHouse outage only delays, with back-off, and any
        other failure is logged, counted and retried (:class:`app.loops.Guard`)."""
        wait, guard = interval, Guard("shipper", interval)
        while not stop.is_set():
            try:
                wait = await guard.run(self.drain, (clickhouse.ClickHouseUnavailable,))
            except clickhouse.ClickHouseUnavailable as exc:
                log.warning("audit shipping paused, ClickHouse unavailable: %s", exc)
                wait = min(wait * 2, 60.0)
            try:
                await asyncio.wait_for(stop.wait(), wait)
            except TimeoutError:
                continue


class OutboxMissing(HexabotError):
    """The outbox table does not exist yet (`hexabot migrate` creates it)."""

    code = "outbox_missing"


async def backlog(engine: AsyncEngine) -> tuple[int, float | None]:
    """(unshipped events, age in seconds of the oldest one)."""
    o = audit_outbox.c
    try:
        async with engine.connect() as conn:
            count, oldest = (await conn.execute(sa.select(
                sa.func.count(),
                sa.func.extract("epoch", sa.func.now() - sa.func.min(o.created_at)))
                .where(o.shipped_at.is_(None)))).one()
    except ProgrammingError as exc:
        raise OutboxMissing("the audit outbox does not exist yet: run `hexabot migrate`") \
            from exc
    return int(count), float(oldest) if oldest is not None else None


async def outbox_chain(engine: AsyncEngine) -> list[tuple[int, str, str, dict[str, Any]]]:
    o = audit_outbox.c
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(o.seq, o.prev_hash, o.hash, o.event)
                                   .where(o.seq.is_not(None)).order_by(o.seq))).all()
    return [(int(r.seq), str(r.prev_hash), str(r.hash),
             r.event if isinstance(r.event, dict) else json.loads(r.event)) for r in rows]
