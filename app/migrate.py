"""Apply the Alembic revisions in ``migrations/`` to the configured PostgreSQL.

The revisions ship inside the wheel as the package ``hexabot_migrations`` (the repository's
top-level ``migrations/``, mapped by ``setup.py``), found with :mod:`importlib.resources`, so a
checkout, an editable install, a wheel in any venv and the image all read the same files.

Two processes may start at once (two replicas, or ``hexabot run`` beside ``hexabot migrate``).
The upgrade runs inside one transaction that first takes ``pg_advisory_xact_lock``: the second
process waits, then finds the schema at head and does nothing.  PostgreSQL DDL is
transactional, so a failed revision leaves the schema as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import DatabaseUnavailable
from tools.errors import HexabotError

PACKAGE = "hexabot_migrations"  # the repository's migrations/, installed under this name
LOCK_KEY = 0x48455841  # "HEXA": the one advisory lock key for schema changes

if TYPE_CHECKING:  # Alembic is imported where it is used: half a second most calls never need
    from alembic.config import Config


@dataclass(frozen=True)
class MigrationState:
    before: str | None
    after: str | None
    head: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


class MigrationsMissing(HexabotError):
    """The installation lacks its Alembic revisions, or they cannot be read."""

    code = "migrations_missing"


def migrations_dir() -> Path:
    """The directory of ``env.py`` and ``versions/``; raises :class:`MigrationsMissing`."""
    try:
        root = resources.files(PACKAGE)
    except ModuleNotFoundError as exc:
        raise MigrationsMissing(
            f"the package {PACKAGE!r} (Alembic migrations) is not installed; "
            "reinstall Hexabot from its wheel or checkout") from exc
    if not isinstance(root, Path) or not (root / "env.py").is_file():
        raise MigrationsMissing(f"Alembic migrations not found in {root} (no env.py); "
                                "reinstall Hexabot from its wheel or checkout")
    return root


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_current_head()
    except CommandError as exc:
        raise MigrationsMissing(f"the Alembic revisions in {migrations_dir()} are unusable: "
                                f"{exc}") from exc


def _current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(conn: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable(f"cannot read the schema version: {exc}") from exc


async def migrate(engine: AsyncEngine) -> MigrationState:
    """Bring the schema to head under the advisory lock; idempotent.  A schema already at head
    (every start but the first after an upgrade) costs one read, no lock and no Alembic run."""
    head = head_revision()
    async with engine.connect() as conn:
        if await conn.run_sync(_current) == head:
            return MigrationState(before=head, after=head, head=head)
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        before = await conn.run_sync(_current)
        await conn.run_sync(_upgrade)
        after = await conn.run_sync(_current)
        await conn.commit()
    return MigrationState(before=before, after=after, head=head)
