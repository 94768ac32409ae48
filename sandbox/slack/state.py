"""What the Slack emulator remembers: users, conversations, messages, ephemerals, App Home views.

Messages are keyed by (channel, ts) like Slack's; a thread is the messages whose ``thread_ts``
is the parent's ts.  Ephemeral messages are kept per user and never appear in history.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

BOT_USER = "UHEXABOT"
BOT_ID = "BHEXABOT"
TEAM = "THEXABASE"
APP_ID = "AHEXABOT"


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False


@dataclass
class Conversation:
    id: str
    name: str
    is_im: bool = False
    members: set[str] = field(default_factory=set)


@dataclass
class SlackState:
    users: dict[str, User] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemeral: list[dict[str, Any]] = field(default_factory=list)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.users.setdefault(BOT_USER, User(BOT_USER, "hexabot", "Hexabot", is_bot=True))

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._clock):06d}"

    def add_user(self, user_id: str, name: str, real_name: str = "") -> User:
        user = User(user_id, name, real_name or name)
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, members: list[str]) -> Conversation:
        conversation = Conversation(channel_id, name, members={*members, BOT_USER})
        self.conversations[channel_id] = conversation
        return conversation

    def im_with(self, user_id: str) -> Conversation:
        """The DM between the bot and ``user_id`` (created on first use)."""
        for conversation in self.conversations.values():
            if conversation.is_im and user_id in conversation.members:
                return conversation
        conversation = Conversation(f"D{user_id.lstrip('UW')[:9]}", user_id, is_im=True,
                                    members={user_id, BOT_USER})
        self.conversations[conversation.id] = conversation
        return conversation

    def post(self, channel: str, user: str, text: str, blocks: list[dict[str, Any]] | None,
             thread_ts: str | None = None, bot: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "message", "channel": channel, "user": user,
                                   "text": text, "ts": self.next_ts()}
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = thread_ts
        if bot:
            message["bot_id"] = BOT_ID
        self.messages[(channel, message["ts"])] = message
        return message

    def history(self, channel: str) -> list[dict[str, Any]]:
        return sorted((m for (c, _), m in self.messages.items() if c == channel),
                      key=lambda m: m["ts"])

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.history(channel)
                if m["ts"] == ts or m.get("thread_ts") == ts]
