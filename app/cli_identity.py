"""CLI commands about who you are: whoami, workspace, namespace, login, logout.

Each takes ``--as`` (a Slack user id, or a name in the static directory) and ``--directory``
(overrides ``HEXABOT_DIRECTORY_FILE``), see :mod:`app.cli_common`.  They call the same
IdentityService as Slack does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer
from rich.console import Console

from app.cli_common import AS, DIRECTORY, services, settings_of
from app.settings import Settings
from tools.security import SecurityContext

if TYPE_CHECKING:
    from app.identity.hexabase import Linked

out = Console()


def _show_or_switch(ctx: typer.Context, directory: Path | None, who: str, name: str | None,
                    what: str) -> None:
    async def run() -> SecurityContext:
        async with services(ctx, directory) as opened:
            identity = opened.identity
            if not name:
                return await identity.context(who)
            if what == "workspace":
                return await identity.switch_workspace(who, name)
            return await identity.switch_namespace(who, name)

    context = asyncio.run(run())
    if what == "workspace":
        out.print(f"workspace: {context.workspace} (namespace {context.namespace})",
                  highlight=False)
    else:
        out.print(f"namespace: {context.namespace} (workspace {context.workspace}; "
                  f"allowed: {', '.join(context.namespaces)})", highlight=False)


def register(cli: typer.Typer) -> None:
    @cli.command("whoami")
    def whoami(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY) -> None:
        """Show your identity, workspace, namespace and how Hexabot reaches your cluster."""
        async def run() -> None:
            async with services(ctx, directory) as opened:
                me = await opened.identity.whoami(who)
                c = me.context
                out.print(f"{c.name} (Slack {c.slack_id}, Hexabase {c.hexabase_user})",
                          highlight=False)
                out.print(f"groups: {', '.join(c.groups) or 'none'}", highlight=False)
                out.print(f"workspace: {c.workspace} (yours: "
                          f"{', '.join(w.name for w in me.entry.workspaces)})", highlight=False)
                out.print(f"namespace: {c.namespace} (allowed: {', '.join(c.namespaces)})",
                          highlight=False)
                out.print(f"cluster access: {c.credentials.describe()}; workspace identity "
                          f"{c.workspace_id} (name and cluster)", highlight=False)
        asyncio.run(run())

    @cli.command("workspace")
    def workspace(ctx: typer.Context, name: str = typer.Argument(None), who: str = AS,
                  directory: Path = DIRECTORY) -> None:
        """Show your current workspace, or switch to NAME."""
        _show_or_switch(ctx, directory, who, name, "workspace")

    @cli.command("namespace")
    def namespace(ctx: typer.Context, name: str = typer.Argument(None), who: str = AS,
                  directory: Path = DIRECTORY) -> None:
        """Show your current namespace, or switch to NAME."""
        _show_or_switch(ctx, directory, who, name, "namespace")

    @cli.command("login")
    def login(ctx: typer.Context, who: str = AS,
              wait: bool = typer.Option(False, "--wait", help="Serve the OAuth callback here "
                                        "until the sign-in completes")) -> None:
        """Link your Slack user to your Hexabase account (prints a sign-in link)."""
        settings = settings_of(ctx)
        if settings.identity_provider != "hexabase":
            out.print("Account linking needs HEXABOT_IDENTITY_PROVIDER=hexabase; the static "
                      "directory lists its users in its YAML file.")
            raise typer.Exit(1)
        asyncio.run(_login(settings, who, wait))

    @cli.command("logout")
    def logout(ctx: typer.Context, who: str = AS, directory: Path = DIRECTORY) -> None:
        """Forget your link, cached credentials, context, conversation memory and workflow runs."""
        async def run() -> None:
            async with services(ctx, directory) as opened:
                deleted = await opened.identity.logout(who)
                out.print("forgotten: " + ", ".join(f"{n} {t}" for t, n in deleted.items()),
                          highlight=False)
        asyncio.run(run())


async def _login(settings: Settings, who: str, wait: bool) -> None:
    from starlette.applications import Starlette

    from app.http import server
    from app.identity import callback
    from app.services import open_services

    async with open_services(settings) as services:
        assert services.link_flow is not None
        out.print(await services.link_flow.start(who), highlight=False, soft_wrap=True)
        if not wait:
            out.print("Open the link to sign in; the bot's callback "
                      f"({settings.oauth_redirect_url}) completes the link.", highlight=False)
            return
        done: asyncio.Future[Linked] = asyncio.get_running_loop().create_future()

        def linked_once(linked: Linked) -> None:
            if not done.done():
                done.set_result(linked)

        app = Starlette(routes=[callback.route(services.link_flow, linked_once)])
        parts = urlsplit(settings.oauth_redirect_url)
        async with server.serving(app, (parts.hostname or "127.0.0.1", parts.port or 80)):
            linked = await asyncio.wait_for(done, timeout=600)
        out.print(f"linked {who} to {linked.hexabase_user}; workspaces: "
                  f"{', '.join(linked.workspaces) or 'none'}", highlight=False)
