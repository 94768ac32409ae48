"""The partitioned audit chain in ClickHouse, attacked: the same edits, insertions, deletions
and forged anchors as in Postgres (``test_audit_chain``), made to the shipped copy, are named
by partition and seq; anchors reach ClickHouse only after every event they record; concurrent
writers and two shippers leave an intact copy; a table shipped before partitions verifies.

Rows are replaced the way ClickHouse allows: an insert with the same sorting key supersedes the
old row (ReplacingMergeTree, read with FINAL), and ``ALTER TABLE … DELETE`` removes rows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.audit import clickhouse as ch
from app.audit.shipper import Shipper, ch_row
from tests.services import ClickHouse
from tests.test_audit_chain import build, event
from tests.test_audit_concurrency import writer
from tools.audit import GENESIS, Verdict, anchor_body, chain_hash, verify


@pytest.fixture
def house(clickhouse: ClickHouse, tmp_path: Path) -> Iterator[tuple[ClickHouse, str, str]]:
    """(the server, a database of this test's own, its URL)."""
    database = "chain_" + tmp_path.name.replace("-", "_")[-24:]
    clickhouse.query(f"CREATE DATABASE IF NOT EXISTS {database}")
    yield clickhouse, database, f"clickhouse://default@127.0.0.1:{clickhouse.tcp_port}/{database}"
    clickhouse.query(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=20, max_overflow=10)
    yield engine
    await engine.dispose()


@pytest.fixture
async def shipped(engine: AsyncEngine, house: tuple[ClickHouse, str, str]
                  ) -> tuple[ClickHouse, str, str]:
    """``build``'s layout shipped: the shipper's own anchor (3) covers the last event too."""
    _, _, url = house
    await ch.apply_ddl(url)
    await build(engine)
    assert await Shipper(engine, url).drain() == 23
    return house


async def check(url: str) -> Verdict:
    rows = [(int(p), int(s), str(v), str(h), json.loads(e))
            for p, s, v, h, e in await ch.chain(url)]
    anchors = [(int(s), str(v), str(h), json.loads(a)) for s, v, h, a in await ch.anchors(url)]
    return verify(rows, anchors)


async def named(url: str) -> list[str]:
    return [str(p) for p in (await check(url)).problems]


def replace(server: ClickHouse, database: str, seq: str, where: str) -> None:
    """Supersede the rows ``where`` picks with copies whose seq is the expression ``seq`` (an
    INSERT … SELECT maps columns by position; an alias named ``seq`` would leak into WHERE)."""
    columns = ", ".join(ch.COLUMNS)
    chosen = ", ".join(f"{seq} AS moved" if c == "seq" else c for c in ch.COLUMNS)
    server.query(f"INSERT INTO {database}.audit_events ({columns}) SELECT {chosen} "
                 f"FROM {database}.audit_events FINAL WHERE {where}")


def delete(server: ClickHouse, database: str, table: str, where: str) -> None:
    server.query(f"ALTER TABLE {database}.{table} DELETE WHERE {where}")
    deadline = time.monotonic() + 30
    while server.query(f"SELECT count() FROM system.mutations WHERE database = '{database}' "
                       "AND is_done = 0").strip() != "0":
        assert time.monotonic() < deadline, "the delete did not finish"
        time.sleep(0.05)


def row(server: ClickHouse, database: str, where: str) -> dict[str, Any]:
    found = server.query(f"SELECT * FROM {database}.audit_events FINAL WHERE {where} "
                         "FORMAT JSONEachRow")
    return dict(json.loads(found))


async def test_the_shipped_copy_is_intact(shipped: tuple[ClickHouse, str, str]) -> None:
    verdict = await check(shipped[2])
    assert (verdict.problems, verdict.events, verdict.partitions, verdict.anchors,
            verdict.unanchored) == ([], 23, 3, 3, 0)


async def test_an_edited_event_is_named(shipped: tuple[ClickHouse, str, str]) -> None:
    server, database, url = shipped
    data = row(server, database, "part = 1 AND seq = 3")
    changed = json.loads(data["event"])
    changed["outcome"] = "denied"
    data["event"] = json.dumps(changed)
    server.query(f"INSERT INTO {database}.audit_events FORMAT JSONEachRow {json.dumps(data)}")
    assert await named(url) == [f"partition 1 seq 3: content does not match its hash (edited "
                                f"event {changed['event_id']})"]


async def test_an_inserted_event_is_named(shipped: tuple[ClickHouse, str, str]) -> None:
    server, database, url = shipped
    replace(server, database, "seq + 1", "part = 2 AND seq >= 4")
    prev = row(server, database, "part = 2 AND seq = 3")["hash"]
    forged = event(99, actor="U0MALLORY").as_dict()
    await ch.insert_events(url, [ch_row(2, 4, prev, chain_hash(prev, forged),
                                        json.dumps(forged))])
    assert await named(url) == [
        "partition 2 seq 5: does not follow the event before it (that one rewritten, or one "
        "inserted, removed or moved)",
        "partition 2 seq 6: is not the event anchor 1 recorded (events rewritten up to it, or "
        "a forged anchor)",
        "partition 2 seq 7: is not the event anchor 3 recorded (events rewritten up to it, or "
        "a forged anchor)"]


async def test_a_deleted_event_in_the_middle_is_named(
        shipped: tuple[ClickHouse, str, str]) -> None:
    server, database, url = shipped
    delete(server, database, "audit_events", "part = 2 AND seq IN (3, 4)")
    assert await named(url) == ["partition 2 seq 3..4: missing (deleted events)"]


async def test_a_deleted_tail_before_the_last_anchor_is_named(
        shipped: tuple[ClickHouse, str, str]) -> None:
    server, database, url = shipped
    delete(server, database, "audit_events", "(part = 0 AND seq >= 5) OR part = 2")
    assert await named(url) == [
        "partition 0 seq 5..8: missing, though anchor 2 recorded the partition up to seq 8 "
        "(events deleted from its tail)",
        "partition 2 seq 1..7: missing, though anchor 3 recorded the partition up to seq 7 "
        "(events deleted from its tail)"]


async def test_a_reordered_pair_is_named(shipped: tuple[ClickHouse, str, str]) -> None:
    server, database, url = shipped
    replace(server, database, "5 - seq", "part = 0 AND seq IN (2, 3)")
    follow = ("does not follow the event before it (that one rewritten, or one inserted, "
              "removed or moved)")
    assert await named(url) == [f"partition 0 seq {s}: {follow}" for s in (2, 3, 4)]


async def test_forged_anchors_are_named(shipped: tuple[ClickHouse, str, str]) -> None:
    server, database, url = shipped
    [(_, _, _, text)] = [a for a in await ch.anchors(url) if a[0] == 2]
    edited = json.loads(text)
    edited["heads"]["1"][0] = 5
    server.query(f"INSERT INTO {database}.audit_anchors FORMAT JSONEachRow " + json.dumps({
        **json.loads(server.query(f"SELECT * FROM {database}.audit_anchors FINAL WHERE seq = 2 "
                                  "FORMAT JSONEachRow")), "anchor": json.dumps(edited)}))
    newest = (await ch.anchors(url))[-1]
    body = anchor_body(4, {"0": [9, "f" * 64]}, "2026-12-03T00:00:00.000+00:00")
    await ch.insert_anchors(url, [(4, datetime(2026, 12, 3), json.dumps(body),
                                   newest[2], chain_hash(newest[2], body))])
    assert await named(url) == [
        "anchor 2: content does not match its hash (edited or forged anchor)",
        "partition 1 seq 5: is not the event anchor 2 recorded (events rewritten up to it, or "
        "a forged anchor)",
        "anchor 2: takes partition 1 back from seq 6 to 5 (forged anchor)",
        "anchor 4: leaves out partition 1, which the anchor before it recorded (forged anchor)",
        "anchor 4: leaves out partition 2, which the anchor before it recorded (forged anchor)",
        "partition 0 seq 9..9: missing, though anchor 4 recorded the partition up to seq 9 "
        "(events deleted from its tail)"]


async def test_anchors_reach_clickhouse_after_their_events(
        engine: AsyncEngine, house: tuple[ClickHouse, str, str]) -> None:
    server, database, url = house
    await ch.apply_ddl(url)
    await build(engine)
    shipper = Shipper(engine, url, batch=10)
    assert await shipper.ship_once() == 10  # anchors 1 and 2 record events not shipped yet
    assert server.query(f"SELECT count() FROM {database}.audit_anchors").strip() == "0"
    assert await shipper.ship_once() == 10  # anchor 1's events are all in: it ships
    assert server.query(f"SELECT seq FROM {database}.audit_anchors").split() == ["1"]
    assert await shipper.drain() == 3
    assert (await check(url)).problems == []
    assert server.query(f"SELECT seq FROM {database}.audit_anchors ORDER BY seq").split() == [
        "1", "2", "3"]


async def test_writers_and_two_shippers_leave_an_intact_copy(
        database_url: str, house: tuple[ClickHouse, str, str]) -> None:
    _, _, url = house
    await ch.apply_ddl(url)
    engines = [create_async_engine(database_url, pool_size=20) for _ in range(2)]
    try:
        stop = asyncio.Event()
        shippers = [asyncio.create_task(Shipper(e, url, batch=50).run(stop, interval=0.05))
                    for e in engines]
        kept = await asyncio.gather(*(writer(e, f"U{n}", 10) for n in range(8)
                                      for e in engines))
        stop.set()
        await asyncio.gather(*shippers)
        await Shipper(engines[0], url).drain()
    finally:
        for e in engines:
            await e.dispose()
    verdict = await check(url)
    assert verdict.problems == [] and verdict.events == sum(kept) == 16 * 8 * 2
    assert verdict.partitions >= 2 and verdict.anchors >= 1 and verdict.unanchored == 0


async def test_a_table_shipped_before_partitions_verifies(
        house: tuple[ClickHouse, str, str]) -> None:
    _, _, url = house
    for ddl in ch.ddl_files()[:2]:  # the schema before partitions
        await ch.execute(url, ddl.read_text())
    prev, rows = GENESIS, []
    for i in range(1, 8):
        data = event(i).as_dict()
        digest = chain_hash(prev, data)
        rows.append(ch_row(0, i, prev, digest, json.dumps(data))[:-1])
        prev = digest
    await ch.execute(url, f"INSERT INTO audit_events ({', '.join(ch.COLUMNS[:-1])}) VALUES",
                     rows)
    assert await ch.apply_ddl(url) == ["0001_audit_events.sql", "0003_audit_events_part.sql",
                                       "0004_audit_anchors.sql"]
    verdict = await check(url)
    assert (verdict.problems, verdict.events, verdict.partitions, verdict.anchors) == (
        [], 7, 1, 0)
