"""Handle each Slack event once, even when Slack retries it or several replicas receive it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.schema import metadata

slack_events = sa.Table("slack_events", metadata,
                        sa.Column("event_id", sa.Text, primary_key=True),
                        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False,
                                  server_default=sa.text("now()")),
                        sa.Column("deliveries", sa.Integer, nullable=False,
                                  server_default=sa.text("1")))


class EventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def first_time(self, event_id: str) -> bool:
        """True for the first delivery of ``event_id`` anywhere; False for every repeat (each
        counted in ``deliveries``)."""
        first = insert(slack_events).values(event_id=event_id, deliveries=1)
        statement = first.on_conflict_do_update(
            index_elements=[slack_events.c.event_id],
            set_={"deliveries": slack_events.c.deliveries + 1},
        ).returning(slack_events.c.deliveries)
        async with self.engine.begin() as conn:
            deliveries = (await conn.execute(statement)).scalar_one()
        return bool(deliveries == 1)
