"""`hexabot eval`: run the shipped scenarios (or your own) against a provider and print the
pass rate, time and model tokens per scenario and overall (:mod:`app.evals`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import settings_of
from app.settings import Settings

out = Console(soft_wrap=True)


def eval_cmd(ctx: typer.Context,
             provider: str = typer.Option("command", "--provider",
                                          help="command (no LLM), ollama or openai — as "
                                               "configured by HEXABOT_* settings"),
             scenarios: Path = typer.Option(None, "--scenarios", file_okay=False,
                                            help="a directory of scenario YAML files "
                                                 "(default: the shipped ones)"),
             as_json: bool = typer.Option(False, "--json", help="results as JSON"),
             judge: bool = typer.Option(False, "--judge", help="also let the provider judge "
                                        "each scenario's wording (LLM-as-judge)")) -> None:
    """Run scenarios against a provider: what it called, proposed and said, checked; exit 1
    if any failed."""
    from app import evals
    from app.evals.run import PROVIDERS, run

    if provider not in PROVIDERS:
        raise evals.ScenarioError(f"--provider {provider!r}: expected one of "
                                  f"{', '.join(PROVIDERS)}")
    settings: Settings = settings_of(ctx)
    found = evals.load(scenarios)
    outcomes = asyncio.run(run(settings, found, provider, judge))
    total = evals.summary(outcomes)
    if as_json:
        out.print(json.dumps({"provider": provider, "summary": total,
                              "scenarios": [o.as_json() for o in outcomes]}, indent=2),
                  markup=False, highlight=False)
    else:
        table = Table(title=f"hexabot eval — {provider}")
        for column in ("scenario", "result", "seconds", "tokens in/out", "what went wrong"):
            table.add_column(column)
        for o in outcomes:
            table.add_row(o.scenario, "pass" if o.passed else "[red]FAIL[/]", f"{o.seconds:.2f}",
                          f"{o.input_tokens}/{o.output_tokens}", "; ".join(o.failures))
        out.print(table)
        out.print(f"{total['passed']}/{total['scenarios']} passed ({total['pass_rate']:.0%}); "
                  f"median {total['p50_seconds']:.2f} s per question; tokens "
                  f"{total['input_tokens']} in, {total['output_tokens']} out")
    if total["passed"] < total["scenarios"]:
        raise typer.Exit(1)
