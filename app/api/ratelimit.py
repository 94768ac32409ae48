"""A per-user fixed-window rate limit for the chat API, counted in Postgres so every replica
sees the same count: one conditional upsert per request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.schema import metadata

windows = sa.Table(
    "api_rate_windows", metadata,
    sa.Column("subject", sa.Text, primary_key=True),
    sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
)
W = windows.c
WINDOW = timedelta(minutes=1)


class RateLimit:
    def __init__(self, engine: AsyncEngine, per_minute: int) -> None:
        self.engine, self.per_minute = engine, per_minute

    async def hit(self, subject: str, now: datetime | None = None) -> float | None:
        """Count one request; the seconds to wait when over the limit, else None."""
        now = now or datetime.now(UTC)
        start = now.replace(second=0, microsecond=0)
        statement = postgresql.insert(windows).values(subject=subject, window_start=start,
                                                      hits=1)
        statement = statement.on_conflict_do_update(
            index_elements=[W.subject, W.window_start], set_={"hits": W.hits + 1})
        async with self.engine.begin() as conn:
            hits = (await conn.execute(statement.returning(W.hits))).scalar_one()
            await conn.execute(windows.delete().where(W.subject == subject,
                                                      W.window_start < start - WINDOW))
        if hits > self.per_minute:
            return max(1.0, (start + WINDOW - now).total_seconds())
        return None
