"""`hexabot run`: the Bolt app in Socket Mode, the background work, until SIGTERM.

Needs ``HEXABOT_SLACK_BOT_TOKEN`` and ``HEXABOT_SLACK_APP_TOKEN``; ``HEXABOT_SLACK_API_URL``
points the Web API (and so the Socket Mode connection) elsewhere, e.g. at the local emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from app.api import serve as api_serve
from app.audit import clickhouse
from app.audit.shipper import Shipper
from app.background import run_background
from app.http import server
from app.services import Services, open_services
from app.settings import ConfigError, Settings
from app.slack import boundary, listeners, observe
from app.slack.dedupe import EventLog
from app.slack.deliver import SlackNotifier
from app.slack.observe import InFlight

log = logging.getLogger("hexabot.slack")


def build_app(services: Services, inflight: InFlight | None = None) -> AsyncApp:
    settings = services.settings
    if settings.slack_bot_token is None or settings.slack_app_token is None:
        raise ConfigError(["HEXABOT_SLACK_BOT_TOKEN and HEXABOT_SLACK_APP_TOKEN: both are "
                           "needed to connect to Slack in Socket Mode"])
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    app = AsyncApp(client=client, process_before_response=False,
                   request_verification_enabled=False)

    # every door's decisions (clicks, the chat API, the sweeper) now reach Slack
    services.decisions.notifier = SlackNotifier(services, client)
    app.middleware(boundary.stamp)
    app.error(boundary.on_error)  # the one boundary: every failed listener gets an answer
    listeners.register(app, services, EventLog(services.database.engine), inflight)
    return app


@contextlib.asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Services]:
    """Services, the Bolt app connected over Socket Mode, the HTTP side server and the
    background work.  Leaving the block is the graceful shutdown: readiness goes red, Socket
    Mode disconnects (Slack sends new events to the other replicas), the chat API finishes
    the requests it has and closes, listeners in flight get up to ``shutdown_timeout_seconds``
    to finish, the background work stops, the audit outbox is flushed to ClickHouse, then the
    HTTP side server closes."""
    async with open_services(settings) as services:
        inflight = InFlight()
        app = build_app(services, inflight)
        assert settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
        observe.count_acks(handler)
        stop, draining = asyncio.Event(), asyncio.Event()

        async def slack_connected() -> bool:
            return bool(await handler.client.is_connected())

        side = server.build(services, slack_connected, draining.is_set)
        async with server.serving(side, settings.http_host, settings.http_port) as url, \
                contextlib.AsyncExitStack() as api:
            services.http_url = url
            services.api_url = await api.enter_async_context(
                api_serve.chat_api(services))
            background = asyncio.create_task(run_background(
                services, stop, settings.sweep_interval_seconds))
            await handler.connect_async()
            try:
                yield services
            finally:
                draining.set()
                await handler.close_async()
                await api.aclose()  # the chat API stops taking requests, finishes its own
                if not await inflight.idle(settings.shutdown_timeout_seconds):
                    log.warning("shutting down with %d listener runs still in flight",
                                inflight.running)
                stop.set()
                await asyncio.wait_for(background, 30)
                await flush_audit(services)


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


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with connected(settings):
        log.info("connected to Slack at %s", settings.slack_api_url)
        await stop.wait()
