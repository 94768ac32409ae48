"""The ``hexabot`` command line: the composition root for every entrypoint.

Settings are built once per invocation (lazily, so ``--help`` and ``version`` work with a broken
environment) and passed down.  :func:`main` is the one error boundary of the CLI: configuration
problems print one line per fault and exit 2; every other failure prints one line (what failed,
what still works, a request id) and a documented exit code (see :func:`main`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from app import (
    cli_audit,
    cli_chat,
    cli_confirm,
    cli_eval,
    cli_identity,
    cli_policy,
    cli_tools,
    cli_workflow,
    failures,
    logs,
)
from app.cli_common import settings_of
from app.settings import ConfigError

cli = typer.Typer(
    name="hexabot",
    help="Hexabot: a Slack-first ChatOps agent for Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("hexabot.cli")


@cli.command("version")
def version_cmd() -> None:
    """Print Hexabot's version."""
    try:
        out.print(f"hexabot {version('hexabot')}")
    except PackageNotFoundError:
        out.print("hexabot (not installed as a package)")


@cli.command("migrate")
def migrate_cmd(ctx: typer.Context) -> None:
    """Apply the PostgreSQL migrations (idempotent; safe to run from several processes)."""
    from app import migrate as migrate_mod
    from app.audit import clickhouse
    from app.database import open_database

    settings = settings_of(ctx)

    async def run() -> migrate_mod.MigrationState:
        async with open_database(settings) as db:
            out.print(f"database: {db.describe()}")
            state = await migrate_mod.migrate(db.engine)
        if settings.clickhouse_url is not None:
            applied = await clickhouse.apply_ddl(settings.clickhouse_url.get_secret_value())
            out.print(f"clickhouse: applied {', '.join(applied)} (idempotent)")
        return state

    state = asyncio.run(run())
    if state.changed:
        out.print(f"migrated {state.before or 'empty schema'} -> {state.after}")
    else:
        out.print(f"already at head {state.head}; nothing to do")


@cli.command("doctor")
def doctor_cmd(ctx: typer.Context) -> None:
    """Check every configured dependency; exit 1 if a configured one (or a setting) fails."""
    from app import doctor as doctor_mod

    try:
        settings = settings_of(ctx)
    except ConfigError as exc:
        checks = doctor_mod.settings_failure(exc.problems)
    else:
        checks = asyncio.run(doctor_mod.run_checks(settings))
    table = Table(title="hexabot doctor")
    table.add_column("dependency")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    colours = {doctor_mod.Status.OK: "green", doctor_mod.Status.FAIL: "red",
               doctor_mod.Status.NOT_CONFIGURED: "yellow"}
    for check in checks:
        status = f"[{colours[check.status]}]{check.status.value}[/]"
        table.add_row(check.name, status, check.detail)
    out.print(table)
    if any(check.status is doctor_mod.Status.FAIL for check in checks):
        raise typer.Exit(1)


cli_identity.register(cli)
cli_confirm.register(cli)
cli_chat.register(cli)
cli.add_typer(cli_audit.audit_cli, name="audit")
cli.add_typer(cli_tools.tools_cli, name="tools")
cli.add_typer(cli_workflow.workflow_cli, name="workflow")
cli.add_typer(cli_policy.policy_cli, name="policy")
cli.command("diagnose")(cli_tools.diagnose_cmd)
cli.command("eval")(cli_eval.eval_cmd)
sandbox_cli = typer.Typer(help="Local stand-ins for trying Hexabot with no cluster or Slack.",
                          no_args_is_help=True)
cli.add_typer(sandbox_cli, name="sandbox")


