"""Audit write throughput: the single hash chain against the partitioned one.

1, 4 and 16 concurrent writers, on one engine and split over two engines (two replicas), each
committing transactions of three audit events as fast as it can for a few seconds; then the
same with 5 ms of other work in each transaction after its events (a chat turn saving its
memory), which the single chain's lock is held across.  "single chain" is the previous
``record`` (one advisory lock for every writer, the head read under it) run on the same schema,
in partition 0; "partitions" is ``confirmations.outbox.record``.  Embedded PostgreSQL, clients
in this process.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app import migrate
from app.database import asyncpg_url, ensure_database
from bench.common import Result
from bench.harness import with_postgres
from confirmations import outbox
from tools.audit import AuditEvent, chain_hash, genesis, verify

SECONDS = 3.0
EVENTS_PER_TX = 3
WRITERS = (1, 4, 16)


async def single_chain(conn: AsyncConnection, *events: AuditEvent) -> None:
    """The previous writer: every transaction of every replica queues on one lock."""
    o = outbox.audit_outbox.c
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": outbox.CHAIN_LOCK})
    last = (await conn.execute(sa.select(o.seq, o.hash).where(o.part == 0, o.seq.is_not(None))
                               .order_by(o.seq.desc()).limit(1))).first()
    seq, prev = (int(last.seq), str(last.hash)) if last else (0, genesis(0))
    rows = []
    for event in events:
        data = event.as_dict()
        seq += 1
        digest = chain_hash(prev, data)
        rows.append({"event_id": event.event_id, "event": data, "part": 0, "seq": seq,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    await conn.execute(outbox.audit_outbox.insert(), rows)


async def _writer(engine: AsyncEngine, record: Callable[..., Awaitable[None]], name: str,
                  deadline: float, work: float, latencies: list[float]) -> int:
    written = 0
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        async with engine.begin() as conn:
            await record(conn, *(AuditEvent(kind="bench.event", actor=name, outcome="ok",
                                            detail={"i": written + i})
                                 for i in range(EVENTS_PER_TX)))
            if work:
                await conn.execute(sa.text("SELECT pg_sleep(:s)"), {"s": work})
        latencies.append(time.perf_counter() - began)
        written += EVENTS_PER_TX
    return written


async def _measure(url: str, record: Callable[..., Awaitable[None]], writers: int,
                   engines: int, work: float) -> tuple[float, float]:
    """(events/s, p99 transaction ms) of ``writers`` split over ``engines``."""
    pool = [create_async_engine(url, pool_size=writers, max_overflow=0) for _ in range(engines)]
    latencies: list[float] = []
    try:
        deadline = time.perf_counter() + SECONDS
        began = time.perf_counter()
        counts = await asyncio.gather(*(
            _writer(pool[n % engines], record, f"U{n}", deadline, work, latencies)
            for n in range(writers)))
        elapsed = time.perf_counter() - began
    finally:
        for engine in pool:
            await engine.dispose()
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
    return sum(counts) / elapsed, p99 * 1000


async def _database(admin_url: str, name: str) -> str:
    admin = asyncpg_url(admin_url)
    await ensure_database(admin, name)
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    await migrate.migrate(engine)
    await engine.dispose()
    return url


async def _intact(url: str) -> str:
    from app.audit.shipper import outbox_chain

    engine = create_async_engine(url)
    try:
        await outbox.anchor(engine)
        verdict = verify(*await outbox_chain(engine))
    finally:
        await engine.dispose()
    return (f"{verdict.events:,} events in {verdict.partitions} partitions, "
            f"{len(verdict.problems)} problems")


async def _pair(admin_url: str, writers: int, engines: int, work: float) -> Result:
    """Both designs under the same load, each on a fresh database."""
    figures, urls = [], []
    for design, record in (("single", single_chain), ("parts", outbox.record)):
        url = await _database(admin_url, f"bench_audit_{design}_{writers}_{engines}_"
                                         f"{int(work * 1000)}")
        figures.append(await _measure(url, record, writers, engines, work))
        urls.append(url)
    (old, old_p99), (new, new_p99) = figures
    measured = (f"single chain {old:,.0f} ev/s (p99 {old_p99:.0f} ms) → partitions "
                f"{new:,.0f} ev/s (p99 {new_p99:.0f} ms), ×{new / old:.1f}")
    if writers == 16:
        measured += f"; verify: {await _intact(urls[1])}"
    turn = f", {work * 1000:.0f} ms more work per tx" if work else ""
    return Result(f"audit writes, {writers} writers, {engines} engine(s){turn}", measured,
                  "partitions ≥ single chain at 16 writers" if writers == 16 else "—",
                  new >= old or writers < 16)


async def _all(admin_url: str, _workdir: Path) -> list[Result]:
    return [await _pair(admin_url, writers, engines, work)
            for work in (0.0, 0.005) for engines in (1, 2) for writers in WRITERS
            if writers >= engines]


def run() -> list[Result]:
    return with_postgres(_all)
