"""What operators and Kubernetes ask the process: is it alive, may it take traffic, what has it
done.

- ``GET /healthz`` — the process and its event loop answer (liveness).
- ``GET /readyz`` — Slack connected (``hexabot run`` only), database reachable, migrations at
  head, not shutting down (readiness): 200 when all hold, else 503; the JSON names each check,
  lists what is ``down`` and says for each failing dependency what that means for users
  (``impact``, :mod:`app.failures`).  ClickHouse, when configured, is reported but not required
  (audit events wait in the outbox).  The Kubernetes API is not a check: clusters are per user,
  and a cluster that is down must not take the bot out of rotation (it still answers, saying so;
  see the API error metrics).
- ``GET /metrics`` — prometheus-client's ASGI app over ``tools.metrics.REGISTRY``; the
  confirmation and outbox gauges are read from Postgres at each scrape, before the page is
  rendered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import make_asgi_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from app import failures, migrate
from app.audit import clickhouse
from app.audit.shipper import OutboxMissing, backlog
from app.database import DatabaseUnavailable
from app.services import Services
from tools import metrics

CHECK_SECONDS = 3.0
IMPACT = {"database": failures.DEPENDENCIES["postgres"][1],
          "clickhouse": failures.DEPENDENCIES["clickhouse"][1],
          "slack": "Slack messages, clicks and commands are not received; the chat API and "
                   "the CLI keep working."}

SlackConnected = Callable[[], Awaitable[bool]]


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


async def refresh_gauges(services: Services) -> None:
    """Read the confirmation and outbox gauges from Postgres (left as they were when it is
    down: the counters still answer, and /readyz says the database is down)."""
    try:
        for state, count in (await services.confirmations.store.count_by_state()).items():
            metrics.CONFIRMATIONS.labels(state).set(count)
        waiting, oldest = await backlog(services.database.engine)
    except (SQLAlchemyError, OSError, OutboxMissing):
        return
    metrics.OUTBOX_SIZE.set(waiting)
    metrics.OUTBOX_LAG.set(oldest or 0.0)


class MetricsPage:
    """prometheus-client's ASGI app, with the Postgres-read gauges refreshed first."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.page = make_asgi_app(metrics.REGISTRY)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await refresh_gauges(self.services)
        await self.page(scope, receive, send)


def routes(services: Services, slack_connected: SlackConnected | None,
           draining: Callable[[], bool]) -> list[BaseRoute]:
    """``/healthz``, ``/readyz`` and ``/metrics`` (``slack_connected``: None where the process
    has no Slack connection to report, as ``hexabot serve-api``)."""

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        database_ok, database = await _database(services)
        stopping = draining()
        checks: dict[str, dict[str, object]] = {}
        if slack_connected is not None:
            slack_ok = await slack_connected()
            checks["slack"] = {"ok": slack_ok,
                               "detail": "connected" if slack_ok else "not connected"}
        checks["database"] = {"ok": database_ok, "detail": database}
        checks["shutdown"] = {"ok": not stopping,
                              "detail": "draining" if stopping else "running"}
        if services.settings.clickhouse_url is not None:
            clickhouse_ok, detail = await _clickhouse(
                services.settings.clickhouse_url.get_secret_value())
            checks["clickhouse"] = {"ok": clickhouse_ok, "detail": detail, "required": False}
        down = [name for name, check in checks.items() if not check["ok"] and name != "shutdown"]
        for name in down:
            if name in IMPACT:
                checks[name]["impact"] = IMPACT[name]
        ready = all(bool(c["ok"]) for c in checks.values() if c.get("required", True))
        return JSONResponse({"ready": ready, "checks": checks, "down": down},
                            status_code=200 if ready else 503)

    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", MetricsPage(services), methods=["GET"])]
