"""A local Slack: the Web API and Socket Mode the real slack_bolt/slack_sdk talk to unmodified
(only their base URLs point here), plus the actions of people (say, click, /command, open App
Home) for tests and the web console.

Web API: JSON answers, Slack's error shapes (``{"ok": false, "error": …}``, HTTP 429 with
``Retry-After`` when a method is rate-limited on purpose), Block Kit validated with
slack_sdk's models plus Slack's limits (``invalid_blocks``).  Parameters are read from the query
string, form and JSON bodies alike, blocks as a list or a JSON string.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from sandbox.net import free_port
from sandbox.slack.socket import SocketHub
from sandbox.slack.state import APP_ID, BOT_ID, BOT_USER, TEAM, SlackState

BOT_TOKEN = "xoxb-hexabot-emulator"
APP_TOKEN = "xapp-hexabot-emulator"
MAX_BLOCKS = 50


class SlackError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def validate_blocks(blocks: Any) -> list[dict[str, Any]]:
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        raise SlackError("invalid_blocks")
    try:
        for block in blocks:
            parsed = Block.parse(block)
            if parsed is None:
                raise SlackError("invalid_blocks")
            parsed.to_dict()  # validates lengths and required fields
    except (SlackObjectFormationError, KeyError, TypeError, ValueError) as exc:
        raise SlackError("invalid_blocks") from exc
    return blocks


class SlackEmulator:
    def __init__(self, ack_timeout: float = 3.0) -> None:
        self.state = SlackState()
        self.hub = SocketHub(ack_timeout=ack_timeout)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rate_limited: dict[str, int] = {}  # method -> how many more calls get 429
        self.url = ""
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._api)
        self.app.router.add_get("/link/", self.hub.handle)
        self.app.router.add_post("/response/{channel}/{ts}/{user}", self._response_url)
        self.app.router.add_post("/upload/{file_id}", self._upload)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- Web API -------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": "1"})
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        wanted = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        try:
            body = handler(params)
        except SlackError as exc:
            return web.json_response({"ok": False, "error": exc.error})
        return web.json_response({"ok": True, **body})

    def _conversation(self, channel: Any) -> str:
        channel = str(channel or "")
        if channel in self.state.conversations:
            return channel
        if channel in self.state.users:  # posting to a user id opens the DM
            return self.state.im_with(channel).id
        raise SlackError("channel_not_found")

    def m_auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url + "/", "team": "Hexabase", "user": "hexabot", "team_id": TEAM,
                "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}

    def m_apps_connections_open(self, _: dict[str, Any]) -> dict[str, Any]:
        ws = self.url.replace("http://", "ws://")
        return {"url": f"{ws}/link/?ticket={self.hub.new_ticket()}"}

    def m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        conversation = self.state.conversations[channel]
        if not conversation.is_im and BOT_USER not in conversation.members:
            raise SlackError("not_in_channel")
        blocks = validate_blocks(p["blocks"]) if p.get("blocks") else None
        message = self.state.post(channel, BOT_USER, str(p.get("text") or ""), blocks,
                                  p.get("thread_ts") or None, bot=True)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        message = self.state.messages.get((channel, str(p.get("ts"))))
        if message is None:
            raise SlackError("message_not_found")
        if message.get("bot_id") != BOT_ID:
            raise SlackError("cant_update_message")
        if "blocks" in p:
            message["blocks"] = validate_blocks(p["blocks"]) if p["blocks"] else []
        if "text" in p:
            message["text"] = str(p["text"])
        message["edited"] = {"user": BOT_USER, "ts": self.state.next_ts()}
        return {"channel": channel, "ts": message["ts"], "text": message["text"]}

    def m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        blocks = validate_blocks(p["blocks"]) if p.get("blocks") else None
        ts = self.state.next_ts()
        self.state.ephemeral.append({"channel": channel, "user": str(p.get("user")), "ts": ts,
                                     "text": str(p.get("text") or ""), "blocks": blocks or [],
                                     "thread_ts": p.get("thread_ts")})
        return {"message_ts": ts}

    def m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        if self.state.messages.pop((channel, str(p.get("ts"))), None) is None:
            raise SlackError("message_not_found")
        return {"channel": channel, "ts": p.get("ts")}

    def m_reactions_add(self, p: dict[str, Any]) -> dict[str, Any]:
        self.state.reactions.append({"channel": p.get("channel"), "ts": p.get("timestamp"),
                                     "name": p.get("name")})
        return {}

    def m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.state.users.get(str(p.get("user")))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": {"id": user.id, "name": user.name, "real_name": user.real_name,
                         "is_bot": user.is_bot, "team_id": TEAM}}

    def m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.state.conversations[self._conversation(p.get("channel"))]
        return {"channel": {"id": c.id, "name": c.name, "is_im": c.is_im,
                            "is_member": BOT_USER in c.members}}

    def m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        users = str(p.get("users") or "").split(",")
        return {"channel": {"id": self.state.im_with(users[0]).id}}

    def m_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        return {"messages": self.state.thread(channel, str(p.get("ts"))), "has_more": False}

    def m_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        return {"messages": list(reversed(self.state.history(channel))), "has_more": False}

    def m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        view = json.loads(p["view"]) if isinstance(p.get("view"), str) else p.get("view") or {}
        if len(view.get("blocks") or []) > 100:
            raise SlackError("invalid_blocks")
        self.state.home_views[str(p.get("user_id"))] = view
        return {"view": {"id": "V" + uuid.uuid4().hex[:8].upper(), **view}}

    def m_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        """Step 1 of Slack's upload: a one-file URL that takes the bytes (no token needed)."""
        if not p.get("filename"):
            raise SlackError("invalid_arguments")
        try:
            length = int(p.get("length", ""))
        except ValueError as exc:
            raise SlackError("invalid_arguments") from exc
        file_id = "F" + uuid.uuid4().hex[:8].upper()
        self.state.files.append({"id": file_id, "filename": str(p["filename"]),
                                 "length": length, "content": None, "shared": None})
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2: the bytes; like Slack's, refused when they are not the announced length."""
        found = self._file(request.match_info["file_id"])
        content = await request.read()
        if found is None or found["content"] is not None or len(content) != found["length"]:
            return web.Response(status=400, text="bad upload")
        found["content"] = content
        return web.Response(text=f"OK - {len(content)}")

    def _file(self, file_id: str) -> dict[str, Any] | None:
        return next((f for f in self.state.files if f["id"] == file_id), None)

    def m_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        """Step 3: share the uploaded files in a channel (or thread) as one message."""
        entries = json.loads(p["files"]) if isinstance(p.get("files"), str) else p.get("files")
        if not entries:
            raise SlackError("invalid_arguments")
        shared = []
        for entry in entries:
            found = self._file(str(entry.get("id")))
            if found is None or found["content"] is None:
                raise SlackError("file_not_found")
            found["title"] = entry.get("title") or found["filename"]
            shared.append(found)
        public = [{"id": f["id"], "name": f["filename"], "title": f["title"],
                   "size": len(f["content"]),
                   "mimetype": "image/png" if f["content"].startswith(b"\x89PNG") else
                   "application/octet-stream"} for f in shared]
        if p.get("channel_id"):
            channel = self._conversation(p["channel_id"])
            message = self.state.post(channel, BOT_USER, str(p.get("initial_comment") or ""),
                                      None, p.get("thread_ts") or None, bot=True)
            message["files"] = public
            for f in shared:
                f["shared"] = (channel, message["ts"])
        return {"files": public}

    async def _response_url(self, request: web.Request) -> web.Response:
        """What Bolt's ``respond()`` posts to: replace the original, or answer ephemerally."""
        body = await request.json()
        channel, ts, user = (request.match_info[k] for k in ("channel", "ts", "user"))
        self.calls.append(("response_url", body))
        try:
            blocks = validate_blocks(body["blocks"]) if body.get("blocks") else []
        except SlackError as exc:
            return web.json_response({"ok": False, "error": exc.error})
        original = self.state.messages.get((channel, ts))
        if body.get("replace_original") and original is not None:
            original.update(text=str(body.get("text") or ""), blocks=blocks)
        elif body.get("response_type") == "in_channel":
            self.state.post(channel, BOT_USER, str(body.get("text") or ""), blocks, bot=True)
        else:
            self.state.ephemeral.append({"channel": channel, "user": user,
                                         "ts": self.state.next_ts(),
                                         "text": str(body.get("text") or ""), "blocks": blocks})
        return web.json_response({"ok": True})

    # -- people ----------------------------------------------------------------------------
    def _event(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"token": "emulator", "team_id": TEAM, "api_app_id": APP_ID, "event": event,
                "type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}

    async def say(self, user: str, channel: str, text: str,
                  thread_ts: str | None = None) -> dict[str, Any]:
        """A person writes: a DM becomes ``message.im``, a mention in a channel ``app_mention``."""
        conversation = self.state.conversations[self._conversation(channel)]
        message = self.state.post(conversation.id, user, text, None, thread_ts)
        event = {**message, "event_ts": message["ts"]}
        if conversation.is_im:
            event["channel_type"] = "im"
            await self.hub.deliver("events_api", self._event(event))
        elif f"<@{BOT_USER}>" in text:
            event["type"] = "app_mention"
            await self.hub.deliver("events_api", self._event(event))
        return message

    async def click(self, user: str, channel: str, message_ts: str, action_id: str,
                    value: str) -> dict[str, Any] | None:
        message = self.state.messages.get((channel, message_ts), {})
        payload = {
            "type": "block_actions", "team": {"id": TEAM}, "api_app_id": APP_ID,
            "user": {"id": user, "username": self.state.users[user].name, "team_id": TEAM},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                          **({"thread_ts": message["thread_ts"]}
                             if message.get("thread_ts") else {})},
            "channel": {"id": channel}, "message": message, "trigger_id": uuid.uuid4().hex,
            "response_url": f"{self.url}/response/{channel}/{message_ts}/{user}",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "actions",
                         "value": value, "text": {"type": "plain_text", "text": action_id},
                         "action_ts": self.state.next_ts()}]}
        return await self.hub.deliver("interactive", payload)

    async def slash(self, user: str, channel: str, text: str) -> dict[str, Any] | None:
        payload = {"token": "emulator", "team_id": TEAM, "channel_id": channel,
                   "user_id": user, "user_name": self.state.users[user].name,
                   "command": "/hexabot", "text": text, "api_app_id": APP_ID,
                   "response_url": f"{self.url}/response/{channel}/0/{user}",
                   "trigger_id": uuid.uuid4().hex}
        return await self.hub.deliver("slash_commands", payload)

    async def click_home(self, user: str, action_id: str, value: str) -> dict[str, Any] | None:
        """A person presses a button in their App Home (a view, not a message)."""
        view = self.state.home_views.get(user, {})
        payload = {
            "type": "block_actions", "team": {"id": TEAM}, "api_app_id": APP_ID,
            "user": {"id": user, "username": self.state.users[user].name, "team_id": TEAM},
            "container": {"type": "view", "view_id": view.get("id", "V0HOME")},
            "view": {"type": "home", **view}, "trigger_id": uuid.uuid4().hex,
            "actions": [{"type": "button", "action_id": action_id, "value": value,
                         "block_id": f"home-{value}",
                         "text": {"type": "plain_text", "text": action_id},
                         "action_ts": self.state.next_ts()}]}
        return await self.hub.deliver("interactive", payload)

    async def open_home(self, user: str) -> None:
        await self.hub.deliver("events_api", self._event({
            "type": "app_home_opened", "user": user, "channel": self.state.im_with(user).id,
            "tab": "home", "event_ts": self.state.next_ts()}))


@contextlib.asynccontextmanager
async def slack_emulator(host: str = "127.0.0.1", port: int = 0, ack_timeout: float = 3.0,
                         console: bool = True) -> AsyncIterator[SlackEmulator]:
    """Serve the emulator (and, by default, the web console at ``/``) on loopback."""
    port = port or free_port(host)
    emulator = SlackEmulator(ack_timeout)
    if console:
        from sandbox.slack import console as web_console  # the console builds on this module

        web_console.mount(emulator)
    runner = web.AppRunner(emulator.app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    emulator.url = f"http://{host}:{port}"
    try:
        yield emulator
    finally:
        for ws in list(emulator.hub.connections):
            await ws.close()
        await runner.cleanup()
