"""Reading audit events back: from ClickHouse when it is configured, else from the Postgres
outbox (the same events, before shipping).  Used by `hexabot audit tail` and the chat API."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.audit import clickhouse, shipper
from app.settings import Settings


def since(text: str | None) -> datetime | None:
    """The moment ``text`` ("30m", "1h", "2d") ago; None for no text."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise ValueError(f"{text!r}: expected a duration like 30m, 1h, 2d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    try:
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    except OverflowError as exc:
        raise ValueError(f"{text!r}: too far back (at most 9999d)") from exc


async def events(settings: Settings, engine: AsyncEngine | None, user: str | None = None,
                 workspace_id: str | None = None, since: datetime | None = None,
                 limit: int = 50, workspace: str | None = None,
                 namespaces: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Matching events, oldest first, at most ``limit`` (the newest ones); ``engine`` is only
    needed when ClickHouse is not configured.  A person's reach is a workspace's identity
    (name and cluster, ``SecurityContext.workspace_id``), never its name alone; ``workspace``
    (a name) is for the operator's `hexabot audit tail`, who reads the whole store anyway;
    ``namespaces`` limits to events in those namespaces (a reader's directory scope)."""
    if settings.clickhouse_url is not None:
        rows = await clickhouse.query_events(settings.clickhouse_url.get_secret_value(),
                                             user, workspace_id, since, limit, workspace,
                                             namespaces)
        return [json.loads(r[3]) for r in reversed(rows)]
    if engine is None:
        raise ValueError("reading the audit outbox needs the database engine")
    found = await shipper.outbox_events(engine)
    picked = [e for e in found if (not user or e.get("actor") == user)
              and (not workspace_id or e.get("workspace_id") == workspace_id)
              and (not workspace or e.get("workspace") == workspace)
              and (namespaces is None or e.get("namespace") in namespaces)
              and (not since or datetime.fromisoformat(e["at"]) >= since)]
    return picked[-limit:]
