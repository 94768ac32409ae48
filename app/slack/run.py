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
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from agents.orchestrator.engine import Run
from agents.orchestrator.runs import Owner
from app.background import run_background
from app.services import Services, open_services
from app.settings import ConfigError, Settings
from app.slack import listeners, render
from app.slack.dedupe import EventLog
from confirmations.model import PendingAction

log = logging.getLogger("hexabot.slack")


def build_app(services: Services) -> AsyncApp:
    settings = services.settings
    if settings.slack_bot_token is None or settings.slack_app_token is None:
        raise ConfigError(["HEXABOT_SLACK_BOT_TOKEN and HEXABOT_SLACK_APP_TOKEN: both are "
                           "needed to connect to Slack in Socket Mode"])
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    app = AsyncApp(client=client, process_before_response=False,
                   request_verification_enabled=False)

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:  # the one boundary
        log.error("unhandled error in a Slack listener (%s): %r", body.get("type"), error,
                  exc_info=error)

    listeners.register(app, services, EventLog(services.database.engine))
    return app


@contextlib.asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Services]:
    """Services, the Bolt app connected over Socket Mode, and the background work."""
    async with open_services(settings) as services:
        app = build_app(services)
        assert settings.slack_app_token is not None
        handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
        stop = asyncio.Event()

        async def expired(action: PendingAction) -> None:
            if action.slack_channel and action.slack_ts:
                await app.client.chat_update(channel=action.slack_channel, ts=action.slack_ts,
                                             text=f"expired: {action.plan.summary}",
                                             blocks=render.card(action))

        async def resumed(owner: Owner, run: Run) -> None:
            await listeners.post_run(app.client, owner, run)

        background = asyncio.create_task(run_background(services, stop, on_expired=expired,
                                                        on_resumed=resumed))
        await handler.connect_async()
        try:
            yield services
        finally:
            stop.set()
            await handler.close_async()
            await asyncio.wait_for(background, 30)


async def run(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with connected(settings):
        log.info("connected to Slack at %s", settings.slack_api_url)
        await stop.wait()
