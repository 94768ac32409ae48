"""Recovery: settle actions a crash (or a dead replica) left approved or executing.

It runs at start-up and then with every sweeper round, on every replica; it settles only rows
no live replica holds (their lease ran out, or they hold none and started ``stale_after``
ago), reading what became of each from *its* cluster as its requester — never executing
anything.  One bad row never stops the others: it is logged once, counted in
``hexabot_background_errors_total{loop="recover"}`` and retried next round.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from confirmations.model import PendingAction, State
from tools.metrics import BACKGROUND_ERRORS
from tools.writes.verify import applied

if TYPE_CHECKING:
    from confirmations.flow import DecisionFlow

log = logging.getLogger(__name__)


async def _settle(flow: DecisionFlow, action: PendingAction) -> tuple[State, str]:
    """What became of an action a crash left executing, read from *its* cluster as its
    requester.  Without a workspace identity, or a requester who no longer resolves in
    it, nothing is read (a like-named workspace elsewhere would answer falsely): unknown."""
    if not action.workspace_id:
        return State.UNKNOWN, ("cannot tell whether it was applied: stored before "
                               "workspaces were identified by their cluster")
    try:
        requester = await flow.identity.context(action.requester,
                                                workspace_id=action.workspace_id)
    except LookupError as exc:
        return State.UNKNOWN, f"cannot tell whether it was applied: {exc}"
    found = await applied(flow.envs.for_context(requester), action.plan)
    return {True: (State.SUCCEEDED, "applied (found in the cluster after a restart)"),
            False: (State.FAILED, "not applied (checked after a restart)"),
            None: (State.UNKNOWN, "cannot tell from the cluster whether it was applied")
            }[found]

async def recover(flow: DecisionFlow) -> list[PendingAction]:
    """At start-up and then periodically (the sweeper): settle rows that no live replica
    holds — their lease ran out, or they hold none and started ``stale_after`` ago — from
    the cluster's state.  The settling update re-checks that, so a late heartbeat wins."""
    now = flow.clock()
    settled = []
    for action in await flow.store.unsettled(now, now - flow.stale_after):
        try:
            done = await _recover_one(flow, action, now)
        except Exception as exc:  # one bad row never stops the others: logged, counted
            BACKGROUND_ERRORS.labels("recover").inc()
            if action.id not in flow._unsettleable:  # logged once; retried next time
                flow._unsettleable.add(action.id)
                log.error("cannot settle action %s (%s) yet, skipped: %r", action.id,
                          action.tool, exc, exc_info=exc)
            continue
        flow._unsettleable.discard(action.id)
        if done is not None:
            settled.append(done)
    return settled

async def _recover_one(flow: DecisionFlow, action: PendingAction,
                   now: datetime) -> PendingAction | None:
    if action.state is State.APPROVED:
        state, note = State.FAILED, "interrupted before execution; nothing was changed"
    else:
        state, note = await _settle(flow, action)
    return await flow.store.finish(
        action.id, state, flow.clock(), flow._event(
            "confirmation.recover", action, "hexabot", "ok" if state is State.SUCCEEDED
            else "error", confirmation_state=state.value, error=note),
        result=note if state is State.SUCCEEDED else None,
        error=None if state is State.SUCCEEDED else note,
        expected=(action.state,),
        extra=flow.store.abandoned(now, now - flow.stale_after))
