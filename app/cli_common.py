"""What every CLI command module shares: the typed ``--as``/``--directory`` options, the
invocation's settings (built once, lazily, so ``--help`` and ``version`` work with a broken
environment) and the services a command opens.

Refusals (any :class:`~tools.errors.HexabotError`) are not handled here or in the commands:
they reach the CLI's one error boundary (:func:`app.cli.main`), which prints one line and
exits with the documented code.  The command modules import the services (the agent,
LangChain, the Kubernetes client) when a command opens them, not when the CLI starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from app import tracing
from app.settings import Settings, load_settings

if TYPE_CHECKING:
    from app.services import Services

AS = typer.Option(..., "--as", help="Slack user id (or directory name) to act as")
DIRECTORY = typer.Option(None, "--directory", help="Static directory YAML (overrides "
                         "HEXABOT_DIRECTORY_FILE)", exists=True, dir_okay=False)


def settings_of(ctx: typer.Context, directory: Path | None = None) -> Settings:
    """The invocation's settings, built on first use; ``--directory`` takes over
    HEXABOT_DIRECTORY_FILE."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings(**({"directory_file": directory} if directory else {}))
        tracing.configure(root.obj)  # off unless HEXABOT_OTLP_ENDPOINT; flushed at exit
    return root.obj


@contextlib.asynccontextmanager
async def services(ctx: typer.Context, directory: Path | None) -> AsyncIterator[Services]:
    """Every service, for one command (see :func:`app.services.open_services`)."""
    from app.services import open_services

    async with open_services(settings_of(ctx, directory)) as opened:
        yield opened
