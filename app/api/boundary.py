"""The chat API's one error boundary: every failure is answered in the API's error shape.

A :class:`~tools.errors.HexabotError` that reaches a route's edge is mapped to its status (a
dependency down → 503, a refusal → 403, ...) by :func:`on_domain_error`, an exception handler;
anything else is caught by :class:`Boundary`, a pure ASGI middleware outside every other, and
answered 500 — as a middleware rather than an ``Exception`` handler because Starlette re-raises
after such a handler (the server would log the traceback a second time, without the request
id).  Both answer ``{"error": {"code", "message"}}`` with the request id in the message and in
``X-Request-Id``; :mod:`app.failures` words and logs it, once.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import failures
from app.identity.service import IdentityError
from tools import errors
from tools.context import request_id

STATUS: tuple[tuple[type[errors.HexabotError], int], ...] = (
    (errors.InvalidArguments, 400), (errors.Forbidden, 403), (errors.PlanRefused, 403),
    (IdentityError, 403), (errors.NotFound, 404), (errors.Conflict, 409),
    (errors.RateLimited, 429))


def status_of(failure: failures.Failure, exc: BaseException) -> int:
    if failure.dependency:
        return 503
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def answer(exc: BaseException) -> JSONResponse:
    failure = failures.report(exc, "chat api")
    headers = {"X-Request-Id": failure.request_id}
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(int(exc.retry_after))
    return JSONResponse({"error": {"code": failure.code, "message": failure.text()}},
                        status_code=status_of(failure, exc), headers=headers)


async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
    """The exception handler for :class:`~tools.errors.HexabotError`."""
    return answer(exc)


class Boundary:
    """Pure ASGI: an exception escaping the app becomes a 500 (or 503: PostgreSQL's driver
    errors count as the database being down) in the error shape, unless the response had
    already started (then nothing can be said; it is logged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id.set(uuid.uuid4().hex[:12])  # a turn replaces it with its own
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:  # noqa: BLE001 — the chat API's one boundary: worded, logged
            if started:
                failures.report(exc, "chat api (response already started)")
                return
            await answer(exc)(scope, receive, send)
