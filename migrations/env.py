"""Alembic environment for Hexabot's PostgreSQL schema.

`hexabot migrate` (app/migrate.py) hands a live connection in ``config.attributes["connection"]``
while it holds the migration advisory lock.  Plain ``alembic`` runs (developers) build an async
engine from ``sqlalchemy.url`` or ``HEXABOT_DATABASE_URL`` instead.

``target_metadata`` is every table the code declares (:mod:`app.schema`), so ``alembic check``
(:func:`app.migrate.check`, run by the tests) names any drift between models and migrations,
and ``alembic revision --autogenerate`` drafts the next migration from the models.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    target = config.attributes.get("target_metadata", metadata)  # a test may hand its own
    context.configure(connection=connection, target_metadata=target,
                      transaction_per_migration=False)
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
