"""`hexabot workflow list | run NAME --as U key=value … | show RUN --as U | resume`.

``run`` starts a template as the user and prints each step's outcome; a run that proposed a
change waits (saved in Postgres) until the action is decided — ``hexabot approve`` and Slack's
buttons resume it at once, ``workflow resume`` (and the bot's background sweeper) picks up any
that were decided elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import AS, DIRECTORY, services
from app.pairs import parse_pairs, read_local_file

if TYPE_CHECKING:
    from agents.orchestrator.runner import WorkflowRun

workflow_cli = typer.Typer(help="Multi-step workflows (templates in agents/workflows/).",
                           no_args_is_help=True)
out = Console(soft_wrap=True)
err = Console(stderr=True)


def _print(run: WorkflowRun, as_json: bool) -> None:
    if as_json:
        out.print(json.dumps({"id": run.id, "workflow": run.workflow, "state": run.state,
                              "inputs": run.inputs, "output": run.output,
                              "steps": {k: asdict(v) for k, v in run.steps.items()}},
                             indent=2, default=str), highlight=False, markup=False)
    else:
        out.print(run.text(), highlight=False, markup=False)


@workflow_cli.command("list")
def list_cmd() -> None:
    """List the workflow templates with their inputs and steps."""
    from agents.orchestrator.specialists import default_agents
    from agents.orchestrator.workflow import load_all

    table = Table(title="hexabot workflows")
    for column in ("workflow", "inputs (? = optional)", "steps", "what it does"):
        table.add_column(column, overflow="fold")
    for workflow in load_all(default_agents()).values():
        table.add_row(workflow.name, ", ".join(i.name + ("" if i.required else "?")
                                               for i in workflow.inputs),
                      " → ".join(s.id for s in workflow.steps), workflow.description)
    out.print(table)


@workflow_cli.command("run")
def run_cmd(ctx: typer.Context, name: str = typer.Argument(..., help="workflow name"),
            pairs: list[str] = typer.Argument(None, help="key=value inputs"),
            who: str = AS, directory: Path = DIRECTORY,
            workspace: str = typer.Option(None, "--workspace"),
            namespace: str = typer.Option(None, "--namespace"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Start a workflow as a user; proposals it makes wait for approval like any other."""
    async def run() -> None:
        async with services(ctx, directory) as opened:
            security = await opened.identity.context(who, workspace=workspace,
                                                     namespace=namespace)
            started, proposals = await opened.orchestrator.start(
                security, name, parse_pairs(pairs or [], read_local_file))
            _print(started, as_json)
            for proposal in proposals:
                out.print(f"awaiting approval #{proposal.id}: {proposal.summary} — hexabot "
                          f"approve {proposal.id} --as <approver>", highlight=False,
                          markup=False)
            if started.state == "failed":
                raise typer.Exit(1)
    asyncio.run(run())


@workflow_cli.command("show")
def show_cmd(ctx: typer.Context, run_id: str, who: str = AS, directory: Path = DIRECTORY,
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one of your runs."""
    from agents.orchestrator.workflow import WorkflowError

    async def run() -> None:
        async with services(ctx, directory) as opened:
            me = await opened.identity.whoami(who)
            found = await opened.orchestrator.runs.get(run_id, me.entry.slack_id)
            if found is None:
                raise WorkflowError(f"no workflow run {run_id} of yours")
            _print(found[1], as_json)
    asyncio.run(run())


@workflow_cli.command("resume")
def resume_cmd(ctx: typer.Context, directory: Path = DIRECTORY) -> None:
    """Resume every waiting run whose action has been decided."""
    async def run() -> None:
        async with services(ctx, directory) as opened:
            resumed = await opened.orchestrator.resume_due()
            for _, found in resumed:
                _print(found, False)
            if not resumed:
                out.print("No waiting run has a decided action.", highlight=False)
    asyncio.run(run())
