"""The ClickHouse connection: the only module that imports ``clickhouse_driver``.

The driver is blocking, so every call here runs in a worker thread.  Statements must work on
ClickHouse 18.16 (Debian's) as well as current releases.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError


class ClickHouseUnavailable(Exception):
    """The server could not be reached or refused the statement."""


def _client(url: str) -> Client:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("connect_timeout", "5")
    query.setdefault("send_receive_timeout", "10")
    return Client.from_url(urlunsplit(parts._replace(query=urlencode(query))))


def _server_version(url: str) -> str:
    client = _client(url)
    try:
        rows = client.execute("SELECT version()")
    except (DriverError, OSError, EOFError) as exc:
        raise ClickHouseUnavailable(str(exc) or type(exc).__name__) from exc
    finally:
        client.disconnect()
    return str(rows[0][0])


async def server_version(url: str) -> str:
    """The server's version string; raises :class:`ClickHouseUnavailable`."""
    return await asyncio.to_thread(_server_version, url)
