"""Apply the Alembic revisions in ``migrations/`` to the configured PostgreSQL.

Two processes may start at once (two replicas, or ``hexabot run`` beside ``hexabot migrate``).
The upgrade runs inside one transaction that first takes ``pg_advisory_xact_lock``: the second
process waits, then finds the schema at head and does nothing.  PostgreSQL DDL is
transactional, so a failed revision leaves the schema as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LOCK_KEY = 0x48455841  # "HEXA": the one advisory lock key for schema changes


@dataclass(frozen=True)
class MigrationState:
    before: str | None
    after: str | None
    head: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config() -> Config:
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise FileNotFoundError(
            f"Alembic migrations not found at {MIGRATIONS_DIR}; run Hexabot from its checkout "
            "or an image that ships migrations/"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def migrate(engine: AsyncEngine) -> MigrationState:
    """Bring the schema to head under the advisory lock; idempotent."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        before = await conn.run_sync(_current)
        await conn.run_sync(_upgrade)
        after = await conn.run_sync(_current)
        await conn.commit()
    return MigrationState(before=before, after=after, head=head_revision())
