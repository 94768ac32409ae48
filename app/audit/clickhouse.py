"""The ClickHouse connection: the only module that imports ``clickhouse_driver``.

The driver is blocking, so every call here runs in a worker thread.  Statements must work on
ClickHouse 18.16 (Debian's) as well as current releases.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError

from app.migrate import PACKAGE, MigrationsMissing
from tools.errors import HexabotError

COLUMNS = ("event_id", "seq", "time", "time_ms", "kind", "actor", "outcome", "hexabase_user",
           "workspace", "namespace", "request_id", "session_id", "resource_kind",
           "resource_name", "confirmation_id", "confirmation_state", "approver", "error",
           "duration_ms", "api_audit_id", "event", "prev_hash", "hash", "workspace_id", "part")
ANCHOR_COLUMNS = ("seq", "time", "anchor", "prev_hash", "hash")
ADD_COLUMN = re.compile(r"^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(\w+)", re.I | re.M)


class ClickHouseUnavailable(HexabotError):
    """The server could not be reached or refused the statement."""

    code = "clickhouse_unavailable"
    dependency = "clickhouse"


def ddl_files() -> list[Traversable]:
    """``migrations/clickhouse/*.sql`` (shipped as ``hexabot_migrations/clickhouse``), in
    order; raises :class:`~app.migrate.MigrationsMissing`."""
    try:
        directory = resources.files(PACKAGE).joinpath("clickhouse")
        files = sorted((f for f in directory.iterdir() if f.name.endswith(".sql")),
                       key=lambda f: f.name)
    except (ModuleNotFoundError, OSError) as exc:
        raise MigrationsMissing(f"the ClickHouse DDL ({PACKAGE}/clickhouse) is not "
                                f"installed: {exc}") from exc
    if not files:
        raise MigrationsMissing(f"no ClickHouse DDL in {directory}")
    return files


def _client(url: str) -> Client:
    # The driver logs every failed connect at WARNING with a traceback; the failure is ours to
    # report, once, as ClickHouseUnavailable (the doors say it without a traceback).
    logging.getLogger("clickhouse_driver").setLevel(logging.ERROR)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("connect_timeout", "5")
    query.setdefault("send_receive_timeout", "30")
    return Client.from_url(urlunsplit(parts._replace(query=urlencode(query))))


def _execute(url: str, statement: str, params: Any = None) -> Any:
    client = _client(url)
    try:
        return client.execute(statement, params)
    except (DriverError, OSError, EOFError) as exc:
        raise ClickHouseUnavailable(str(exc) or type(exc).__name__) from exc
    finally:
        client.disconnect()


async def execute(url: str, statement: str, params: Any = None) -> Any:
    return await asyncio.to_thread(_execute, url, statement, params)


async def server_version(url: str) -> str:
    """The server's version string; raises :class:`ClickHouseUnavailable`."""
    rows = await execute(url, "SELECT version()")
    return str(rows[0][0])


async def apply_ddl(url: str) -> list[str]:
    """Apply every ``migrations/clickhouse/*.sql`` (each is idempotent: ``CREATE … IF NOT
    EXISTS``, or an ``ALTER TABLE t ADD COLUMN c`` skipped when ``c`` exists — 18.16 has no
    ``ADD COLUMN IF NOT EXISTS``); returns their names."""
    applied = []
    for path in ddl_files():
        statement = path.read_text()
        adds = ADD_COLUMN.search(statement)
        if adds is not None and await execute(
                url, "SELECT count() FROM system.columns WHERE database = currentDatabase() "
                     "AND table = %(table)s AND name = %(column)s",
                {"table": adds.group(1), "column": adds.group(2)}) != [(0,)]:
            continue
        await execute(url, statement)
        applied.append(path.name)
    return applied


async def existing_ids(url: str, event_ids: Sequence[str]) -> set[str]:
    if not event_ids:
        return set()
    rows = await execute(url, "SELECT event_id FROM audit_events WHERE event_id IN %(ids)s",
                         {"ids": tuple(event_ids)})
    return {str(r[0]) for r in rows}


async def insert_events(url: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        await execute(url, f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES", list(rows))


async def existing_anchors(url: str, seqs: Sequence[int]) -> set[int]:
    if not seqs:
        return set()
    rows = await execute(url, "SELECT seq FROM audit_anchors WHERE seq IN %(seqs)s",
                         {"seqs": tuple(seqs)})
    return {int(r[0]) for r in rows}


async def insert_anchors(url: str, rows: Sequence[tuple[Any, ...]]) -> None:
    if rows:
        await execute(url, f"INSERT INTO audit_anchors ({', '.join(ANCHOR_COLUMNS)}) VALUES",
                      list(rows))


async def query_events(url: str, user: str | None, workspace_id: str | None,
                       since: datetime | None, limit: int,
                       workspace: str | None = None,
                       namespaces: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
    conditions: list[str] = ["1 = 1"]
    params: dict[str, Any] = {"limit": limit}
    if user:
        conditions.append("actor = %(user)s")
        params["user"] = user
    if workspace_id:
        conditions.append("workspace_id = %(workspace_id)s")
        params["workspace_id"] = workspace_id
    if workspace:
        conditions.append("workspace = %(workspace)s")
        params["workspace"] = workspace
    if namespaces is not None:
        conditions.append("namespace IN %(namespaces)s" if namespaces else "0 = 1")
        params["namespaces"] = tuple(namespaces)
    if since:
        conditions.append("time >= %(since)s")
        params["since"] = since.replace(tzinfo=None)
    rows = await execute(url, "SELECT seq, prev_hash, hash, event FROM audit_events FINAL "
                              f"WHERE {' AND '.join(conditions)} "
                              "ORDER BY time DESC, time_ms DESC, seq DESC "
                              "LIMIT %(limit)s", params)
    return list(rows)


async def chain(url: str) -> list[tuple[Any, ...]]:
    """Every event as (part, seq, prev_hash, hash, event JSON), by partition and seq."""
    return list(await execute(url, "SELECT part, seq, prev_hash, hash, event "
                                   "FROM audit_events FINAL ORDER BY part, seq"))


async def anchors(url: str) -> list[tuple[Any, ...]]:
    """Every anchor as (seq, prev_hash, hash, anchor JSON), by seq."""
    return list(await execute(url, "SELECT seq, prev_hash, hash, anchor "
                                   "FROM audit_anchors FINAL ORDER BY seq"))
