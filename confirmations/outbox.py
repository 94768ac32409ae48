"""The audit outbox: audit events written to Postgres in the caller's transaction, hash-chained.

Writing the event in the same transaction as the change it records means a change is never
committed without its audit row (and an audit row never describes a change that rolled back).

The events form ``PARTITIONS`` chains rather than one, so writers do not queue behind each
other.  A transaction takes the lowest-numbered partition no other transaction holds (a
transaction-scoped advisory lock per partition, tried without waiting; when all are busy it
waits for one), reads that partition's head and appends ``seq + 1`` with ``hash = SHA-256(
previous hash + canonical JSON)``.  The lock is held to commit, so a partition has one order
across processes, and a rolled-back transaction leaves no gap: its numbers were never
committed and the next holder reads the same head.  With no contention every event lands in
partition 0, one chain in write order, as before partitions.

:func:`anchor` records every partition's head in a chain of its own (``audit_anchors``), so
events deleted from a partition's tail are named once an anchor has covered them; the shipper
anchors before each batch, the background loop every few seconds and once more at shutdown.
docs/audit-chain.md gives the proof obligations.  The shipper (``app.audit.shipper``) drains
unshipped rows and anchors to ClickHouse in batches.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tools import metrics
from tools.audit import (
    ANCHOR_GENESIS,
    PARTITIONS,
    AuditEvent,
    Heads,
    anchor_body,
    chain_hash,
    genesis,
)
from tools.schema import metadata

CHAIN_LOCK = 0x48584155  # "HXAU": with a partition's number, the key of that partition's lock
ANCHOR_LOCK = 0x48584143  # "HXAC": writers of the anchor chain take turns
TS = sa.DateTime(timezone=True)

audit_outbox = sa.Table(
    "audit_outbox", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
    sa.Column("event", sa.JSON, nullable=False),
    sa.Column("shipped_at", TS),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("seq", sa.BigInteger),
    sa.Column("prev_hash", sa.Text),
    sa.Column("hash", sa.Text),
    sa.Index("audit_outbox_part_seq", "part", "seq", unique=True),
    sa.Index("audit_outbox_unshipped", "id", postgresql_where=sa.text("shipped_at IS NULL")),
)
audit_anchors = sa.Table(
    "audit_anchors", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
    sa.Column("anchor", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
    sa.Column("shipped_at", TS),
    sa.Index("audit_anchors_unshipped", "seq", postgresql_where=sa.text("shipped_at IS NULL")),
)

# The first free partition, in one round trip: the scan stops at the first lock it gets, and a
# transaction that already holds a partition gets it again (advisory locks are re-entrant), so
# it never waits while holding one: no deadlock between two writers.
_TAKE_FREE = sa.text("SELECT p FROM generate_series(0, CAST(:last AS integer)) AS p "
                     "WHERE pg_try_advisory_xact_lock(CAST(:key AS integer), p) LIMIT 1")
_WAIT_FOR = sa.text("SELECT pg_advisory_xact_lock(CAST(:key AS integer), "
                    "CAST(:part AS integer))")
_HEADS = sa.text(
    "SELECT p AS part, h.seq, h.hash FROM generate_series(0, CAST(:last AS integer)) AS p "
    "CROSS JOIN LATERAL (SELECT seq, hash FROM audit_outbox WHERE part = p "
    "AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1) AS h ORDER BY p")


async def _take_partition(conn: AsyncConnection) -> int:
    """Lock a partition until ``conn``'s transaction ends; returns its number."""
    free = (await conn.execute(_TAKE_FREE, {"last": PARTITIONS - 1, "key": CHAIN_LOCK})
            ).scalar()
    if free is not None:
        return int(free)
    part = random.randrange(PARTITIONS)  # every one busy: queue behind one of them
    await conn.execute(_WAIT_FOR, {"key": CHAIN_LOCK, "part": part})
    return part


async def record(conn: AsyncConnection, *events: AuditEvent) -> None:
    """Add ``events`` to the outbox within ``conn``'s transaction, extending one partition's
    chain (the head is read after the lock is held, in a statement of its own, so it sees the
    previous holder's commit)."""
    if not events:
        return
    o = audit_outbox.c
    part = await _take_partition(conn)
    last = (await conn.execute(sa.select(o.seq, o.hash)
                               .where(o.part == part, o.seq.is_not(None))
                               .order_by(o.seq.desc()).limit(1))).first()
    seq, prev = (int(last.seq), str(last.hash)) if last else (0, genesis(part))
    rows = []
    for event in events:
        data = event.as_dict()
        seq += 1
        digest = chain_hash(prev, data)
        rows.append({"event_id": event.event_id, "event": data, "part": part, "seq": seq,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    await conn.execute(audit_outbox.insert(), rows)
    for event in events:
        metrics.observe(event)


async def heads(conn: AsyncConnection) -> Heads:
    """Every partition's committed head: {"3": [seq, hash]}, partitions with no event left out."""
    rows = (await conn.execute(_HEADS, {"last": PARTITIONS - 1})).all()
    return {str(r.part): [int(r.seq), str(r.hash)] for r in rows}


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    loaded = json.loads(value)
    if not isinstance(loaded, dict):
        raise ValueError("an anchor is a JSON object")
    return loaded


async def anchor(engine: AsyncEngine) -> int | None:
    """Append an anchor recording every partition's head; returns its seq, or None when no
    event was written since the newest anchor (an idle deployment adds no anchors)."""
    a = audit_anchors.c
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ANCHOR_LOCK})
        last = (await conn.execute(sa.select(a.seq, a.hash, a.anchor)
                                   .order_by(a.seq.desc()).limit(1))).first()
        now = await heads(conn)
        if last is None and not now:
            return None
        if last is not None and _as_dict(last.anchor).get("heads") == now:
            return None
        seq, prev = (int(last.seq) + 1, str(last.hash)) if last else (1, ANCHOR_GENESIS)
        body = anchor_body(seq, now, datetime.now(UTC).isoformat(timespec="milliseconds"))
        await conn.execute(audit_anchors.insert().values(
            seq=seq, anchor=body, prev_hash=prev, hash=chain_hash(prev, body)))
    return seq
