"""The audit event: one record per request, proposal, decision, execution or denial.

Every layer creates these; stores write them to the Postgres outbox in the same transaction as
the change they describe, and the shipper (issue #6) moves them to ClickHouse.  Secrets never go
in ``detail``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    kind: str                  # e.g. request.unknown_user, identity.linked, context.switched
    actor: str                 # Slack id of who acted
    outcome: str               # ok | denied | failed | ...
    hexabase_user: str = ""
    workspace: str = ""
    namespace: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
