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
    slack_thread: str | None = None   # the thread the card is a reply in (None: top level)
    approvals: tuple[str, ...] = ()   # who approved so far (Slack ids), in order
    approvals_needed: int = 1         # clicks needed (two_person: none of them the requester)
    policy_rule: str = ""             # the guardrail rule that set the approvals

    @property
    def workspace_id(self) -> str:
        """The workspace's identity (name and cluster), from the hashed plan: a row cannot be
        moved to another cluster without breaking :meth:`intact`."""
        return self.plan.workspace_id

    @property
    def approvals_missing(self) -> int:
        return max(0, self.approvals_needed - len(self.approvals))

    @property
    def thread(self) -> tuple[str, str] | None:
        """The Slack thread about this action: its card's thread, or the card's own."""
        if not self.slack_channel or not self.slack_ts:
            return None
        return self.slack_channel, self.slack_thread or self.slack_ts

    def intact(self) -> bool:
        """The stored plan still hashes to the hash recorded when it was proposed."""
        return self.plan.params_hash() == self.params_hash and self.plan.id == self.id
