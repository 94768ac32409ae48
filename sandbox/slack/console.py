"""The web console: a Slack-like page over the emulator, for the demo and the browser test.

Routes (on the emulator's server): ``/`` the page; ``/console/state?user=U`` what that person
sees (their channels and DMs, messages with threads, their ephemeral messages); POSTs to
``/console/say``, ``/console/click`` and ``/console/slash`` act as that person through the same
paths a real Slack client would trigger (Socket Mode envelopes to the bot).

The page renders Block Kit and mrkdwn as Slack does, so the demo shows what Slack will show;
message content is untrusted there: it reaches the page only as text or as http(s) URLs.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from aiohttp import web

from sandbox.slack.server import SlackEmulator
from sandbox.slack.state import BOT_USER


def mount(emulator: SlackEmulator) -> None:
    page = resources.files("sandbox.slack").joinpath("console.html").read_text()
    state = emulator.state

    async def index(_: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    def visible(user: str) -> dict[str, Any]:
        conversations = []
        for c in state.conversations.values():
            if user not in c.members:
                continue
            title = f"#{c.name}" if not c.is_im else "Hexabot (DM)"
            conversations.append({"id": c.id, "title": title, "im": c.is_im,
                                  "messages": state.history(c.id)})
        return {"me": user, "bot": BOT_USER,
                "users": [{"id": u.id, "name": u.name} for u in state.users.values()
                          if not u.is_bot],
                "channels": [{"id": c.id, "name": c.name} for c in state.conversations.values()
                             if not c.is_im],  # <#C…> shows #name, as in Slack
                "conversations": conversations,
                "ephemeral": [e for e in state.ephemeral if e["user"] == user]}

    async def current(request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if user not in state.users:
            raise web.HTTPNotFound(text=f"no user {user}")
        state.im_with(user)
        return web.json_response(visible(user))

    async def say(request: web.Request) -> web.Response:
        body = await request.json()
        message = await emulator.say(body["user"], body["channel"], body["text"],
                                     body.get("thread_ts") or None)
        return web.json_response({"ok": True, "ts": message["ts"]})

    async def click(request: web.Request) -> web.Response:
        body = await request.json()
        await emulator.click(body["user"], body["channel"], body["ts"], body["action_id"],
                             body.get("value", ""))  # Slack buttons may have no value
        return web.json_response({"ok": True})

    async def slash(request: web.Request) -> web.Response:
        body = await request.json()
        await emulator.slash(body["user"], body["channel"], body["text"])
        return web.json_response({"ok": True})

    emulator.app.router.add_get("/", index)
    emulator.app.router.add_get("/console/state", current)
    emulator.app.router.add_post("/console/say", say)
    emulator.app.router.add_post("/console/click", click)
    emulator.app.router.add_post("/console/slash", slash)
