"""The composition of the long-running processes: ``hexabot run`` (Socket Mode, the one HTTP
app with the chat API inside, the background work) and ``hexabot serve-api`` (the HTTP app
without Slack).

The doors never import each other (import-linter: "The doors are independent"); this module
wires them.  It installs Slack's notifier on the one decision service, so what follows a
proposal or a decision made through any door (a Slack click, the chat API, the sweeper) reaches
Slack, and hands the chat API to the HTTP app as a plain ASGI app.

Sockets: one uvicorn server and one ASGI app per process (:mod:`app.http.site`), on

- ``hexabot run``: ``HEXABOT_HTTP_HOST:HEXABOT_HTTP_PORT`` (default 8080), and, when the chat
  API is on (a platform token key is configured), ``HEXABOT_API_HOST:HEXABOT_API_PORT``
  (default 8081) as a second socket of the same server — unless ``HEXABOT_API_PORT`` equals
  ``HEXABOT_HTTP_PORT`` (not 0): then the one HTTP socket serves everything.  The HTTP socket
  serves every route (the probes and the ServiceMonitor use port ``http``); the chat API's
  own socket, published to the platform's clients, serves only ``/api/…``;
- ``hexabot serve-api``: ``HEXABOT_API_HOST:HEXABOT_API_PORT`` only, serving only ``/api/…``
  (a socket for the platform's clients publishes no probes, metrics or callback).

Graceful shutdown (leaving :func:`connected`): readiness goes red and the chat API refuses new
requests (503 ``shutting_down``), Socket Mode disconnects (Slack sends new events to the other
replicas), listener runs and chat API requests in flight get up to
``HEXABOT_SHUTDOWN_TIMEOUT_SECONDS`` to finish, the background work stops, the audit outbox is
flushed to ClickHouse, then the HTTP server closes (uvicorn's own shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from agents.memory import count_tokens
from app import collector
from app.api import routes as api_routes
from app.api import serve as api_serve
from app.audit import clickhouse
from app.audit.shipper import Shipper
from app.background import run_background
from app.http import server, site
from app.http.drain import Drain
from app.services import Services, open_services
from app.settings import Settings
from app.slack import run as slack_run
from app.slack.deliver import SlackNotifier

log = logging.getLogger("hexabot.run")


def binds(settings: Settings, api: bool) -> list[tuple[str, int]]:
    """The sockets of ``hexabot run`` (see the module docstring)."""
    found = [(settings.http_host, settings.http_port)]
    if api and not (settings.api_port and settings.api_port == settings.http_port):
        found.append((settings.api_host, settings.api_port))
    return found


async def warm_up() -> None:
    """Pay the one-time costs before the first envelope, not on the event loop while acks
    wait behind them: loading the tokenizer's encoding (0.1 s).  Collections are timed from
    here on (:mod:`app.collector`)."""
    collector.watch()
    await asyncio.to_thread(count_tokens, "")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _until_signalled() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


@contextlib.asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Services]:
    """Services, the Bolt app connected over Socket Mode, the HTTP app (with the chat API when
    it is on) and the background work; leaving the block is the graceful shutdown."""
    async with open_services(settings) as services:
        await warm_up()
        slack = slack_run.SocketMode(services)
        services.decisions.notifier = SlackNotifier(services, slack.client)
        stop, draining = asyncio.Event(), asyncio.Event()
        chat = api_serve.optional(services)
        door = Drain(chat, draining.is_set) if chat is not None else None
        side_ports: set[int] = set()  # the HTTP socket's, once bound: not the API socket's
        app = site.build(services, api=door, slack_connected=slack.connected,
                         draining=draining.is_set, side_ports=side_ports)
        async with server.serving(app, *binds(settings, door is not None),
                                  bound=lambda urls: side_ports.add(port_of(urls[0]))) as urls:
            services.http_url = urls[0]
            if door is not None:
                services.api_url = urls[-1]
                log.info("chat API at %s%s", urls[-1], api_routes.PREFIX)
            background = asyncio.create_task(run_background(
                services, stop, settings.sweep_interval_seconds))
            with collector.frozen():  # its one collection before Slack sends anything
                await slack.connect()
                try:
                    yield services
                finally:
                    draining.set()
                    await slack.disconnect()
                    seconds = settings.shutdown_timeout_seconds
                    await asyncio.gather(slack.idle(seconds), _api_idle(door, seconds))
                    stop.set()
                    await asyncio.wait_for(background, 30)
                    await flush_audit(services)


async def _api_idle(door: Drain | None, seconds: float) -> None:
    if door is not None and not await door.idle(seconds):
        log.warning("shutting down with %d chat API requests still running", door.running)


async def run(settings: Settings) -> None:
    """``hexabot run``: until SIGINT/SIGTERM."""
    stop = _until_signalled()
    async with connected(settings):
        await stop.wait()


@contextlib.asynccontextmanager
async def api_alone(services: Services) -> AsyncIterator[str]:
    """The HTTP app with the chat API and no Slack connection on
    ``HEXABOT_API_HOST:HEXABOT_API_PORT``, for the block; yields its URL."""
    settings = services.settings
    draining = asyncio.Event()
    door = Drain(api_serve.build(services), draining.is_set)
    app = site.build(services, api=door, draining=draining.is_set, side_ports=set())
    async with server.serving(app, (settings.api_host, settings.api_port)) as [url]:
        services.http_url = services.api_url = url
        log.info("chat API at %s%s", url, api_routes.PREFIX)
        try:
            with collector.frozen():
                yield url
        finally:
            draining.set()
            await _api_idle(door, settings.shutdown_timeout_seconds)


async def serve_api(settings: Settings) -> None:
    """``hexabot serve-api``: the chat API (and its Slack cards, when a bot token is set)
    until SIGINT/SIGTERM."""
    api_serve.require(settings)
    stop = _until_signalled()
    async with open_services(settings) as services:
        await warm_up()
        if settings.slack_bot_token is not None:
            services.decisions.notifier = SlackNotifier(services,
                                                        slack_run.web_client(settings))
        async with api_alone(services):
            await stop.wait()


async def flush_audit(services: Services) -> None:
    """Ship what the outbox still holds (when ClickHouse is configured and up)."""
    if services.settings.clickhouse_url is None:
        return
    shipper = Shipper(services.database.engine,
                      services.settings.clickhouse_url.get_secret_value())
    try:
        shipped = await shipper.drain()
    except clickhouse.ClickHouseUnavailable as exc:
        log.warning("audit not flushed at shutdown (it stays in the outbox): %s", exc)
        return
    log.info("flushed %d audit events to ClickHouse at shutdown", shipped)
