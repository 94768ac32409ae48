"""Session-wide real services and per-test databases.

Every test that touches PostgreSQL gets a database of its own on one shared server (embedded,
or ``HEXABOT_TEST_DATABASE_URL``), dropped afterwards.  ClickHouse starts once, on first use.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrate
from app.database import asyncpg_url, drop_database, ensure_database
from tests.sandbox_support import ThreadedSandbox
from tests.services import ClickHouse, ServiceError, postgres_admin_url, start_clickhouse
from tools import tracing

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, server = postgres_admin_url(tmp_path_factory.mktemp("postgres"))
    yield url
    if server is not None:
        server.cleanup()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url: str) -> str:
    """A database migrated to head once per session, copied for each test (much faster than
    running every migration again)."""
    admin = asyncpg_url(pg_admin_url)
    name = f"template_{uuid.uuid4().hex[:12]}"

    async def make() -> None:
        await ensure_database(admin, name)
        engine = create_async_engine(admin.set(database=name).render_as_string(
            hide_password=False))
        try:
            await migrate.migrate(engine)
        finally:
            await engine.dispose()  # a template may have no connections when it is copied

    asyncio.run(make())
    return name


@pytest.fixture
async def database_url(pg_admin_url: str, migrated_template: str) -> AsyncIterator[str]:
    """A fresh database for this test, already migrated to head (asyncpg URL string)."""
    admin = asyncpg_url(pg_admin_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(
        hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    finally:
        await conn.close()
    yield admin.set(database=name).render_as_string(hide_password=False)
    await drop_database(admin, name)


@pytest.fixture
async def empty_database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A fresh, empty database (never migrated) for this test."""
    admin = asyncpg_url(pg_admin_url)
    name = f"e_{uuid.uuid4().hex[:12]}"
    await ensure_database(admin, name)
    yield admin.set(database=name).render_as_string(hide_password=False)
    await drop_database(admin, name)


@pytest.fixture(scope="session")
def clickhouse() -> Iterator[ClickHouse]:
    try:
        server = start_clickhouse()
    except ServiceError as exc:
        pytest.fail(f"ClickHouse is required for this test and could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no HEXABOT_* settings, a private data dir and no .env file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEXABOT_")}
    env["HEXABOT_DATA_DIR"] = str(tmp_path / "data")
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run the real `hexabot` entrypoint in a subprocess, in ``cwd`` (no stray .env)."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[ThreadedSandbox]:
    """The demo cluster, fresh for each test, with fast controllers."""
    sb = ThreadedSandbox(None, tmp_path, pod_start_delay=0.05, job_run_seconds=0.1).start()
    sb.settle(0.1)  # seeded workloads without a status are reconciled first
    yield sb
    sb.stop()


@pytest.fixture
def recorded_spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans of this test only, in memory (the process-wide provider is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", lambda: provider.get_tracer(tracing.NAME))
    yield exporter
    provider.shutdown()
