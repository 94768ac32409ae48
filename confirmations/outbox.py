"""The audit outbox: audit events written to Postgres in the caller's transaction.

Writing the event in the same transaction as the change it records means a change is never
committed without its audit row (and an audit row never describes a change that rolled back).
The shipper (issue #6) drains unshipped rows to ClickHouse in batches.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tools.audit import AuditEvent

metadata = sa.MetaData()
audit_outbox = sa.Table(
    "audit_outbox", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("event", sa.JSON, nullable=False),
    sa.Column("shipped_at", sa.DateTime(timezone=True)),
)


async def record(conn: AsyncConnection, event: AuditEvent) -> None:
    """Add ``event`` to the outbox within ``conn``'s transaction."""
    await conn.execute(audit_outbox.insert().values(event_id=event.event_id,
                                                    event=event.as_dict()))
