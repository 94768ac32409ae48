"""The OAuth callback route (``GET /oauth/callback?code=…&state=…``).

Part of the process's one HTTP app (:mod:`app.http.site`), and served alone by
``hexabot login --wait`` for terminal use.  It answers a small HTML page; the user only ever
sees a success line or the reason it failed.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.identity.hexabase import HexabaseError, Linked, LinkFailed, LinkFlow

CALLBACK_PATH = "/oauth/callback"


def _page(title: str, text: str, status: int) -> HTMLResponse:
    body = (f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status)


def route(flow: LinkFlow, on_linked: Callable[[Linked], None] | None = None) -> Route:
    """``GET /oauth/callback`` completing ``flow`` (``on_linked``: told of each link made)."""

    async def callback(request: Request) -> HTMLResponse:
        code, state = request.query_params.get("code"), request.query_params.get("state")
        if request.query_params.get("error"):
            return _page("Sign-in cancelled",
                         f"Hexabase said: {request.query_params['error']}", 400)
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

    return Route(CALLBACK_PATH, callback, methods=["GET"])
