"""The audit trail: outbox → ClickHouse exactly once through an outage; the hash chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrate
from app.audit import clickhouse as ch
from app.audit import shipper as shipper_module
from app.audit.shipper import Shipper, backlog
from confirmations import outbox
from tests.confirm_support import rig
from tests.conftest import run_cli
from tests.sandbox_support import ThreadedSandbox
from tests.services import ClickHouse, start_clickhouse
from tools.audit import AuditEvent


@pytest.fixture
def own_clickhouse() -> Iterator[ClickHouse]:
    """A ClickHouse of this test's own, so it can be stopped and started."""
    server = start_clickhouse()
    yield server
    server.stop()


async def test_outage_loses_nothing_and_duplicates_nothing(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        own_clickhouse: ClickHouse, monkeypatch: pytest.MonkeyPatch) -> None:
    url = own_clickhouse.url
    await ch.apply_ddl(url)
    own_clickhouse.pause()
    async with rig(database_url, sandbox, tmp_path) as r:
        ctx = await r.identity.context("carol", namespace="shop-staging")
        for i in range(100):  # two events each: the policy ruling and the proposal
            await r.flow.propose(ctx, "scale_deployment", {"name": "web-app",
                                                           "replicas": 2 + i % 50})
        shipper = Shipper(r.engine, url, batch=64)
        with pytest.raises(ch.ClickHouseUnavailable):
            await shipper.ship_once()
        assert (await backlog(r.engine))[0] == 200  # all waiting, none lost
        own_clickhouse.resume()

        real_insert = ch.insert_events

        async def insert_then_die(url: str, rows: Any) -> None:
            await real_insert(url, rows)
            raise RuntimeError("shipper killed after the ClickHouse insert, before the commit")

        monkeypatch.setattr(shipper_module.clickhouse, "insert_events", insert_then_die)
        with pytest.raises(RuntimeError):
            await shipper.ship_once()
        monkeypatch.setattr(shipper_module.clickhouse, "insert_events", real_insert)
        assert (await backlog(r.engine))[0] == 200  # the batch is still unshipped in Postgres
        assert await shipper.drain() == 200
        assert await shipper.drain() == 0
    counted = own_clickhouse.query("SELECT count(), uniqExact(event_id) FROM audit_events")
    assert counted.split() == ["200", "200"]


async def test_verify_passes_then_detects_an_altered_row(
        database_url: str, clickhouse: ClickHouse, clean_env: dict[str, str],
        tmp_path: Path) -> None:
    engine = create_async_engine(database_url)
    await migrate.migrate(engine)
    database = "verify_" + tmp_path.name.replace("-", "_")[-24:]
    clickhouse.query(f"CREATE DATABASE IF NOT EXISTS {database}")
    url = f"clickhouse://default@127.0.0.1:{clickhouse.tcp_port}/{database}"
    assert await ch.apply_ddl(url) == ["0001_audit_events.sql", "0002_audit_workspace_id.sql",
                                       "0003_audit_events_part.sql", "0004_audit_anchors.sql"]
    assert await ch.apply_ddl(url) == [  # the columns exist: skipped
        "0001_audit_events.sql", "0004_audit_anchors.sql"]
    async with engine.begin() as conn:
        for i in range(20):
            await outbox.record(conn, AuditEvent(kind="test.event", actor=f"U{i % 3}",
                                                 outcome="ok", workspace="shop",
                                                 detail={"i": i}))
    assert await Shipper(engine, url).drain() == 20
    await engine.dispose()
    env = {**clean_env, "HEXABOT_DATABASE_URL": database_url, "HEXABOT_CLICKHOUSE_URL": url}
    ok = run_cli(["audit", "verify"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0] == "audit chain intact: 20 events in ClickHouse"
    assert "1 partition, 1 anchors; newest anchor 1 (" in ok.stdout  # the shipper's anchor
    assert "covers all but 0 events written after it" in ok.stdout
    tail = run_cli(["audit", "tail", "--user", "U1", "--since", "1h"], env, tmp_path)
    assert tail.returncode == 0 and len(tail.stdout.splitlines()) == 7

    # alter event seq 5: ReplacingMergeTree keeps the later row of the same key
    data = json.loads(clickhouse.query(f"SELECT * FROM {database}.audit_events WHERE seq = 5 "
                                       "FORMAT JSONEachRow"))
    event = json.loads(data["event"])
    event["outcome"] = "denied"
    data["event"] = json.dumps(event)
    clickhouse.query(f"INSERT INTO {database}.audit_events FORMAT JSONEachRow "
                     + json.dumps(data))
    bad = run_cli(["audit", "verify"], env, tmp_path)
    assert bad.returncode == 1
    assert "partition 0 seq 5: content does not match its hash (edited event" in bad.stderr


async def test_verify_on_the_outbox_detects_deletions(
        database_url: str, clean_env: dict[str, str], tmp_path: Path) -> None:
    engine = create_async_engine(database_url)
    await migrate.migrate(engine)
    async with engine.begin() as conn:
        for i in range(10):
            await outbox.record(conn, AuditEvent(kind="test.event", actor="U1", outcome="ok",
                                                 detail={"i": i}))
    await engine.dispose()
    env = {**clean_env, "HEXABOT_DATABASE_URL": database_url}
    assert run_cli(["audit", "verify"], env, tmp_path).stdout.splitlines() == [
        "audit chain intact: 10 events in the Postgres outbox",
        "1 partition, no anchor yet: a deleted tail of any partition would not show (anchors "
        "are written by the shipper and the background loop)"]
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("DELETE FROM audit_outbox WHERE seq = 4")
    finally:
        await conn.close()
    bad = run_cli(["audit", "verify"], env, tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "partition 0 seq 4..4: missing (deleted events)"
