"""The Slack door's running part: the Bolt app, connected to Slack in Socket Mode.

Needs ``HEXABOT_SLACK_BOT_TOKEN`` and ``HEXABOT_SLACK_APP_TOKEN``; ``HEXABOT_SLACK_API_URL``
points the Web API (and so the Socket Mode connection) elsewhere, e.g. at the local emulator.
What runs beside it in ``hexabot run`` (the HTTP app, the chat API, the background work) and
which notifier the decision service uses are the composition root's (:mod:`app.run`).
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from app.services import Services
from app.settings import ConfigError, Settings
from app.slack import boundary, listeners, observe
from app.slack.dedupe import EventLog
from app.slack.observe import ListenerRuns

log = logging.getLogger("hexabot.slack")


def web_client(settings: Settings) -> AsyncWebClient:
    """The bot's Web API client (answers 429 retried up to 3 times, after Retry-After)."""
    if settings.slack_bot_token is None:
        raise ConfigError(["HEXABOT_SLACK_BOT_TOKEN: needed to reach Slack's Web API"])
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client


def build_app(services: Services, inflight: ListenerRuns | None = None) -> AsyncApp:
    settings = services.settings
    if settings.slack_bot_token is None or settings.slack_app_token is None:
        raise ConfigError(["HEXABOT_SLACK_BOT_TOKEN and HEXABOT_SLACK_APP_TOKEN: both are "
                           "needed to connect to Slack in Socket Mode"])
    app = AsyncApp(client=web_client(settings), process_before_response=False,
                   request_verification_enabled=False)
    app.middleware(boundary.stamp)
    app.error(boundary.on_error)  # the one boundary: every failed listener gets an answer
    listeners.register(app, services, EventLog(services.database.engine), inflight)
    return app


class SocketMode:
    """The Bolt app over Socket Mode, its envelopes counted and its listener runs tracked."""

    def __init__(self, services: Services) -> None:
        self.settings = services.settings
        self.inflight = ListenerRuns()
        self.app = build_app(services, self.inflight)
        assert self.settings.slack_app_token is not None  # build_app refused otherwise
        self.handler = AsyncSocketModeHandler(self.app,
                                              self.settings.slack_app_token.get_secret_value())
        observe.count_acks(self.handler)

    @property
    def client(self) -> AsyncWebClient:
        return self.app.client

    async def connected(self) -> bool:
        return bool(await self.handler.client.is_connected())

    async def connect(self) -> None:
        await self.handler.connect_async()
        log.info("connected to Slack at %s", self.settings.slack_api_url)

    async def disconnect(self) -> None:
        """Close the connection: Slack sends new events to the other replicas."""
        await self.handler.close_async()

    async def idle(self, seconds: float) -> bool:
        """True when the listener runs in flight finished within ``seconds``."""
        if await self.inflight.idle(seconds):
            return True
        log.warning("shutting down with %d listener runs still in flight",
                    self.inflight.running)
        return False
