"""The audit event: one record per request, tool call, LLM call, plan, decision, execution,
login/logout or denial.

Every layer creates these; stores write them to the Postgres outbox in the same transaction as
the change they describe (``confirmations.outbox``), where they are hash-chained, and the shipper
moves them to ClickHouse.  Secrets never go in any field.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.security import SecurityContext

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    kind: str                  # the action: request.unknown_user, tool.plan, confirmation.approve…
    actor: str                 # Slack id of who acted
    outcome: str               # ok | denied | error | failed
    hexabase_user: str = ""
    workspace: str = ""
    namespace: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    session_id: str = ""
    resource_kind: str = ""
    resource_name: str = ""
    confirmation_id: str = ""
    confirmation_state: str = ""
    approver: str = ""
    error: str = ""
    duration_ms: int = 0
    api_audit_id: str = ""
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))
    workspace_id: str = ""     # name and cluster (SecurityContext.workspace_id): who may read it

    def as_dict(self) -> dict[str, Any]:
        # field by field: dataclasses.asdict deep-copies, 20x slower on the audit hot path
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(AuditEvent))


def field_names() -> frozenset[str]:
    """An event's fields (to rebuild one read back from storage)."""
    return frozenset(_FIELDS)


class AuditHistory(Protocol):
    """The optional hook through which a READ tool sees Hexabot's own executed changes
    (``recent_changes``); ``ToolEnv.audit_history``, None where nothing provides it.

    An implementation returns the ``confirmation.result`` events of ``namespace`` at or after
    ``since`` that ``ctx`` may read (its workspace identity; whose events — theirs only, or
    everyone's for an admin — is the implementation's rule, as for the chat API's audit)."""

    async def executed(self, ctx: SecurityContext, namespace: str,
                       since: datetime) -> Sequence[AuditEvent]: ...


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """hash_n = SHA-256(hash_{n-1} + canonical JSON of event n)."""
    return hashlib.sha256((prev_hash + canonical(event)).encode()).hexdigest()


def verify_chain(rows: list[tuple[int, str, str, dict[str, Any]]]) -> list[str]:
    """Problems in a chain of (seq, prev_hash, hash, event) rows ordered by seq; [] if intact."""
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS, 1
    for seq, prev, digest, event in rows:
        if seq != expected_seq:
            problems.append(f"seq {expected_seq}..{seq - 1} missing (deleted events)"
                            if seq > expected_seq else f"seq {seq} repeated (inserted event)")
        if prev != expected_prev:
            problems.append(f"seq {seq}: does not follow the previous event (inserted or "
                            "removed before it)")
        if chain_hash(prev, event) != digest:
            problems.append(f"seq {seq}: content does not match its hash (edited event "
                            f"{event.get('event_id')})")
        expected_prev, expected_seq = digest, seq + 1
    return problems
