"""The notifier port: how the decision service (:mod:`app.decisions`) tells people what
happened, without knowing which door they use.

Each operation is abstract — *this action changed*, *this private result is ready*, *this
workflow run has a report*, *this person's overview is stale* — and an implementation words it
for one medium: :class:`app.slack.deliver.SlackNotifier` updates cards, sends DMs and publishes
App Home; :class:`NullNotifier` (the CLI, an API-only deployment) does nothing, the result
staying with the action and the run.  It lives in ``agents`` so that lower layers may report
through it too (a run report names an orchestrator run).
"""

from __future__ import annotations

from typing import Protocol

from agents.orchestrator.runner import WorkflowRun
from agents.orchestrator.runs import Owner
from confirmations.model import PendingAction


class Notifier(Protocol):
    async def proposed(self, action: PendingAction, where: tuple[str, str | None] | None
                       ) -> None:
        """Put ``action``'s approval card where the request was made (``where``: channel and
        thread), or — a request from the chat API or the CLI — before its requester."""

    async def action_changed(self, action: PendingAction, card: tuple[str, str] = ("", "")
                             ) -> None:
        """Show ``action``'s new state wherever it is shown (its stored card, and ``card``:
        the one acted on, when the door knows it)."""

    async def private_result(self, action: PendingAction) -> None:
        """Deliver ``action.result`` to its requester alone (it holds private output)."""

    async def run_report(self, owner: Owner, run: WorkflowRun, private: bool) -> None:
        """A resumed workflow run's report, where its owner started it (``private``: it holds
        private output, so only the owner may read it)."""

    async def home_changed(self, user: str) -> None:
        """``user``'s overview of pending and recent actions is stale."""

    async def followed(self, action: PendingAction, text: str) -> None:
        """What ``action``'s change came to (converged, failed, timed out), in its thread."""


class NullNotifier:
    """No medium to notify through: every operation does nothing."""

    async def proposed(self, action: PendingAction, where: tuple[str, str | None] | None
                       ) -> None:
        return None

    async def action_changed(self, action: PendingAction, card: tuple[str, str] = ("", "")
                             ) -> None:
        return None

    async def private_result(self, action: PendingAction) -> None:
        return None

    async def run_report(self, owner: Owner, run: WorkflowRun, private: bool) -> None:
        return None

    async def home_changed(self, user: str) -> None:
        return None

    async def followed(self, action: PendingAction, text: str) -> None:
        return None
