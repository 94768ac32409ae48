"""The audit outbox: audit events written to Postgres in the caller's transaction, hash-chained.

Writing the event in the same transaction as the change it records means a change is never
committed without its audit row (and an audit row never describes a change that rolled back).
Each event takes the next ``seq`` and ``hash = SHA-256(previous hash + canonical JSON)`` under a
transaction-scoped advisory lock, so the chain has one order even across processes.  The
shipper (``app.audit.shipper``) drains unshipped rows to ClickHouse in batches.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tools import metrics
from tools.audit import GENESIS, AuditEvent, chain_hash
from tools.schema import metadata

CHAIN_LOCK = 0x48584155  # "HXAU"
audit_outbox = sa.Table(
    "audit_outbox", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.text("now()")),
    sa.Column("event", sa.JSON, nullable=False),
    sa.Column("shipped_at", sa.DateTime(timezone=True)),
    sa.Column("seq", sa.BigInteger),
    sa.Column("prev_hash", sa.Text),
    sa.Column("hash", sa.Text),
    sa.Index("audit_outbox_seq", "seq", unique=True),
    sa.Index("audit_outbox_unshipped", "id", postgresql_where=sa.text("shipped_at IS NULL")),
)


async def record(conn: AsyncConnection, *events: AuditEvent) -> None:
    """Add ``events`` to the outbox within ``conn``'s transaction, extending the chain."""
    if not events:
        return
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    last = (await conn.execute(sa.select(audit_outbox.c.seq, audit_outbox.c.hash)
                               .where(audit_outbox.c.seq.is_not(None))
                               .order_by(audit_outbox.c.seq.desc()).limit(1))).first()
    seq, prev = (int(last.seq), str(last.hash)) if last else (0, GENESIS)
    rows = []
    for event in events:
        data = event.as_dict()
        seq += 1
        digest = chain_hash(prev, data)
        rows.append({"event_id": event.event_id, "event": data, "seq": seq, "prev_hash": prev,
                     "hash": digest})
        prev = digest
    await conn.execute(audit_outbox.insert(), rows)
    for event in events:
        metrics.observe(event)
