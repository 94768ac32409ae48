"""`hexabot policy show|check|explain`: the guardrails, read without acting.

``explain --as U TOOL key=value…`` makes the plan (reads and a server-side dry run, nothing
stored) and prints which rules apply and what the decision would be; ``show --as U`` lists the
rules that can apply to that user; ``check FILE`` validates a policy file (exit 1 with the file
and path of each problem).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console

from app.cli_common import AS, DIRECTORY, services, settings_of
from app.pairs import parse_pairs, read_local_file

policy_cli = typer.Typer(help="Guardrail policies: show, check and explain decisions.",
                         no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True)


async def _explain(directory: Path | None, ctx: typer.Context, who: str, tool: str,
                   pairs: list[str], workspace: str | None, namespace: str | None) -> str:
    from confirmations import explain

    async with services(ctx, directory) as opened:
        security = await opened.identity.context(who, workspace=workspace,
                                                 namespace=namespace)
        if not tool:
            return explain.overview(opened.confirmations.guardrails, security)
        found = await opened.confirmations.explain(security, tool,
                                                   parse_pairs(pairs, read_local_file))
        return (f"as {security.name} in {security.workspace}/{security.namespace} "
                f"({opened.confirmations.guardrails.source})\n" + explain.text(found))


def _print(text: str) -> None:
    out.print(text, markup=False, highlight=False)


@policy_cli.command("explain")
def explain_cmd(ctx: typer.Context, tool: str = typer.Argument(..., help="write tool"),
                pairs: list[str] = typer.Argument(None, help="key=value arguments"),
                who: str = AS, directory: Path = DIRECTORY,
                workspace: str = typer.Option(None, "--workspace"),
                namespace: str = typer.Option(None, "--namespace")) -> None:
    """Which rules apply to TOOL with these arguments, and the decision — without acting."""
    _print(asyncio.run(_explain(directory, ctx, who, tool, pairs or [], workspace, namespace)))


@policy_cli.command("show")
def show_cmd(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY,
             workspace: str = typer.Option(None, "--workspace")) -> None:
    """The rules that can apply to a user (their workspace and namespaces)."""
    _print(asyncio.run(_explain(directory, ctx, who, "", [], workspace, None)))


@policy_cli.command("check")
def check_cmd(ctx: typer.Context,
              file: Path = typer.Argument(None, help="policy YAML (default: "
                                          "HEXABOT_POLICY_FILE, else the built-in one)")) -> None:
    """Validate a policy file and list its rules."""
    from app.services import load_policy
    from confirmations import explain, rules
    from confirmations.flow import WRITE_TOOLS

    try:
        policy = (rules.load(file, WRITE_TOOLS) if file is not None
                  else load_policy(settings_of(ctx)).policy)
    except rules.PolicyError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from exc
    _print(f"{policy.source}: {len(policy.rules)} rule(s), {len(policy.protected)} protected "
           "entr(y/ies) — valid")
    for rule in policy.rules:
        _print(f"• {explain.describe(rule)}")
