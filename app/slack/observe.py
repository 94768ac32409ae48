"""What the bot's operators watch in its Slack side: envelopes received and acknowledged (with
the ack latency Slack cares about), and the listener runs still in flight — which graceful
shutdown waits for.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from app.running import Running
from tools import metrics

Listener = TypeVar("Listener", bound=Callable[..., Awaitable[Any]])


class ListenerRuns(Running):
    """Counts listener runs (``tracked`` wraps a Bolt listener, keeping the argument names
    Bolt injects by); ``idle`` waits until none is running."""

    def tracked(self, listener: Listener) -> Listener:
        @functools.wraps(listener)
        async def run(*args: Any, **kwargs: Any) -> Any:
            with self.one():
                return await listener(*args, **kwargs)

        return run  # type: ignore[return-value]  # same signature, by functools.wraps


def count_acks(handler: AsyncSocketModeHandler) -> None:
    """Count envelopes and time each one's acknowledgement on the Socket Mode client."""
    client = handler.client
    received: dict[str, tuple[str, float]] = {}

    async def on_message(_: Any, message: dict[str, Any], __: str) -> None:
        envelope = message.get("envelope_id")
        if envelope:
            kind = str(message.get("type", "?"))
            received[str(envelope)] = (kind, time.monotonic())
            metrics.SLACK_EVENTS.labels(kind).inc()

    client.message_listeners.insert(0, on_message)  # type: ignore[arg-type]
    send = client.send_socket_mode_response

    async def timed_send(response: Any) -> None:
        envelope = response.envelope_id if hasattr(response, "envelope_id") else (
            response.get("envelope_id") if isinstance(response, dict) else None)
        await send(response)
        found = received.pop(str(envelope), None)
        if found is not None:
            kind, began = found
            metrics.SLACK_ACKS.labels(kind).inc()
            metrics.ACK_SECONDS.labels(kind).observe(time.monotonic() - began)

    client.send_socket_mode_response = timed_send  # type: ignore[method-assign]
