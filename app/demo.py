"""`hexabot demo`: what a newcomer runs first (``make demo``), on embedded defaults only.

It runs every part that exists today and names, plainly, the parts that are not built yet; it
never prints output for something that did not run.
"""

from __future__ import annotations

import asyncio

from rich.console import Console

from app import doctor, migrate
from app.database import open_database
from app.settings import Settings

NOT_BUILT_YET = (
    ("Sandbox Kubernetes cluster (kubectl-compatible, RBAC-enforcing)", "#3"),
    ("Identity: Slack user -> Hexabase identity -> namespaces", "#4"),
    ("Kubernetes read/write tools acting as the user", "#5"),
    ("Approvals in Postgres and audit to ClickHouse", "#6"),
    ("Chat agent, LLM gateway and command mode", "#7"),
    ("Slack app, Slack emulator and the web console", "#8"),
)


async def _run(settings: Settings, out: Console) -> None:
    async with open_database(settings) as db:
        out.print(f"[bold]PostgreSQL[/]: {db.describe()}")
        state = await migrate.migrate(db.engine)
        out.print(f"[bold]Schema[/]: at head {state.after}"
                  + (f" (migrated from {state.before or 'empty'})" if state.changed else ""))
    for check in await doctor.run_checks(settings):
        out.print(f"[bold]{check.name}[/]: {check.status.value} - {check.detail}")


def run(settings: Settings, out: Console) -> None:
    out.rule("Hexabot demo")
    asyncio.run(_run(settings, out))
    out.rule("Not built yet")
    for what, issue in NOT_BUILT_YET:
        out.print(f"- {what} (issue {issue})")
    out.print("The demo grows as these land; nothing above was simulated.")
