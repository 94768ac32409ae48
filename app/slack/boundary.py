"""Slack's one error boundary: Bolt's global error handler answers every failed listener.

Listeners let anything they cannot word themselves escape; here it becomes an answer to the
person who acted (:mod:`app.failures` words it), with the request id:

- a DM or mention: the "working…" placeholder (recorded in the Bolt context by the listener)
  is replaced; failed before it was posted, the answer is posted where they asked;
- a button click: an ephemeral message to the clicker (a DM when clicked in App Home);
- a slash command: an ephemeral response;
- App Home: the home view says it.

A request id is stamped on every request by :func:`stamp` (the agent replaces it with its
turn's id once a turn starts, so the answer, the logs and the audit trail agree).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from app import failures
from app.slack import render
from tools.context import request_id

log = logging.getLogger("hexabot.slack")
WORKING = "working"  # the context key of the placeholder: (channel, ts)


async def stamp(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:
    """Middleware: a fresh request id for each request from Slack."""
    context["request_id"] = fresh = uuid.uuid4().hex[:12]
    request_id.set(fresh)
    return await next()


async def on_error(error: Exception, body: dict[str, Any], context: AsyncBoltContext,
                   client: AsyncWebClient) -> None:
    """The global error handler: word the failure once, answer the person, never raise."""
    failure = failures.report(error, f"slack {body.get('type', '?')}",
                              request_id.get() or context.get("request_id"))
    text = failure.text()
    try:
        await _answer(body, context, client, text)
    except (SlackClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        # Slack itself may be what is down: the failure is logged above; this is not.
        log.warning("could not answer a failed Slack request (request id %s): %r",
                    failure.request_id, exc)


async def _answer(body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient,
                  text: str) -> None:
    blocks = render.notice(text)
    working = context.get(WORKING)
    if working is not None:
        channel, ts = working
        await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        return
    kind = body.get("type")
    if kind == "block_actions":
        user = str(body["user"]["id"])
        channel = str((body.get("channel") or {}).get("id", ""))
        if channel:
            await client.chat_postEphemeral(channel=channel, user=user, text=text,
                                            blocks=blocks)
        else:  # App Home
            dm = await client.conversations_open(users=user)
            await client.chat_postMessage(channel=dm["channel"]["id"], text=text,
                                          blocks=blocks)
        return
    if "command" in body:
        respond = context.respond
        if respond is not None:
            await respond(text=text, blocks=blocks, response_type="ephemeral")
        return
    event = body.get("event") or {}
    if event.get("type") == "app_home_opened":
        await client.views_publish(user_id=str(event["user"]),
                                   view={"type": "home", "blocks": blocks})
    elif event.get("type") in ("message", "app_mention") and event.get("channel"):
        thread = None if event.get("channel_type") == "im" else (
            event.get("thread_ts") or event.get("ts"))
        await client.chat_postMessage(channel=str(event["channel"]), thread_ts=thread,
                                      text=text, blocks=blocks)
