"""Ship the Postgres audit outbox to ClickHouse in batches, exactly once, losing nothing.

Before each batch the shipper anchors the chain (:func:`confirmations.outbox.anchor`: a no-op
when nothing was written since the newest anchor).  One batch = one Postgres transaction: lock
the oldest unshipped rows (``FOR UPDATE SKIP LOCKED``, so several shippers never take the same
rows), skip event_ids ClickHouse already has (a retry after a crash between the insert and the
commit duplicates nothing), insert the rest, mark the batch shipped; then ship, in seq order,
the anchors whose every recorded head is shipped (so ClickHouse never holds an anchor naming
events it lacks), commit.  ClickHouse down → the transaction rolls back and everything waits in
the outbox.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.audit import clickhouse
from app.loops import Guard
from confirmations import outbox
from confirmations.outbox import audit_anchors, audit_outbox
from tools.audit import AnchorRow, EventRow, heads_of
from tools.errors import HexabotError

log = logging.getLogger("hexabot.audit")
BATCH = 5000
SHIP_ANCHORS_LOCK = 0x48584153  # "HXAS": one shipper at a time ships anchors, in order


def _json(value: Any) -> dict[str, Any]:
    loaded = value if isinstance(value, dict) else json.loads(value)
    return loaded if isinstance(loaded, dict) else {"value": loaded}


def ch_row(part: int, seq: int, prev: str, digest: str, text: str) -> tuple[Any, ...]:
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
            event.get("api_audit_id", ""), text, prev, digest, event.get("workspace_id", ""),
            part)


def ch_anchor(seq: int, prev: str, digest: str, text: str) -> tuple[Any, ...]:
    """One ClickHouse anchor row; ``text`` is the anchor's JSON as stored (one of no readable
    time is shipped as of 1970: verify, not the shipper, judges anchors)."""
    try:
        at = datetime.fromisoformat(str(_json(text).get("at")))
    except ValueError:
        at = datetime(1970, 1, 1)
    return (seq, at.replace(tzinfo=None, microsecond=0), text, prev, digest)


def _covered(text: str, unshipped: dict[int, int]) -> bool:
    """Whether every head the anchor records is shipped (``unshipped``: the lowest unshipped
    seq of each partition).  An anchor of no readable shape ships as it is: verify names it."""
    heads = heads_of(_json(text)) or {}
    return all(unshipped.get(part, head + 1) > head for part, (head, _) in heads.items())


@dataclass
class Shipper:
    engine: AsyncEngine
    clickhouse_url: str
    batch: int = BATCH

    async def ship_once(self) -> int:
        """Anchor, then ship one batch and the anchors it completes; returns how many outbox
        rows it settled (0: nothing to do)."""
        await outbox.anchor(self.engine)
        o = audit_outbox.c
        async with self.engine.begin() as conn:
            rows = (await conn.execute(
                sa.select(o.id, o.event_id, sa.cast(o.event, sa.Text).label("text"), o.part,
                          o.seq, o.prev_hash, o.hash)
                .where(o.shipped_at.is_(None)).order_by(o.id).limit(self.batch)
                .with_for_update(skip_locked=True))).all()
            if rows:
                present = await clickhouse.existing_ids(self.clickhouse_url,
                                                        [r.event_id for r in rows])
                await clickhouse.insert_events(self.clickhouse_url, [
                    ch_row(r.part, r.seq, r.prev_hash, r.hash, r.text)
                    for r in rows if r.event_id not in present])
                await conn.execute(sa.text("UPDATE audit_outbox SET shipped_at = now() "
                                           "WHERE id = ANY(:ids)"), {"ids": [r.id for r in rows]})
            await self._ship_anchors(conn)
        return len(rows)

    async def _ship_anchors(self, conn: AsyncConnection) -> int:
        """Ship the unshipped anchors, oldest first, up to the first one that records an event
        not shipped yet (this transaction's batch counts as shipped)."""
        taken = await conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"),
                                   {"key": SHIP_ANCHORS_LOCK})
        if not taken.scalar():
            return 0  # another shipper is at it
        a, o = audit_anchors.c, audit_outbox.c
        waiting = (await conn.execute(
            sa.select(a.seq, a.prev_hash, a.hash, sa.cast(a.anchor, sa.Text).label("text"))
            .where(a.shipped_at.is_(None)).order_by(a.seq))).all()
        if not waiting:
            return 0
        unshipped = dict((await conn.execute(
            sa.select(o.part, sa.func.min(o.seq))
            .where(o.shipped_at.is_(None), o.seq.is_not(None)).group_by(o.part))).all())
        ready = list(itertools.takewhile(lambda r: _covered(r.text, unshipped), waiting))
        if not ready:
            return 0
        present = await clickhouse.existing_anchors(self.clickhouse_url,
                                                    [int(r.seq) for r in ready])
        await clickhouse.insert_anchors(self.clickhouse_url, [
            ch_anchor(int(r.seq), r.prev_hash, r.hash, r.text)
            for r in ready if int(r.seq) not in present])
        await conn.execute(sa.text("UPDATE audit_anchors SET shipped_at = now() "
                                   "WHERE seq = ANY(:seqs)"), {"seqs": [r.seq for r in ready]})
        return len(ready)

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


async def outbox_chain(engine: AsyncEngine) -> tuple[list[EventRow], list[AnchorRow]]:
    """Every chained event, by partition and seq, and every anchor, by seq.  The anchors are
    read first: every head they record was committed before the events are read, so an anchor
    written in between cannot pass for a deleted tail."""
    o, a = audit_outbox.c, audit_anchors.c
    async with engine.connect() as conn:
        anchors = (await conn.execute(sa.select(a.seq, a.prev_hash, a.hash, a.anchor)
                                      .order_by(a.seq))).all()
        rows = (await conn.execute(sa.select(o.part, o.seq, o.prev_hash, o.hash, o.event)
                                   .where(o.seq.is_not(None)).order_by(o.part, o.seq))).all()
    return ([(int(r.part), int(r.seq), str(r.prev_hash), str(r.hash), _json(r.event))
             for r in rows],
            [(int(r.seq), str(r.prev_hash), str(r.hash), _json(r.anchor)) for r in anchors])


async def outbox_events(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Every event in the outbox in the order it was written (``id``: across partitions)."""
    o = audit_outbox.c
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(o.event).order_by(o.id))).all()
    return [_json(r.event) for r in rows]
