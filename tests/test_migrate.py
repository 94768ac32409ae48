"""Migrations: applied once, idempotent, safe when two processes start together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrate
from tests.conftest import run_cli


async def _versions(empty_database_url: str) -> list[str]:
    conn = await asyncpg.connect(empty_database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()


async def test_migrate_twice_is_a_no_op(
    empty_database_url: str, clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**clean_env, "HEXABOT_DATABASE_URL": empty_database_url}
    first = run_cli(["migrate"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migrated empty schema -> " in first.stdout
    second = run_cli(["migrate"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout
    assert await _versions(empty_database_url) == [migrate.head_revision()]


async def test_concurrent_migrations_do_not_race(empty_database_url: str) -> None:
    engines = [create_async_engine(empty_database_url) for _ in range(4)]
    try:
        states = await asyncio.gather(*(migrate.migrate(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(state.changed for state in states) == 1
    assert all(state.after == migrate.head_revision() for state in states)
    assert await _versions(empty_database_url) == [migrate.head_revision()]


async def test_concurrent_cli_processes(
    empty_database_url: str, clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**clean_env, "HEXABOT_DATABASE_URL": empty_database_url}
    results = await asyncio.gather(
        *(asyncio.to_thread(run_cli, ["migrate"], env, tmp_path) for _ in range(3)))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert sum("migrated empty schema" in r.stdout for r in results) == 1
    assert await _versions(empty_database_url) == [migrate.head_revision()]
