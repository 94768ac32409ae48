"""`hexabot pending | approve ID | reject ID --as U`: the approval card, from a terminal.

The same DecisionFlow as Slack's buttons: an action id is all the command carries; policy,
exactly-once claim and execution as the requester are the flow's; what follows (resumed
workflows) is the decision service's (:mod:`app.decisions`), with no notifier: reports print.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import AS, DIRECTORY, services

if TYPE_CHECKING:
    from confirmations.flow import Decision

out = Console(soft_wrap=True)


def _decide(ctx: typer.Context, directory: Path | None, action_id: str, who: str,
            approve: bool) -> None:
    async def run() -> tuple[Decision, list[str]]:
        async with services(ctx, directory) as opened:
            flow = opened.confirmations
            decision = await (flow.approve(action_id, who) if approve
                              else flow.reject(action_id, who))
            if not decision.ok:
                return decision, []
            me = (await opened.identity.whoami(who)).entry.slack_id
            resumed = await opened.decisions.decided(action_id, decision.action, me)
            return decision, [run.text() if owner.slack_id == me
                              or not opened.orchestrator.private(run)
                              else f"workflow {run.workflow} ({run.state}): its report is "
                                   f"private to {owner.slack_id}"
                              for owner, run in resumed]

    decision, reports = asyncio.run(run())
    (out if decision.ok else Console(stderr=True)).print(decision.message, markup=False,
                                                         highlight=False)
    for report in reports:
        out.print(report, markup=False, highlight=False)
    if not decision.ok:
        raise typer.Exit(1)


def register(cli: typer.Typer) -> None:
    @cli.command("pending")
    def pending(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY) -> None:
        """List pending actions you asked for or may approve."""
        async def run() -> None:
            async with services(ctx, directory) as opened:
                me = await opened.identity.whoami(who)
                actions = [a for w in me.entry.workspaces
                           for a in await opened.confirmations.pending_for(
                               await opened.identity.context(who, workspace_id=w.id))]
                rows = [(a.id, a.requester, a.namespace, a.risk,
                         f"{len(a.approvals)}/{a.approvals_needed}"
                         + (" (not the requester)" if a.two_person else ""),
                         f"{a.expires_at:%H:%M:%S UTC}", a.plan.summary) for a in actions]
                if not out.is_terminal:  # piped or captured: one plain line per action
                    for row in rows:
                        out.print("  ".join(row), markup=False, highlight=False, soft_wrap=True)
                    if not rows:
                        out.print(f"no pending actions for {me.entry.name}", highlight=False)
                    return
                table = Table(title=f"pending actions for {me.entry.name}")
                for column in ("id", "requester", "namespace", "risk", "approvals", "expires",
                               "summary"):
                    table.add_column(column, overflow="fold")
                for row in rows:
                    table.add_row(*row)
                out.print(table)
        asyncio.run(run())

    @cli.command("approve")
    def approve(ctx: typer.Context, action_id: str, who: str = AS,
                directory: Path = DIRECTORY) -> None:
        """Approve a pending action; it then runs as its requester."""
        _decide(ctx, directory, action_id, who, approve=True)

    @cli.command("reject")
    def reject(ctx: typer.Context, action_id: str, who: str = AS,
               directory: Path = DIRECTORY) -> None:
        """Reject a pending action (the requester's own rejection cancels it)."""
        _decide(ctx, directory, action_id, who, approve=False)
