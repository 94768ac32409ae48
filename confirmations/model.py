"""A pending action is a row, not a closure: everything needed to decide and execute it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from tools.spec import ActionPlan


class State(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self not in (State.PENDING, State.APPROVED, State.EXECUTING)


@dataclass(frozen=True)
class PendingAction:
    id: str
    requester: str
    requester_hexabase: str
    workspace: str
    namespace: str
    tool: str
    plan: ActionPlan
    params_hash: str
    risk: str
    two_person: bool
    state: State
    created_at: datetime
    expires_at: datetime
    approver: str | None = None
    approver_hexabase: str | None = None
    decided_at: datetime | None = None
    executed_at: datetime | None = None
    result: str | None = None
    error: str | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None

    def intact(self) -> bool:
        """The stored plan still hashes to the hash recorded when it was proposed."""
        return self.plan.params_hash() == self.params_hash and self.plan.id == self.id
