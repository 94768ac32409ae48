"""Graceful shutdown for the chat API inside the one HTTP app.

The HTTP server stays up until the very end of a shutdown (so ``/readyz`` can say ``draining``
and ``/healthz`` keeps the pod alive while work finishes); the chat API must not take new work
meanwhile.  :class:`Drain`, a pure ASGI wrapper around it, answers a request that arrives once
shutdown has begun with 503 ``shutting_down`` (``Retry-After``, ``Connection: close``: the
caller retries on another replica) and counts the requests still running, so shutdown can wait
for them (:meth:`Drain.idle`) before the background work stops and the audit is flushed.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.running import Running

REFUSAL = json.dumps({"error": {
    "code": "shutting_down",
    "message": "this replica is shutting down; try again (another one will answer)"}}).encode()


class Drain(Running):
    """Counts the requests running through ``app``; refuses new ones once ``draining()``."""

    def __init__(self, app: ASGIApp, draining: Callable[[], bool]) -> None:
        super().__init__()
        self.app, self.draining = app, draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.draining():
            await send({"type": "http.response.start", "status": 503, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(REFUSAL)).encode()),
                (b"retry-after", b"1"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": REFUSAL})
            return
        with self.one():
            await self.app(scope, receive, send)
