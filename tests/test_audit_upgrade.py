"""An outbox written as one chain (revision 0012) verifies after the upgrade to partitions, new
events extend it, and `hexabot audit verify` names the partition and seq of what was altered.
"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app import migrate
from app.audit.shipper import outbox_chain
from confirmations import outbox
from tests.conftest import run_cli
from tools.audit import GENESIS, AuditEvent, chain_hash, verify


def upgrade_to(conn: Connection, revision: str) -> None:
    from alembic import command

    config = migrate.alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def old_record(conn: AsyncConnection, *events: AuditEvent) -> None:
    """The single-chain writer of revision 0012, as it was: one lock for every writer."""
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": outbox.CHAIN_LOCK})
    last = (await conn.execute(sa.text("SELECT seq, hash FROM audit_outbox WHERE seq IS NOT "
                                       "NULL ORDER BY seq DESC LIMIT 1"))).first()
    seq, prev = (int(last.seq), str(last.hash)) if last else (0, GENESIS)
    for event in events:
        data = event.as_dict()
        seq += 1
        digest = chain_hash(prev, data)
        await conn.execute(sa.text(
            "INSERT INTO audit_outbox (event_id, event, seq, prev_hash, hash) VALUES "
            "(:id, CAST(:event AS json), :seq, :prev, :hash)"),
            {"id": event.event_id, "event": json.dumps(data), "seq": seq, "prev": prev,
             "hash": digest})
        prev = digest


def event(i: int) -> AuditEvent:
    return AuditEvent(kind="test.event", actor="U0ALICE", outcome="ok", detail={"i": i})


async def test_an_upgraded_outbox_verifies_and_grows(
        empty_database_url: str, clean_env: dict[str, str], tmp_path: Path) -> None:
    engine = create_async_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0012")
        for start in range(0, 12, 3):
            async with engine.begin() as conn:
                await old_record(conn, *(event(i) for i in range(start, start + 3)))
        await migrate.migrate(engine)
        verdict = verify(*await outbox_chain(engine))
        assert (verdict.problems, verdict.events, verdict.partitions, verdict.anchors) == (
            [], 12, 1, 0)

        async with engine.connect() as busy:  # partition 0 held: the next writer takes 1
            await busy.execute(sa.text("SELECT pg_advisory_xact_lock(CAST(:k AS integer), 0)"),
                               {"k": outbox.CHAIN_LOCK})
            async with engine.begin() as conn:
                await outbox.record(conn, event(100))
        async with engine.begin() as conn:
            await outbox.record(conn, event(101), event(102))
        assert await outbox.anchor(engine) == 1
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text(
                "SELECT part, seq FROM audit_outbox WHERE seq > 10 OR part > 0 "
                "ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(0, 11), (0, 12), (1, 1), (0, 13), (0, 14)]
        verdict = verify(*await outbox_chain(engine))
        assert (verdict.problems, verdict.events, verdict.partitions, verdict.unanchored) == (
            [], 15, 2, 0)

        with pytest.raises(IntegrityError):  # an old replica cannot append out of order
            async with engine.begin() as conn:
                await old_record(conn, event(200))
    finally:
        await engine.dispose()

    env = {**clean_env, "HEXABOT_DATABASE_URL": empty_database_url}
    ok = run_cli(["audit", "verify"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0] == "audit chain intact: 15 events in the Postgres outbox"
    assert ok.stdout.splitlines()[1].startswith("2 partitions, 1 anchors; newest anchor 1 (")
    conn = await asyncpg.connect(empty_database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("UPDATE audit_outbox SET event = jsonb_set(event::jsonb, "
                           "'{outcome}', '\"denied\"')::json WHERE part = 0 AND seq = 5")
        await conn.execute("DELETE FROM audit_outbox WHERE part = 1")
    finally:
        await conn.close()
    bad = run_cli(["audit", "verify"], env, tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("partition 0 seq 5: content does not match its hash (edited "
                               "event ")
    assert lines[1] == ("partition 1 seq 1..1: missing, though anchor 1 recorded the partition "
                        "up to seq 1 (events deleted from its tail)")
