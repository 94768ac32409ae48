"""The floor for Slack ack latency: the smallest Bolt app in Socket Mode, as bolt-python's own
examples write it (an ``AsyncApp`` whose message listener answers "ok": one Web API call per
message, as a bot's answer makes), run in its own process against the same emulator under the
same load as Hexabot (``bench/bench_slack.py``).

Usage: python -m bench.floor_bolt API_URL BOT_TOKEN APP_TOKEN
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


async def main(api_url: str, bot_token: str, app_token: str) -> None:
    app = AsyncApp(client=AsyncWebClient(token=bot_token, base_url=api_url),
                   request_verification_enabled=False)

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        if not event.get("bot_id"):
            await say("ok")  # one Web API call per message, as a bot's answer makes

    await AsyncSocketModeHandler(app, app_token).start_async()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
