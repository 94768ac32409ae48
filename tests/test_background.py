"""Background work: recovery on start, the expiry sweeper and the shipper, until stopped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from app.audit.clickhouse import apply_ddl
from app.background import run_background
from app.services import open_services
from app.settings import load_settings
from confirmations.model import State
from tests.confirm_support import DIRECTORY
from tests.sandbox_support import ThreadedSandbox
from tests.services import ClickHouse


async def test_background_sweeps_expired_actions_and_ships_events(
        database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
        clickhouse: ClickHouse) -> None:
    database = "bg_" + tmp_path.name.replace("-", "_")[-24:]
    clickhouse.query(f"CREATE DATABASE IF NOT EXISTS {database}")
    url = f"clickhouse://default@127.0.0.1:{clickhouse.tcp_port}/{database}"
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    settings = load_settings(database_url=database_url, directory_file=directory,
                             clickhouse_url=url)
    await apply_ddl(url)
    async with open_services(settings) as services:
        ctx = await services.identity.context("alice", namespace="shop-staging")
        action = await services.confirmations.propose(ctx, "scale_deployment",
                                                      {"name": "web-app", "replicas": 2})
        async with services.database.engine.begin() as conn:
            await conn.execute(text("UPDATE pending_actions SET expires_at = :t"),
                               {"t": datetime.now(UTC) - timedelta(seconds=1)})
        stop = asyncio.Event()
        task = asyncio.create_task(run_background(services, stop, interval=0.2))
        deadline = asyncio.get_running_loop().time() + 15
        while asyncio.get_running_loop().time() < deadline:
            current = await services.confirmations.store.get(action.id)
            shipped = clickhouse.query(f"SELECT count() FROM {database}.audit_events").strip()
            if current and current.state is State.EXPIRED and shipped == "3":
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 10)
    assert current is not None and current.state is State.EXPIRED
    assert shipped == "3"  # the policy ruling, the proposal and its expiry, in ClickHouse
