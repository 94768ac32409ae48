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


async def test_the_models_match_the_migrations(database_url: str) -> None:
    """`alembic check`: every table, column, nullability and index the code declares is what
    the migrations create, and nothing more or less."""
    engine = create_async_engine(database_url)
    try:
        await migrate.check(engine)
    finally:
        await engine.dispose()


async def test_a_drifted_model_is_named(database_url: str) -> None:
    import sqlalchemy as sa

    from app.schema import metadata

    drifted = sa.MetaData()  # a copy: the shared one stays as it is
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["user_context"].append_column(sa.Column("nickname", sa.Text))
    engine = create_async_engine(database_url)
    try:
        try:
            await migrate.check(engine, drifted)
        except migrate.SchemaDrift as exc:
            assert "user_context" in str(exc) and "nickname" in str(exc)
        else:
            raise AssertionError("a column the migrations lack was not reported")
    finally:
        await engine.dispose()
