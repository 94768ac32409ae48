"""The chat API's gate: a pure ASGI middleware that checks the Bearer token before a single
body byte is read, and counts the body's bytes as they stream in.

Why here and not in a FastAPI dependency: FastAPI reads and parses the whole body before it
resolves a route's dependencies, so a token checked there is checked after an anonymous
caller's body is in memory; and ``Content-Length`` is only a claim (a chunked body has none).
The gate verifies the token from the headers alone (every path but the OpenAPI document) and
hands the verified claims on in ``scope["state"]`` (:func:`verified`), so routes never verify
twice.  A refusal (401, or 413 for a declared length over the cap) is sent before the app
runs, with ``Connection: close`` so the server drops the unread body instead of draining it.
A body that passes the cap while streaming is answered 413 at that chunk, unless the app has
already started its response: then nothing of the gate's is sent (two responses on one
request would corrupt it) and the app only learns that the body ended (:class:`BodyTooLarge`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.auth import TokenVerifier, Unauthorized

CLAIMS = "hexabot.claims"
NOT_CONFIGURED = ("internal tokens are not configured here "
                  "(HEXABOT_API_TOKEN_PUBLIC_KEY_FILE or HEXABOT_API_TOKEN_JWKS_URL)")


class BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passes the cap; the gate answers."""


def verified(scope: Scope) -> dict[str, Any] | None:
    """The claims the gate verified for this request; None when no gate ran (deny then)."""
    found = scope.get("state", {}).get(CLAIMS)
    return found if isinstance(found, dict) else None


def too_large(cap: int) -> str:
    return f"the body is over {cap // 1024} KB"


async def refuse(send: Send, status: int, code: str, message: str,
                 headers: Collection[tuple[bytes, bytes]] = ()) -> None:
    """The API's one error shape, and the connection closed after it."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """Token first, then a bounded body, for every path not in ``open_paths``."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, max_body: int,
                 open_paths: Collection[str] = ()) -> None:
        self.app, self.verifier, self.max_body = app, verifier, max_body
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self.verifier.configured:
            await refuse(send, 401, "unauthorized", NOT_CONFIGURED)
            return
        try:
            claims = await self.verifier.claims(headers.get("authorization"))
        except Unauthorized as exc:
            await refuse(send, 401, "unauthorized", str(exc),
                         [(b"www-authenticate", b"Bearer")])
            return
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body:
            await refuse(send, 413, "too_large", too_large(self.max_body))
            return
        scope = {**scope, "state": {**scope.get("state", {}), CLAIMS: claims}}
        body = _Body(receive, send, self.max_body)
        try:
            await self.app(scope, body.receive, body.send)
        except BodyTooLarge:
            if not body.refused:
                raise
            # The 413 went out (or the app's own response had started): nothing more to say.


class _Body:
    """One request's byte count, and who has answered it."""

    def __init__(self, receive: Receive, send: Send, cap: int) -> None:
        self._receive, self._send, self.cap = receive, send, cap
        self.received = 0
        self.started = False   # a response start has gone out (the app's or ours)
        self.refused = False   # the body passed the cap
        self.answered = False  # the gate sent the 413; the app's own messages are dropped

    async def receive(self) -> Message:
        if self.refused:
            raise BodyTooLarge(too_large(self.cap))
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.cap:
                self.refused = True
                if not self.started:
                    self.started = self.answered = True
                    await refuse(self._send, 413, "too_large", too_large(self.cap))
                raise BodyTooLarge(too_large(self.cap))
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
