"""The process's one ASGI application: the probes (:mod:`app.http.probes`), the OAuth callback
(:mod:`app.identity.callback`, when Hexabase login is configured) and, when the process serves
it, the chat API — every path under ``/api/`` goes to the chat API untouched (its own gate,
error boundary and error shape), every other path to the Starlette routes here (404 for
anything unknown).  With a chat API socket of its own, that socket serves only ``/api/``.

This module composes what it is given; it imports no door (neither :mod:`app.slack` nor
:mod:`app.api`): the chat API arrives as an ASGI app from the composition root (:mod:`app.run`).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.http import probes
from app.identity import callback
from app.services import Services

API_PREFIX = "/api/"


class _Split:
    """``/api/…`` to the chat API, the rest to the side routes — on the ``side_ports`` only,
    when given: the chat API's own socket (published to the platform's clients) answers 404
    for the probes, metrics and callback, which stay on the operators' port."""

    def __init__(self, api: ASGIApp, side: ASGIApp, side_ports: set[int] | None) -> None:
        self.api, self.side, self.side_ports = api, side, side_ports
        self.hidden = PlainTextResponse("Not Found", status_code=404)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and str(scope["path"]).startswith(
                API_PREFIX):
            await self.api(scope, receive, send)
        elif self.side_ports is None or (scope.get("server") or ("", 0))[1] in self.side_ports:
            await self.side(scope, receive, send)
        else:
            await self.hidden(scope, receive, send)


def build(services: Services, *, api: ASGIApp | None = None,
          slack_connected: probes.SlackConnected | None = None,
          draining: Callable[[], bool] = lambda: False,
          side_ports: set[int] | None = None) -> ASGIApp:
    """The app (``api``: the chat API, None when this process does not serve it;
    ``slack_connected``: None when the process has no Slack connection to report;
    ``side_ports``: the local ports that serve the side routes, filled in by the caller once
    its sockets are bound — None: every port)."""
    routes = probes.routes(services, slack_connected, draining)
    if services.link_flow is not None:
        routes.append(callback.route(services.link_flow))
    side = Starlette(routes=routes)
    return side if api is None else _Split(api, side, side_ports)
