"""Undoing a multi-object write that stopped part-way (:class:`tools.errors.PartiallyApplied`).

Its compensating plan — delete what it created, restore what it changed — is proposed as new
pending actions for the same requester, judged and approved like any write, and the answer
names their ids: a partial state is never left silent.  A step that cannot be proposed (the
policy refuses it, the object changed again) is said, with what to undo by hand.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from confirmations.model import PendingAction
from tools import errors
from tools.security import SecurityContext

Propose = Callable[[SecurityContext, str, dict[str, Any]], Awaitable[PendingAction]]


async def propose(propose_one: Propose, ctx: SecurityContext,
                  partial: errors.PartiallyApplied) -> str:
    """Propose every step of ``partial.undo`` as ``ctx``; the sentence that names them."""
    said = []
    for step in partial.undo:
        try:
            action = await propose_one(ctx, step["tool"], step["args"])
        except errors.ToolError as exc:
            said.append(f"{step['what']} could not be proposed ({exc.message}); do it by hand")
            continue
        said.append(f"approve {action.id} to {step['what']}")
    return ("To undo what was applied: " + "; ".join(said) + ".") if said else ""
