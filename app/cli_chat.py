"""`hexabot ask` (one turn) and `hexabot chat` (a session): the agent from a terminal, on the
same code path as Slack.  The CLI session id is ``cli:<slack id>``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console

from agents.types import Ask, Reply
from app.cli_identity import AS, DIRECTORY, settings_with_directory
from app.identity.service import IdentityError
from app.services import open_services

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
        async def run() -> Reply:
            async with open_services(settings_with_directory(ctx, directory)) as services:
                me = await services.identity.context(who)
                reply = await services.agent.handle(Ask(
                    me.slack_id, text, f"cli:{me.slack_id}", workspace, namespace))
                await services.decisions.proposed([p.id for p in reply.proposals])
                return reply
        try:
            _print(asyncio.run(run()), as_json)
        except IdentityError as exc:
            Console(stderr=True).print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from exc

    @cli.command("chat")
    def chat(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY,
             workspace: str = WORKSPACE, namespace: str = NAMESPACE) -> None:
        """An interactive session with the agent (empty line or Ctrl-D to leave)."""
        async def run() -> None:
            async with open_services(settings_with_directory(ctx, directory)) as services:
                me = await services.identity.context(who)
                out.print(f"Hexabot, acting as {me.name} in {me.workspace}/{me.namespace}. "
                          "Type `help`; an empty line ends.", highlight=False)
                while True:
                    try:
                        text = await asyncio.to_thread(input, "you> ")
                    except EOFError:
                        break
                    if not text.strip():
                        break
                    _print(await services.agent.handle(Ask(
                        me.slack_id, text, f"cli:{me.slack_id}", workspace, namespace)), False)
        try:
            asyncio.run(run())
        except IdentityError as exc:
            Console(stderr=True).print(str(exc), markup=False, highlight=False)
            raise typer.Exit(1) from exc
