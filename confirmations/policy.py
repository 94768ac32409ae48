"""Who may approve a pending action: a pure function of facts gathered elsewhere.

    may_approve(approver, action, now) -> Verdict

The requester may approve their own action, except where a second person is required (a
two-person namespace or a guardrail rule); anyone else must hold the same permission on the
target (the caller asks the API server with an access review and passes the answer in).  An
action needing two approvals needs two different people; nobody counts twice.  Nothing here
does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from confirmations.model import PendingAction, State


@dataclass(frozen=True)
class Approver:
    slack_id: str
    name: str
    holds_permission: bool   # SubjectAccessReview answer for this approver on the target
    permission: str          # what was checked, for the refusal message


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def may_approve(approver: Approver, action: PendingAction, now: datetime) -> Verdict:
    if action.state is not State.PENDING:
        return Verdict(False, f"this action is already {action.state.value}")
    if now >= action.expires_at:
        return Verdict(False, "this action expired; ask for a fresh plan")
    if not action.intact():
        return Verdict(False, "this action's stored plan does not match its hash; it was "
                              "altered and cannot be approved")
    own = approver.slack_id == action.requester
    if own and action.two_person:
        where = (f"rule {action.policy_rule}" if action.policy_rule
                 and action.policy_rule != "two-person namespace"
                 else f"namespace {action.namespace}")
        return Verdict(False, f"{where} needs a second person: someone other than the "
                              "requester must approve")
    if approver.slack_id in action.approvals:
        return Verdict(False, f"{approver.name} already approved this; "
                              f"{action.approvals_missing} more approval needed from someone "
                              "else")
    if not approver.holds_permission:
        return Verdict(False, f"{approver.name} may not {approver.permission} in "
                              f"{action.namespace}, so cannot approve it")
    return Verdict(True)


def may_reject(slack_id: str, holds_permission: bool, action: PendingAction) -> Verdict:
    if action.state is not State.PENDING:
        return Verdict(False, f"this action is already {action.state.value}")
    if slack_id == action.requester or holds_permission:
        return Verdict(True)
    return Verdict(False, "only the requester or someone who could approve it may reject it")