@sandbox_cli.command("serve")
def sandbox_serve_cmd(
    fixture: Path = typer.Option(None, "--fixture", help="Fixture YAML (default: the demo one)",
                                 exists=True, dir_okay=False, readable=True),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(0, "--port", help="Port (0 = a free one)"),
    kubeconfig_out: Path = typer.Option(None, "--kubeconfig-out",
                                        help="Write a kubeconfig with one context per user"),
    latency: list[str] = typer.Option([], "--latency", help="SECONDS, or VERB:RESOURCE=SECONDS"),
    fail: list[str] = typer.Option([], "--fail", help="VERB:RESOURCE=RATE[:CODE], e.g. "
                                   "'patch:deployments=0.5:500'"),
    blackhole: list[str] = typer.Option([], "--blackhole", help="VERB:RESOURCE[=RATE]: never "
                                        "answer"),
    hold: list[str] = typer.Option([], "--hold", help="VERB:RESOURCE[=SECONDS]: hold writes "
                                   "until POST /sandbox/faults/release (or SECONDS)"),
    seed: int = typer.Option(None, "--seed", help="Seed for the fault rates"),
    faults_file: Path = typer.Option(None, "--faults", exists=True, dir_okay=False,
                                     help="YAML/JSON with latency/fail/blackhole/hold lists, seed"),
) -> None:
    """Serve a kubectl-compatible, RBAC-enforcing Kubernetes API from a fixture.

    Fault knobs (repeatable): VERB is get/list/watch/create/update/patch/delete/deletecollection
    or *; RESOURCE a plural (covers its subresources), plural/subresource, or *."""
    from sandbox.kube import serve
    try:
        faults = serve.Faults.from_options(latency=latency, fail=fail, blackhole=blackhole,
                                           hold=hold, seed=seed, file=faults_file)
    except serve.FaultSpecError as exc:
        err.print(f"fault error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from exc

    def announce(sc: serve.SandboxCluster) -> None:
        users = ", ".join(u.name for u in sc.fixture.users)
        out.print(f"sandbox cluster serving {sc.url}", highlight=False)
        out.print(f"kubeconfig: {sc.kubeconfig} (contexts: {users})", highlight=False)
        out.print("Ctrl-C to stop", highlight=False)

    path = fixture or serve.demo_fixture_path()
    try:
        asyncio.run(serve.serve_forever(path, host, port, kubeconfig_out, announce, faults))
    except serve.FixtureError as exc:
        err.print(f"fixture error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from exc
    out.print("sandbox cluster stopped")


@cli.command("run")
def run_cmd(ctx: typer.Context) -> None:
    """Run the Slack bot (Socket Mode), its HTTP server and background work until SIGTERM."""
    from app import run

    settings = settings_of(ctx)
    logs.configure(settings)
    out.print(f"connecting to Slack at {settings.slack_api_url} …", highlight=False)
    asyncio.run(run.run(settings))
    out.print("stopped")


@cli.command("serve-api")
def serve_api_cmd(ctx: typer.Context) -> None:
    """Serve the chat API alone (no Slack connection) until SIGTERM."""
    from app import run

    settings = settings_of(ctx)
    logs.configure(settings)
    asyncio.run(run.serve_api(settings))
    out.print("stopped")


@cli.command("demo")
def demo_cmd(ctx: typer.Context,
             no_wait: bool = typer.Option(False, "--no-wait",
                                          help="exit after the tour instead of serving the "
                                               "console until Ctrl-C")) -> None:
    """Run the local demo on embedded defaults (no Slack, cluster or LLM needed)."""
    from app import demo

    demo.run(settings_of(ctx), out, wait=not no_wait)


def main() -> None:
    """The CLI's one error boundary: no traceback reaches the terminal.

    Exit codes: 0 done; 1 refused or failed as asked (a check failed, a decision refused, an
    identity or tool error); 2 could not run: configuration, usage, a broken installation, or a
    dependency down (PostgreSQL, the Kubernetes API, ClickHouse — the line starts with its name
    and says what still works); 70 a bug (the line carries the request id; the traceback goes
    to the configured log)."""
    try:
        cli(prog_name="hexabot")
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(f"configuration error: {problem}", markup=False, highlight=False)
        sys.exit(failures.EXIT_CONFIG)
    except Exception as exc:
        failure = failures.explain(exc, failures.current_request_id())
        if not failure.expected:  # to the log stream when one is configured (run, serve-api)
            log.log(logging.ERROR if logging.getLogger().handlers else logging.DEBUG,
                    "unexpected error (request id %s)", failure.request_id, exc_info=exc)
        prefix = f"{failure.dependency} unavailable" if failure.dependency else (
            "error" if failure.expected else "internal error")
        err.print(f"{prefix}: {failure.text()}", markup=False, highlight=False)
        sys.exit(failure.exit_code)

if __name__ == "__main__":
    main()
