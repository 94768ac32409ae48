"""Who may approve a pending action: a pure function of facts gathered elsewhere.

    may_approve(approver, action, now) -> Verdict

The requester may approve their own action, except where a second person is required (a
two-person namespace or a guardrail rule); anyone else must hold the same permission on the
target (the caller asks the API server with an access review and passes the answer in).  An
action needing two approvals needs two different people; nobody counts twice.

One rule for every door (Slack, the chat API, the CLI, resumed workflows): a person reaches an
action — sees it in a list, approves or rejects it — only in the same workspace (name *and*
cluster: ``workspace_id``) and only if the action's namespace is in their directory entry;
approving also needs the access review.  Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from confirmations.model import PendingAction, State


@dataclass(frozen=True)
class Approver:
    slack_id: str
    name: str
    holds_permission: bool   # SubjectAccessReview answer for this approver on the target
    permission: str          # what was checked, for the refusal message
    in_scope: bool = False   # the action's namespace is in their directory entry (that workspace)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""


def in_reach(workspace_id: str, namespaces: Sequence[str], action: PendingAction) -> bool:
    """Whether someone whose context is ``workspace_id`` with ``namespaces`` (their directory
    entry, narrowed by a token where one applies) may see and decide ``action``: the same
    workspace on the same cluster, and its namespace among theirs.  Actions stored without a
    workspace identity reach nobody (fail closed)."""
    return bool(action.workspace_id) and action.workspace_id == workspace_id \
        and action.namespace in namespaces


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
    if not approver.in_scope:
        return Verdict(False, f"{approver.name}'s directory entry does not include namespace "
                              f"{action.namespace} of workspace {action.workspace}, so they "
                              "cannot approve it")
    if approver.slack_id in action.approvals:
        return Verdict(False, f"{approver.name} already approved this; "
                              f"{action.approvals_missing} more approval needed from someone "
                              "else")
    if not approver.holds_permission:
        return Verdict(False, f"{approver.name} may not {approver.permission} in "
                              f"{action.namespace}, so cannot approve it")
    return Verdict(True)


def may_reject(slack_id: str, holds_permission: bool, action: PendingAction,
               in_scope: bool = False) -> Verdict:
    if action.state is not State.PENDING:
        return Verdict(False, f"this action is already {action.state.value}")
    if slack_id == action.requester or (holds_permission and in_scope):
        return Verdict(True)
    return Verdict(False, "only the requester or someone who could approve it may reject it")
