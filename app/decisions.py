"""The one decision service: what happens after a proposal, a decision or an expiry, whichever
door it came through (a Slack message, button or App Home, the chat API, the CLI, the expiry
sweeper) — so no door forgets a step or a rule (ARCHITECTURE decision 8).

After a proposal: its approval card goes where it was asked for (a Slack thread), or before
its requester when it came through the chat API or the CLI, and the requester's App Home shows
it pending.  After a decision or an expiry, in order:

1. every card of the action shows its new state (``Notifier.action_changed``);
2. a private result (``ToolSpec.private``: exec output) goes to its requester alone;
3. the App Home of the people concerned (whoever acted, the requester) is republished;
4. workflow runs waiting on the action resume, and each reports where its owner started it
   (a report holding private output goes to the owner alone);
5. a change that succeeded and converges (a rollout, a Job) is followed
   (:mod:`agents.followup`): when it converged, failed or ran out of time, the outcome goes to
   the action's thread, and a proposed rollback's card beside it (:meth:`follow_due`, from the
   background loop of any replica).

Doors word only their own answer to the person who acted (``decision.shown_to`` decides what
of a result that person may read).  How people are told is the notifier's
(:class:`agents.notify.Notifier`): Slack's when ``hexabot run`` (or ``serve-api`` with a bot
token) installs it, else nothing, and the result stays with the action.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.followup import Follower, Told
from agents.notify import Notifier, NullNotifier
from agents.orchestrator.runner import WorkflowRun
from agents.orchestrator.runs import Owner
from agents.orchestrator.service import Orchestrator
from confirmations.model import PendingAction, State
from confirmations.store import ConfirmationStore
from tools import registry


class DecisionService:
    def __init__(self, orchestrator: Orchestrator, store: ConfirmationStore,
                 notifier: Notifier | None = None, follower: Follower | None = None) -> None:
        self.orchestrator, self.store, self.follower = orchestrator, store, follower
        self.notifier: Notifier = notifier or NullNotifier()

    async def proposed(self, ids: Sequence[str],
                       where: tuple[str, str | None] | None = None) -> None:
        """After the actions ``ids`` were proposed (``where``: the Slack channel and thread
        asked in; None for the chat API and the CLI)."""
        actions = [a for a in [await self.store.get(i) for i in ids] if a is not None]
        for action in actions:
            if self.follower is not None:  # usage before the change, to compare after it
                await self.follower.prepare(action)
            await self.notifier.proposed(action, where)
        for user in dict.fromkeys(a.requester for a in actions):
            await self.notifier.home_changed(user)

    async def decided(self, action_id: str, action: PendingAction | None, actor: str = "",
                      card: tuple[str, str] = ("", "")) -> list[tuple[Owner, WorkflowRun]]:
        """After ``actor`` decided ``action_id`` (``action``: its row after the decision;
        ``card``: the card acted on, if any).  Returns the workflow runs it resumed."""
        if action is not None:
            await self.notifier.action_changed(action, card)
            if action.result and registry.private_output(action.tool):
                await self.notifier.private_result(action)
            for user in dict.fromkeys(u for u in (actor, action.requester) if u):
                await self.notifier.home_changed(user)
            if self.follower is not None and action.state is State.SUCCEEDED:
                await self.follower.start(action)
            elif self.follower is not None and action.state.final:
                await self.follower.drop(action)
        return await self._report(await self.orchestrator.resume_for(action_id))

    async def follow_due(self) -> list[Told]:
        """Check the followed changes; tell each that ended in its action's thread, with the
        card of the rollback proposed for it."""
        if self.follower is None:
            return []
        told = await self.follower.due()
        for ended in told:  # a failure here leaves the rest untold: told again next round
            action = await self.store.get(ended.action_id)
            if action is not None:
                await self.notifier.followed(action, ended.text)
                if ended.rollback is not None:
                    await self.proposed([ended.rollback], where=action.thread)
            await self.follower.told(ended.action_id)
        return told

    async def expired(self, action: PendingAction) -> list[tuple[Owner, WorkflowRun]]:
        """After the sweeper expired ``action`` unanswered: nobody acted."""
        return await self.decided(action.id, action)

    async def resume_due(self) -> list[tuple[Owner, WorkflowRun]]:
        """Resume (and report) every waiting run whose action was decided elsewhere."""
        return await self._report(await self.orchestrator.resume_due())

    async def _report(self, resumed: list[tuple[Owner, WorkflowRun]]
                      ) -> list[tuple[Owner, WorkflowRun]]:
        for owner, run in resumed:
            await self.notifier.run_report(owner, run, self.orchestrator.private(run))
        return resumed
