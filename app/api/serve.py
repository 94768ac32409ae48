"""Serving the chat API with uvicorn inside the bot's event loop (``hexabot run``) or alone
(``hexabot serve-api``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI
from slack_sdk.web.async_client import AsyncWebClient

from app.api import routes
from app.services import Services, open_services
from app.settings import ConfigError, Settings
from app.slack.deliver import SlackNotifier

log = logging.getLogger("hexabot.api")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the bot's SIGTERM handler drives shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str, port: int) -> AsyncIterator[str]:
    """Serve ``app`` for the ``with`` block; yields its base URL (port 0: a free one)."""
    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None,
                                    lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it (e.g. the port is taken)
            raise RuntimeError("the chat API server stopped before it started")
        await asyncio.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def chat_api(services: Services) -> AsyncIterator[str]:
    """The chat API on ``HEXABOT_API_HOST:PORT`` when internal tokens are configured (yields
    its URL), else nothing is served (yields "")."""
    settings = services.settings
    if not (settings.api_token_public_key_file or settings.api_token_jwks_url):
        log.info("chat API off: no HEXABOT_API_TOKEN_PUBLIC_KEY_FILE or _JWKS_URL")
        yield ""
        return
    async with serving(routes.build(services), settings.api_host,
                       settings.api_port) as url:
        log.info("chat API at %s%s", url, routes.PREFIX)
        yield url


async def alone(settings: Settings) -> None:
    """`hexabot serve-api`: the API (and its Slack card updates, when a bot token is set)
    until SIGINT/SIGTERM."""
    if not (settings.api_token_public_key_file or settings.api_token_jwks_url):
        raise ConfigError(["HEXABOT_API_TOKEN_PUBLIC_KEY_FILE or HEXABOT_API_TOKEN_JWKS_URL: "
                           "the chat API accepts only the platform's signed tokens"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(),
                            base_url=settings.slack_api_url) if settings.slack_bot_token else None
    async with open_services(settings) as services:
        if client is not None:
            services.decisions.notifier = SlackNotifier(services, client)
        async with chat_api(services):
            await stop.wait()
