"""Hexabot's own executed changes, read back from the audit outbox for ``recent_changes``
(:class:`tools.audit.AuditHistory`).

Whose: every ``confirmation.result`` in the namespace under the asker's workspace identity
(name and cluster).  The change itself is visible to anyone who can read the namespace (its
events, the objects' managedFields); this adds who asked and who approved, as the card in the
team's channel did.  Results themselves (command output) are never included.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tools.audit import AuditEvent, field_names
from tools.security import SecurityContext

MOST = 200


class OutboxHistory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def executed(self, ctx: SecurityContext, namespace: str,
                       since: datetime) -> Sequence[AuditEvent]:
        query = sa.text(
            "SELECT event FROM audit_outbox WHERE created_at >= :since "
            "AND event->>'kind' = 'confirmation.result' AND event->>'namespace' = :ns "
            "AND event->>'workspace_id' = :wid ORDER BY id DESC LIMIT :most")
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query, {"since": since, "ns": namespace,
                                               "wid": ctx.workspace_id, "most": MOST})).all()
        known = field_names()
        return [AuditEvent(**{k: v for k, v in row[0].items() if k in known
                              and k != "detail"}, detail={
                                  "tool": (row[0].get("detail") or {}).get("tool", "")})
                for row in rows]
