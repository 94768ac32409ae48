"""The OAuth callback route (``GET /oauth/callback?code=…&state=…``).

Mounted by the bot's HTTP side server, and by ``hexabot login --wait`` for terminal use.  It
answers a small HTML page; the user only ever sees a success line or the reason it failed.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from aiohttp import web

from app.identity.hexabase import HexabaseError, Linked, LinkFailed, LinkFlow

CALLBACK_PATH = "/oauth/callback"


def _page(title: str, text: str, status: int) -> web.Response:
    body = (f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return web.Response(text=body, status=status, content_type="text/html")


def add_route(app: web.Application, flow: LinkFlow,
              on_linked: Callable[[Linked], None] | None = None) -> None:
    async def callback(request: web.Request) -> web.Response:
        code, state = request.query.get("code"), request.query.get("state")
        if request.query.get("error"):
            return _page("Sign-in cancelled", f"Hexabase said: {request.query['error']}", 400)
        if not code or not state:
            return _page("Sign-in failed", "The link is missing its code or state.", 400)
        try:
            linked = await flow.complete(state, code)
        except (LinkFailed, HexabaseError) as exc:
            return _page("Sign-in failed", str(exc), 400)
        if on_linked is not None:
            on_linked(linked)
        workspaces = ", ".join(linked.workspaces) or "none yet"
        return _page("Hexabot is linked",
                     f"Signed in as {linked.hexabase_user}. Workspaces: {workspaces}. "
                     "You can close this tab and go back to Slack.", 200)

    app.router.add_get(CALLBACK_PATH, callback)
