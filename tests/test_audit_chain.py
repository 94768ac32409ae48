"""The partitioned audit chain in Postgres, attacked: every edit, insertion, deletion and forged
anchor is named by partition and seq; the tail after the newest anchor is the stated window.

The data is laid out the same way in every test (:func:`build`): partitions 0, 1 and 2 with six
events each, anchor 1, two more events in partitions 0 and 1, anchor 2, then one event in
partition 2 that no anchor covers yet.  The attacker writes to the tables directly (asyncpg,
not the code under test), as someone with the database's credentials would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.audit import anchors
from app.audit.shipper import outbox_chain
from confirmations import outbox
from tools.audit import ANCHOR_GENESIS, AuditEvent, Verdict, anchor_body, chain_hash, verify


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=20, max_overflow=10)
    yield engine
    await engine.dispose()


def event(i: int, actor: str = "U0ALICE") -> AuditEvent:
    return AuditEvent(kind="test.event", actor=actor, outcome="ok", workspace="shop",
                      namespace="shop", detail={"i": i})


async def into(engine: AsyncEngine, part: int, count: int) -> None:
    """``count`` events, one transaction each, in partition ``part``: other transactions hold
    the partitions below it, as busy writers would."""
    async with contextlib.AsyncExitStack() as stack:
        for busy in range(part):
            conn = await stack.enter_async_context(engine.connect())
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:k AS integer), "
                                       "CAST(:p AS integer))"),
                               {"k": outbox.CHAIN_LOCK, "p": busy})
        for i in range(count):
            async with engine.begin() as conn:
                await outbox.record(conn, event(i))


async def build(engine: AsyncEngine) -> None:
    for part in (0, 1, 2):
        await into(engine, part, 6)
    assert await outbox.anchor(engine) == 1
    await into(engine, 0, 2)
    await into(engine, 1, 2)
    assert await outbox.anchor(engine) == 2
    await into(engine, 2, 1)


async def check(engine: AsyncEngine) -> Verdict:
    return verify(*await outbox_chain(engine))


def named(verdict: Verdict) -> list[str]:
    return [str(p) for p in verdict.problems]


@contextlib.asynccontextmanager
async def attacker(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        yield conn
    finally:
        await conn.close()


async def rows_of(conn: asyncpg.Connection, part: int) -> list[Any]:
    return list(await conn.fetch("SELECT id, seq, prev_hash, hash, event::text AS event "
                                 "FROM audit_outbox WHERE part = $1 ORDER BY seq", part))


async def rechain(conn: asyncpg.Connection, part: int, start: int) -> None:
    """What a careful attacker does after an edit: recompute every hash from ``start`` on."""
    rows = await rows_of(conn, part)
    prev = rows[start - 2]["hash"] if start > 1 else None
    for row in rows[start - 1:]:
        prev = prev if prev is not None else row["prev_hash"]
        digest = chain_hash(prev, json.loads(row["event"]))
        await conn.execute("UPDATE audit_outbox SET prev_hash = $1, hash = $2 WHERE id = $3",
                           prev, digest, row["id"])
        prev = digest


async def test_an_intact_chain_and_its_window(engine: AsyncEngine) -> None:
    await build(engine)
    verdict = await check(engine)
    assert verdict.problems == []
    assert (verdict.events, verdict.partitions, verdict.anchors, verdict.unanchored) == (
        23, 3, 2, 1)
    async with engine.connect() as conn:
        parts = (await conn.execute(sa.text(
            "SELECT part, max(seq) FROM audit_outbox GROUP BY part ORDER BY part"))).all()
    assert [tuple(p) for p in parts] == [(0, 8), (1, 8), (2, 7)]


async def test_an_edited_event_is_named(engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("UPDATE audit_outbox SET event = jsonb_set(event::jsonb, "
                           "'{outcome}', '\"denied\"')::json WHERE part = 1 AND seq = 3")
        event_id = await conn.fetchval("SELECT event->>'event_id' FROM audit_outbox "
                                       "WHERE part = 1 AND seq = 3")
    assert named(await check(engine)) == [
        f"partition 1 seq 3: content does not match its hash (edited event {event_id})"]


async def test_an_edit_with_its_hash_recomputed_is_named(
        engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("UPDATE audit_outbox SET event = jsonb_set(event::jsonb, "
                           "'{actor}', '\"U0MALLORY\"')::json WHERE part = 0 AND seq = 4")
        [row] = [r for r in await rows_of(conn, 0) if r["seq"] == 4]
        await conn.execute("UPDATE audit_outbox SET hash = $1 WHERE id = $2",
                           chain_hash(row["prev_hash"], json.loads(row["event"])), row["id"])
    assert named(await check(engine)) == [
        "partition 0 seq 5: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)"]


async def test_a_rewritten_run_is_named_by_the_anchor(
        engine: AsyncEngine, database_url: str) -> None:
    """Every hash recomputed from the edit to the partition's end: the chain is consistent
    again, but no longer ends where the anchors recorded."""
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("UPDATE audit_outbox SET event = jsonb_set(event::jsonb, "
                           "'{outcome}', '\"denied\"')::json WHERE part = 1 AND seq = 2")
        await rechain(conn, 1, 2)
    assert named(await check(engine)) == [
        "partition 1 seq 6: is not the event anchor 1 recorded (events rewritten up to it, or "
        "a forged anchor)",
        "partition 1 seq 8: is not the event anchor 2 recorded (events rewritten up to it, or "
        "a forged anchor)"]


async def test_an_inserted_event_is_named(engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    forged = event(99, actor="U0MALLORY").as_dict()
    async with attacker(database_url) as conn:
        await conn.execute("UPDATE audit_outbox SET seq = seq + 1000 WHERE part = 2 "
                           "AND seq >= 4")
        await conn.execute("UPDATE audit_outbox SET seq = seq - 999 WHERE part = 2 "
                           "AND seq > 1000")
        prev = await conn.fetchval("SELECT hash FROM audit_outbox WHERE part = 2 AND seq = 3")
        await conn.execute("INSERT INTO audit_outbox (event_id, event, part, seq, prev_hash, "
                           "hash) VALUES ($1, $2::json, 2, 4, $3, $4)", forged["event_id"],
                           json.dumps(forged), prev, chain_hash(prev, forged))
    assert named(await check(engine)) == [
        "partition 2 seq 5: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)",
        "partition 2 seq 6: is not the event anchor 1 recorded (events rewritten up to it, or "
        "a forged anchor)"]


async def test_a_deleted_event_in_the_middle_is_named(
        engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("DELETE FROM audit_outbox WHERE part = 2 AND seq IN (3, 4)")
    assert named(await check(engine)) == ["partition 2 seq 3..4: missing (deleted events)"]


async def test_a_deleted_tail_before_the_last_anchor_is_named(
        engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("DELETE FROM audit_outbox WHERE part = 0 AND seq >= 5")
        await conn.execute("DELETE FROM audit_outbox WHERE part = 1")
    assert named(await check(engine)) == [
        "partition 0 seq 5..8: missing, though anchor 2 recorded the partition up to seq 8 "
        "(events deleted from its tail)",
        "partition 1 seq 1..8: missing, though anchor 2 recorded the partition up to seq 8 "
        "(events deleted from its tail)"]


async def test_a_reordered_pair_is_named(engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("UPDATE audit_outbox SET seq = -seq WHERE part = 0 AND seq IN (2, 3)")
        await conn.execute("UPDATE audit_outbox SET seq = 5 + seq WHERE part = 0 AND seq < 0")
    assert named(await check(engine)) == [
        "partition 0 seq 2: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)",
        "partition 0 seq 3: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)",
        "partition 0 seq 4: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)"]


async def forge_anchor(conn: asyncpg.Connection, heads: dict[str, list[Any]]) -> None:
    """Append an anchor chained exactly as Hexabot would, claiming ``heads``."""
    last = await conn.fetchrow("SELECT seq, hash FROM audit_anchors ORDER BY seq DESC LIMIT 1")
    seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, ANCHOR_GENESIS)
    body = anchor_body(seq, heads, "2026-12-03T00:00:00.000+00:00")
    await conn.execute("INSERT INTO audit_anchors (seq, anchor, prev_hash, hash) VALUES "
                       "($1, $2::json, $3, $4)", seq, json.dumps(body), prev,
                       chain_hash(prev, body))


async def test_forged_anchors_are_named(engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        heads = json.loads(await conn.fetchval("SELECT anchor::text FROM audit_anchors "
                                               "WHERE seq = 2"))["heads"]
        await forge_anchor(conn, {"0": [12, heads["0"][1]], "1": [3, heads["1"][1]]})
        await conn.execute("UPDATE audit_anchors SET anchor = jsonb_set(anchor::jsonb, "
                           "'{heads,2,0}', '2')::json WHERE seq = 1")
    assert named(await check(engine)) == [
        "anchor 1: content does not match its hash (edited or forged anchor)",
        "partition 2 seq 2: is not the event anchor 1 recorded (events rewritten up to it, or "
        "a forged anchor)",
        "partition 1 seq 3: is not the event anchor 3 recorded (events rewritten up to it, or "
        "a forged anchor)",
        "anchor 3: takes partition 1 back from seq 8 to 3 (forged anchor)",
        "anchor 3: leaves out partition 2, which the anchor before it recorded (forged anchor)",
        "partition 0 seq 9..12: missing, though anchor 3 recorded the partition up to seq 12 "
        "(events deleted from its tail)"]


async def test_deleted_and_inserted_anchors_are_named(
        engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("DELETE FROM audit_anchors WHERE seq = 1")
    assert named(await check(engine)) == ["anchor 1..1: missing (deleted anchors)"]


async def test_the_tail_after_the_newest_anchor_is_the_window(
        engine: AsyncEngine, database_url: str) -> None:
    """Stated, not hidden: the last event of partition 2 was written after anchor 2, so
    deleting it leaves a chain that verifies; the next anchor closes the window."""
    await build(engine)
    async with attacker(database_url) as conn:
        await conn.execute("DELETE FROM audit_outbox WHERE part = 2 AND seq = 7")
    verdict = await check(engine)
    assert verdict.problems == [] and verdict.unanchored == 0
    await into(engine, 2, 1)
    assert await outbox.anchor(engine) == 3
    assert await outbox.anchor(engine) is None  # nothing new: no anchor
    async with attacker(database_url) as conn:
        await conn.execute("DELETE FROM audit_outbox WHERE part = 2 AND seq = 7")
    assert named(await check(engine)) == [
        "partition 2 seq 7..7: missing, though anchor 3 recorded the partition up to seq 7 "
        "(events deleted from its tail)"]


async def test_a_partition_hexabot_never_writes_is_named(
        engine: AsyncEngine, database_url: str) -> None:
    await build(engine)
    forged = event(1).as_dict()
    async with attacker(database_url) as conn:
        await conn.execute("UPDATE audit_outbox SET part = 40 WHERE part = 2 AND seq = 7")
        await conn.execute("INSERT INTO audit_outbox (event_id, event, part, seq, prev_hash, "
                           "hash) VALUES ($1, $2::json, 41, 1, $3, $4)", forged["event_id"],
                           json.dumps(forged), "0" * 64, chain_hash("0" * 64, forged))
    assert named(await check(engine)) == [
        "partition 40 seq 7: not a partition Hexabot writes (inserted events)",
        "partition 40 seq 1..6: missing (deleted events)",
        "partition 41 seq 1: not a partition Hexabot writes (inserted events)",
        "partition 41 seq 1: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)"]


async def test_the_background_loop_anchors_and_once_more_when_stopped(
        engine: AsyncEngine) -> None:
    stop = asyncio.Event()
    loop = asyncio.create_task(anchors.run(engine, stop, interval=0.05))
    await into(engine, 0, 3)
    for _ in range(100):
        if (await check(engine)).anchors:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(loop, 10)
    before = await check(engine)  # one anchor per round in which something was written
    assert before.anchors >= 1 and before.unanchored == 0

    stop = asyncio.Event()
    loop = asyncio.create_task(anchors.run(engine, stop, interval=3600))
    await asyncio.sleep(0.1)  # its first round: nothing new, no anchor
    await into(engine, 1, 2)
    stop.set()  # the round at shutdown covers what was written since
    await asyncio.wait_for(loop, 10)
    verdict = await check(engine)
    assert (verdict.problems, verdict.anchors, verdict.unanchored) == (
        [], before.anchors + 1, 0)
