"""The HTTP side server that ``hexabot run`` starts beside Socket Mode (issue #10).

- ``GET /healthz`` — the process and its event loop answer (liveness).
- ``GET /readyz`` — Slack connected, database reachable, migrations at head (readiness): 200
  when all hold, else 503; the JSON names each check, lists what is ``down`` and says for each
  failing dependency what that means for users (``impact``, :mod:`app.failures`).  ClickHouse,
  when configured, is reported but not required (audit events wait in the outbox).  The
  Kubernetes API is not a check: clusters are per user, and a cluster that is down must not
  take the bot out of rotation (it still answers, saying so; see the API error metrics).
- ``GET /metrics`` — prometheus-client text (``tools.metrics``); the confirmation and outbox
  gauges are read from Postgres at each scrape.
- ``GET /oauth/callback`` — the Hexabase login callback, when that identity provider is used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import failures, migrate
from app.audit import clickhouse
from app.audit.shipper import OutboxMissing, backlog
from app.database import DatabaseUnavailable
from app.identity import callback
from app.services import Services
from tools import metrics

CHECK_SECONDS = 3.0
IMPACT = {"database": failures.DEPENDENCIES["postgres"][1],
          "clickhouse": failures.DEPENDENCIES["clickhouse"][1],
          "slack": "Slack messages, clicks and commands are not received; the chat API and "
                   "the CLI keep working."}


async def _clickhouse(url: str) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            version = await clickhouse.server_version(url)
    except (clickhouse.ClickHouseUnavailable, TimeoutError) as exc:
        return False, f"unreachable: {exc or type(exc).__name__}"
    return True, f"server {version}"


async def _database(services: Services) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            async with services.database.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            current = await migrate.current_revision(services.database.engine)
    except (SQLAlchemyError, OSError, TimeoutError, DatabaseUnavailable) as exc:
        return False, f"unreachable: {type(exc).__name__}"
    try:
        head = migrate.head_revision()
    except migrate.MigrationsMissing as exc:
        return False, str(exc)
    return current == head, (f"schema at head {head}" if current == head else
                             f"schema at {current or 'nothing'}, head is {head}")


def build(services: Services, slack_connected: Callable[[], Awaitable[bool]],
          draining: Callable[[], bool] = lambda: False) -> web.Application:
    app = web.Application()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        database_ok, database = await _database(services)
        slack_ok, stopping = await slack_connected(), draining()
        checks: dict[str, dict[str, object]] = {
            "slack": {"ok": slack_ok, "detail": "connected" if slack_ok else "not connected"},
            "database": {"ok": database_ok, "detail": database},
            "shutdown": {"ok": not stopping, "detail": "draining" if stopping else "running"}}
        if services.settings.clickhouse_url is not None:
            clickhouse_ok, detail = await _clickhouse(
                services.settings.clickhouse_url.get_secret_value())
            checks["clickhouse"] = {"ok": clickhouse_ok, "detail": detail, "required": False}
        down = [name for name, check in checks.items() if not check["ok"] and name != "shutdown"]
        for name in down:
            if name in IMPACT:
                checks[name]["impact"] = IMPACT[name]
        ready = all(bool(c["ok"]) for c in checks.values() if c.get("required", True))
        return web.json_response({"ready": ready, "checks": checks, "down": down},
                                 status=200 if ready else 503)

    async def metrics_page(_: web.Request) -> web.Response:
        try:
            for state, count in (await services.confirmations.store.count_by_state()).items():
                metrics.CONFIRMATIONS.labels(state).set(count)
            waiting, oldest = await backlog(services.database.engine)
            metrics.OUTBOX_SIZE.set(waiting)
            metrics.OUTBOX_LAG.set(oldest or 0.0)
        except (SQLAlchemyError, OSError, OutboxMissing):
            pass  # the counters still answer; /readyz says the database is down
        return web.Response(body=generate_latest(metrics.REGISTRY),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    if services.link_flow is not None:
        callback.add_route(app, services.link_flow)
    return app


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` for the ``with`` block; yields the base URL (port 0: a free one)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    try:
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()
