"""Alembic environment for Hexabot's PostgreSQL schema.

`hexabot migrate` (app/migrate.py) hands a live connection in ``config.attributes["connection"]``
while it holds the migration advisory lock.  Plain ``alembic`` runs (developers) build an async
engine from ``sqlalchemy.url`` or ``HEXABOT_DATABASE_URL`` instead.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("HEXABOT_DATABASE_URL")
    if not url:
        raise SystemExit("set HEXABOT_DATABASE_URL or sqlalchemy.url to run alembic directly")
    asyncio.run(_run_async(url.replace("postgresql://", "postgresql+asyncpg://", 1)))


main()
