"""What a click (or any door's decision) comes back with: :class:`Decision`, its machine code,
and what of an action's result a given person may read (:func:`shown_to`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from confirmations.model import PendingAction
from tools import registry

Code = Literal["executed", "partial", "rejected", "failed", "not_found", "closed", "forbidden",
               "policy", "conflict", "unavailable"]
CODES: tuple[Code, ...] = ("executed", "partial", "rejected", "failed", "not_found", "closed",
                           "forbidden", "policy", "conflict", "unavailable")
"""Why a decision came out as it did:

- ``executed``: approved and run; ``partial``: an approval recorded, more needed;
  ``rejected``: rejected or cancelled;
- ``failed``: approved, run, and the cluster refused the change;
- ``not_found``: no such action; ``closed``: already decided, running or expired;
- ``forbidden``: the clicker may not decide it (approver rule, access review, directory scope),
  or the requester lost the permission to run it;
- ``policy``: the guardrails refused it at approval;
- ``conflict``: the target changed since the plan (nothing was changed);
- ``unavailable``: a dependency (the Kubernetes API) did not answer.
"""


@dataclass(frozen=True)
class Decision:
    """The answer to a click: ``private`` messages go only to the clicker."""
    ok: bool
    message: str
    action: PendingAction | None = None
    private: bool = False
    partial: bool = False   # an approval was recorded; more are needed before it runs
    code: Code = field(kw_only=True)  # why, for machines (see CODES)


def shown_to(viewer: str, action: PendingAction, result: str) -> str:
    """What ``viewer`` (a Slack id) may read of an action's result: all of it when the output
    is not private (``ToolSpec.private``) or they are the requester; else where it went.  Every
    door answers a decision with this (Slack cards and ephemerals, the chat API, the CLI)."""
    if viewer == action.requester or not registry.private_output(action.tool):
        return result
    return (f"Done: {action.tool} ran as its requester ({action.requester}); its output is "
            "private to them (sent to them directly, and kept with the action).")
