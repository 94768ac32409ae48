"""`hexabot tools list` and `hexabot tools run TOOL --as U key=value ...`.

READ tools run and print their compact text (or ``--json`` data).  WRITE tools print the plan
— summary, diff, risk, cost, dry-run — and apply it only with ``--execute``; every step is
permission-checked by the cluster and written to the audit outbox.  Tools run through the same
:class:`agents.toolbox.Toolbox` as a chat turn, so the CLI's spans and audit events are the
agent's (``tool.read``/``tool.write``: ``ok``, ``denied`` or ``error``).

Arguments: ``key=value`` (:mod:`app.pairs`; ``key=@FILE`` reads a file of the person running
the CLI, e.g. ``manifest=@deploy.yaml``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import AS, DIRECTORY, services
from app.pairs import parse_pairs, read_local_file

if TYPE_CHECKING:
    from agents.toolbox import Toolbox
    from app.services import Services
    from tools.spec import ActionPlan

tools_cli = typer.Typer(help="List and run the Kubernetes tools as a user.",
                        no_args_is_help=True)
out = Console(soft_wrap=True)


def _print_plan(plan: ActionPlan) -> None:
    out.print(f"[bold]Plan {plan.id}[/] ({plan.tool}, risk {plan.risk.value})", highlight=False)
    out.print(plan.summary, highlight=False, markup=False)
    if plan.cost_delta is not None:
        out.print(f"cost: {plan.cost_delta:+.2f} USD/month", highlight=False)
    out.print(f"dry run: {plan.dry_run}", highlight=False)
    out.print(plan.diff, highlight=False, markup=False)


@contextlib.asynccontextmanager
async def _toolbox(opened: Services, who: str, workspace: str | None,
                   namespace: str | None) -> AsyncIterator[Toolbox]:
    """The person's toolbox, as a chat turn gets it; its audit events are written when the
    command is done, also when a tool call failed."""
    from agents.toolbox import Toolbox

    security = await opened.identity.context(who, workspace=workspace, namespace=namespace)
    box = Toolbox(security, opened.envs.for_context(security), opened.confirmations)
    try:
        yield box
    finally:
        await opened.confirmations.store.record_many(box.events)


async def _run(settings_dir: Path | None, ctx: typer.Context, tool: str, who: str,
               workspace: str | None, namespace: str | None, pairs: list[str], as_json: bool,
               execute: bool) -> None:
    from tools import registry
    from tools.spec import Effect

    spec = registry.get(tool)
    raw = parse_pairs(pairs, read_local_file)
    async with services(ctx, settings_dir) as opened:
        async with _toolbox(opened, who, workspace, namespace) as box:
            if spec.effect is Effect.READ:
                result = await box.read(tool, raw)
                out.print(json.dumps(result.data, indent=2, default=str) if as_json
                          else result.text, highlight=False, markup=False)
                return
            action = await box.propose_action(tool, raw)
        if as_json:
            out.print(json.dumps(action.plan.to_dict(), indent=2), highlight=False)
        else:
            _print_plan(action.plan)
        if not execute:
            out.print(f"Waiting for approval: hexabot approve {action.id} --as <approver> "
                      f"(or reject); expires {action.expires_at:%H:%M UTC}.", highlight=False)
            return
        decision = await opened.confirmations.approve(action.id, box.ctx.slack_id)
        out.print(decision.message, highlight=False, markup=False)
        if not decision.ok:
            raise typer.Exit(1)


async def _diagnose(settings_dir: Path | None, ctx: typer.Context, who: str,
                    workspace: str | None, namespace: str | None) -> tuple[list[Any], list[str]]:
    async with services(ctx, settings_dir) as opened:
        async with _toolbox(opened, who, workspace, namespace) as box:
            return await box.diagnose(box.ctx.namespace)


def diagnose_cmd(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY,
                 workspace: str = typer.Option(None, "--workspace"),
                 namespace: str = typer.Option(None, "--namespace"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Diagnose a namespace: root causes with evidence, fixes and ready proposals."""
    findings, unreadable = asyncio.run(_diagnose(directory, ctx, who, workspace, namespace))
    if as_json:
        out.print(json.dumps([f.as_json() for f in findings], indent=2), highlight=False,
                  markup=False)
        return
    for finding in findings:
        out.print(finding.text(), highlight=False, markup=False)
    if not findings:
        out.print("No findings: everything I can read looks healthy.", highlight=False)
    if unreadable:
        out.print(f"(not readable as you: {', '.join(sorted(unreadable))})", highlight=False)


@tools_cli.command("list")
def list_cmd() -> None:
    """List every tool with its effect, the access it needs and its arguments."""
    from tools import registry

    table = Table(title="hexabot tools")
    for column in ("tool", "effect", "needs", "arguments", "what it does"):
        table.add_column(column, overflow="fold")
    for spec in registry.TOOLS:
        table.add_row(spec.name, spec.effect.value, "; ".join(a.describe() for a in spec.needs),
                      ", ".join(spec.args.model_fields), spec.description)
    out.print(table)


@tools_cli.command("run", context_settings={"allow_extra_args": False})
def run_cmd(ctx: typer.Context, tool: str = typer.Argument(..., help="tool name"),
            pairs: list[str] = typer.Argument(None, help="key=value arguments"),
            who: str = AS, directory: Path = DIRECTORY,
            workspace: str = typer.Option(None, "--workspace", help="one of your workspaces"),
            namespace: str = typer.Option(None, "--namespace", help="one of your namespaces"),
            as_json: bool = typer.Option(False, "--json", help="structured output"),
            execute: bool = typer.Option(False, "--execute", help="approve your own WRITE plan "
                                         "at once (refused where two people are needed)")
            ) -> None:
    """Run a READ tool, or propose a WRITE tool's plan for approval, as a user."""
    asyncio.run(_run(directory, ctx, tool, who, workspace, namespace, pairs or [], as_json,
                     execute))
