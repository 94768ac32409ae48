"""Many writers at once: tasks on one engine, two engines (two replicas) and a second process
append to the partitioned chain while anchors are written; every chain stays intact, no seq
repeats in a partition, rolled-back transactions leave no gap, and writers spread over
partitions instead of queueing on one lock.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.audit.shipper import outbox_chain
from confirmations import outbox
from tests.conftest import REPO
from tools.audit import PARTITIONS, AuditEvent, verify

CHILD = """
import asyncio, sys
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from confirmations import outbox
from tools.audit import AuditEvent

async def main(url, tasks, each):
    engine = create_async_engine(url, pool_size=tasks)
    async def one(t):
        for i in range(each):
            async with engine.begin() as conn:
                await outbox.record(conn, AuditEvent(kind="test.child", actor=f"U{t}",
                                                     outcome="ok", detail={"i": i}))
                await conn.execute(text("SELECT pg_sleep(0.002)"))
    await asyncio.gather(*(one(t) for t in range(tasks)))
    await engine.dispose()
    print(tasks * each)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


class Abandoned(Exception):
    """Raised inside a transaction to roll it back after its events were recorded."""


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    pair = (create_async_engine(database_url, pool_size=20, max_overflow=0),
            create_async_engine(database_url, pool_size=20, max_overflow=0))
    yield pair
    for engine in pair:
        await engine.dispose()


def event(i: int, actor: str) -> AuditEvent:
    return AuditEvent(kind="test.event", actor=actor, outcome="ok", detail={"i": i})


async def writer(engine: AsyncEngine, name: str, transactions: int) -> int:
    """``transactions`` of two events each, every fifth rolled back; returns events kept."""
    kept = 0
    for i in range(transactions):
        try:
            async with engine.begin() as conn:
                await outbox.record(conn, event(i, name), event(i, name))
                await conn.execute(sa.text("SELECT pg_sleep(0.002)"))  # the rest of the turn
                if i % 5 == 4:
                    raise Abandoned
            kept += 2
        except Abandoned:
            continue
    return kept


async def anchoring(engine: AsyncEngine, done: asyncio.Event) -> int:
    written = 0
    while not done.is_set():
        if await outbox.anchor(engine) is not None:
            written += 1
        await asyncio.sleep(0.02)
    return written


async def spread(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT part, count(*), count(DISTINCT seq), max(seq) FROM audit_outbox "
            "GROUP BY part"))).all()
    for part, count, distinct, top in rows:
        assert count == distinct == top, f"partition {part}: {count} rows, {distinct} seqs"
    return {int(r[0]): int(r[1]) for r in rows}


async def test_tasks_on_two_engines_keep_every_chain_intact(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    first, second = engines
    done = asyncio.Event()
    anchors = asyncio.create_task(anchoring(first, done))
    kept = await asyncio.gather(*(writer(engine, f"U{n}", 15) for n in range(12)
                                  for engine in (first, second)))
    done.set()
    assert await anchors >= 1
    await outbox.anchor(first)
    verdict = verify(*await outbox_chain(first))
    assert verdict.problems == []
    assert verdict.events == sum(kept) == 24 * 12 * 2
    assert verdict.unanchored == 0
    parts = await spread(first)
    assert sum(parts.values()) == sum(kept)
    assert 2 <= len(parts) <= PARTITIONS  # 24 writers did not all queue on one chain


async def test_two_processes_keep_every_chain_intact(
        engines: tuple[AsyncEngine, AsyncEngine], database_url: str) -> None:
    engine, _ = engines
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, database_url, "6", "20", cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    kept = 0

    async def alongside(name: str) -> None:
        nonlocal kept
        while child.returncode is None:  # for as long as the other process writes
            got = await writer(engine, name, 5)  # (not `kept += await`: that reads first)
            kept += got

    waiting = asyncio.create_task(child.communicate())
    await asyncio.gather(*(alongside(f"U{n}") for n in range(6)), waiting)
    out, err = waiting.result()
    assert child.returncode == 0, err.decode()
    theirs = int(out.decode().split()[-1])
    await outbox.anchor(engine)
    verdict = verify(*await outbox_chain(engine))
    assert verdict.problems == []
    assert verdict.events == kept + theirs and theirs == 120 and kept > 0
    assert len(await spread(engine)) >= 2


async def test_a_lone_writer_stays_in_partition_zero(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    engine, _ = engines
    for i in range(5):
        async with engine.begin() as conn:
            await outbox.record(conn, event(i, "U0ALICE"))
            await outbox.record(conn, event(i, "U0ALICE"))  # a second call: same partition
    assert await spread(engine) == {0: 10}


async def test_a_rolled_back_transaction_leaves_no_gap(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    engine, _ = engines
    with pytest.raises(Abandoned):
        async with engine.begin() as conn:
            await outbox.record(conn, event(0, "U0ALICE"), event(1, "U0ALICE"))
            raise Abandoned
    async with engine.begin() as conn:
        await outbox.record(conn, event(2, "U0ALICE"))
    async with engine.connect() as conn:
        assert (await conn.execute(sa.text("SELECT part, seq FROM audit_outbox"))).all() == [
            (0, 1)]


async def test_when_every_partition_is_busy_a_writer_waits_for_one(
        engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    holders, engine = engines
    conns = [await holders.connect() for _ in range(PARTITIONS)]
    try:
        for part, conn in enumerate(conns):
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:k AS integer), "
                                       "CAST(:p AS integer))"),
                               {"k": outbox.CHAIN_LOCK, "p": part})

        async def write() -> None:
            async with engine.begin() as conn:
                await outbox.record(conn, event(0, "U0ALICE"))

        waiting = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not waiting.done()
    finally:
        for conn in conns:
            await conn.close()  # their transactions roll back: the locks go
    await asyncio.wait_for(waiting, 10)
    assert verify(*await outbox_chain(engine)).problems == []
