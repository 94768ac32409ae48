"""`hexabot ask` (one turn) and `hexabot chat` (a session): the agent from a terminal, on the
same code path as Slack.  The CLI session id is ``cli:<slack id>``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from app.cli_common import AS, DIRECTORY, services

if TYPE_CHECKING:
    from agents.types import Reply

out = Console(soft_wrap=True)
WORKSPACE = typer.Option(None, "--workspace", help="one of your workspaces")
NAMESPACE = typer.Option(None, "--namespace", help="one of your namespaces")


def _print(reply: Reply, as_json: bool) -> None:
    if as_json:
        out.print(json.dumps(reply.as_json(), indent=2), highlight=False, markup=False)
        return
    out.print(reply.text, highlight=False, markup=False)
    for proposal in reply.proposals:
        out.print(f"→ proposal {proposal.id}: {proposal.summary} (risk {proposal.risk}); "
                  f"approve with `hexabot approve {proposal.id} --as <approver>`",
                  highlight=False, markup=False)


def register(cli: typer.Typer) -> None:
    @cli.command("ask")
    def ask(ctx: typer.Context, text: str = typer.Argument(..., help="what to ask"),
            who: str = AS, directory: Path = DIRECTORY, workspace: str = WORKSPACE,
            namespace: str = NAMESPACE,
            as_json: bool = typer.Option(False, "--json", help="structured reply")) -> None:
        """Ask the agent one question, as a user; prints the reply and any proposals."""
        from agents.types import Ask

        async def run() -> Reply:
            async with services(ctx, directory) as opened:
                me = await opened.identity.context(who)
                reply = await opened.agent.handle(Ask(
                    me.slack_id, text, f"cli:{me.slack_id}", workspace, namespace))
                await opened.decisions.proposed([p.id for p in reply.proposals])
                return reply
        _print(asyncio.run(run()), as_json)

    @cli.command("chat")
    def chat(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY,
             workspace: str = WORKSPACE, namespace: str = NAMESPACE) -> None:
        """An interactive session with the agent (empty line or Ctrl-D to leave)."""
        from agents.types import Ask

        async def run() -> None:
            async with services(ctx, directory) as opened:
                me = await opened.identity.context(who)
                out.print(f"Hexabot, acting as {me.name} in {me.workspace}/{me.namespace}. "
                          "Type `help`; an empty line ends.", highlight=False)
                while True:
                    try:
                        text = await asyncio.to_thread(input, "you> ")
                    except EOFError:
                        break
                    if not text.strip():
                        break
                    _print(await opened.agent.handle(Ask(
                        me.slack_id, text, f"cli:{me.slack_id}", workspace, namespace)), False)
        asyncio.run(run())
