"""`hexabot audit tail | verify | ship`: read, check and move the audit trail.

``tail`` and ``verify`` read ClickHouse when ``HEXABOT_CLICKHOUSE_URL`` is set, else the Postgres
outbox (the embedded default keeps everything there).  ``verify`` recomputes every partition's
hash chain and the anchors over them, and names the partition and seq of every edited, inserted
or deleted event (docs/audit-chain.md: what it proves, and the window after the newest anchor).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from typing import Any

import typer
from rich.console import Console

from app.cli_common import settings_of
from app.settings import Settings

audit_cli = typer.Typer(help="Read, verify and ship the audit trail.", no_args_is_help=True)
out = Console(soft_wrap=True)


def parse_since(text: str | None) -> datetime | None:
    from app.audit import reader

    try:
        return reader.since(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _line(event: dict[str, Any]) -> str:
    where = "/".join(p for p in (event.get("workspace"), event.get("namespace")) if p) or "-"
    extra = [f"{k}={event[k]}" for k in ("confirmation_id", "approver", "resource_name",
                                         "error") if event.get(k)]
    return " ".join([event.get("at", "?"), event.get("kind", "?"), event.get("actor", "?"),
                     where, event.get("outcome", "?"), *extra])


SLACK_ID = re.compile(r"^[UW][A-Z0-9]+$")


async def _slack_id(settings: Settings, who: str) -> str:
    """``--user`` as ``--as`` takes it: a Slack id, or a name from the directory."""
    if SLACK_ID.match(who):
        return who
    if settings.identity_provider == "static" and settings.directory_file is not None:
        from app.identity import static

        try:
            entry = await static.load(settings.directory_file).lookup(who)
        except static.DirectoryError as exc:
            raise typer.BadParameter(str(exc), param_hint="--user") from exc
        if entry is None:
            raise typer.BadParameter(f"no user named {who!r} in {settings.directory_file}",
                                     param_hint="--user")
        return entry.slack_id
    raise typer.BadParameter(f"{who!r} is not a Slack id (U…), and names are looked up only in "
                             "a static directory (HEXABOT_DIRECTORY_FILE)", param_hint="--user")


@audit_cli.command("tail")
def tail(ctx: typer.Context, user: str = typer.Option(None, "--user",
                                                      help="Slack user id, or a directory name"),
         workspace: str = typer.Option(None, "--workspace"),
         since: str = typer.Option(None, "--since", help="e.g. 30m, 1h, 2d"),
         limit: int = typer.Option(50, "--limit", min=1, max=10000)) -> None:
    """Show recent audit events, newest last."""
    from app.audit import reader
    from app.database import open_database

    settings, start = settings_of(ctx), parse_since(since)

    actor = asyncio.run(_slack_id(settings, user)) if user else None

    async def run() -> list[dict[str, Any]]:
        if settings.clickhouse_url is not None:  # no PostgreSQL needed to read ClickHouse
            return await reader.events(settings, None, actor, since=start, limit=limit,
                                       workspace=workspace)
        async with open_database(settings) as db:
            return await reader.events(settings, db.engine, actor, since=start, limit=limit,
                                       workspace=workspace)

    for event in asyncio.run(run()):
        out.print(_line(event), markup=False, highlight=False)


@audit_cli.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute every partition's hash chain and the anchors over them; exit 1 naming the
    partition and seq of each altered, inserted or deleted event."""
    from app.audit import clickhouse, shipper
    from app.database import open_database
    from tools.audit import AnchorRow, EventRow
    from tools.audit import verify as verify_chains

    settings = settings_of(ctx)

    async def run() -> tuple[str, list[EventRow], list[AnchorRow]]:
        if settings.clickhouse_url is not None:
            url = settings.clickhouse_url.get_secret_value()
            anchors = [(int(s), str(v), str(h), json.loads(a))  # first: as outbox_chain
                       for s, v, h, a in await clickhouse.anchors(url)]
            rows = [(int(p), int(s), str(v), str(h), json.loads(e))
                    for p, s, v, h, e in await clickhouse.chain(url)]
            return "ClickHouse", rows, anchors
        async with open_database(settings) as db:
            return "the Postgres outbox", *await shipper.outbox_chain(db.engine)

    source, rows, anchors = asyncio.run(run())
    verdict = verify_chains(rows, anchors)
    if verdict.problems:
        for problem in verdict.problems:
            Console(stderr=True).print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1)
    out.print(f"audit chain intact: {verdict.events} events in {source}", highlight=False)
    out.print(_coverage(verdict.partitions, verdict.anchors, verdict.unanchored,
                        verdict.newest), highlight=False)


def _coverage(partitions: int, anchors: int, unanchored: int,
              newest: tuple[int, str] | None) -> str:
    """What the anchors vouch for, and the window they do not."""
    where = f"{partitions} partition{'s' if partitions != 1 else ''}"
    if newest is None:
        return (f"{where}, no anchor yet: a deleted tail of any partition would not show "
                "(anchors are written by the shipper and the background loop)")
    seq, digest = newest
    return (f"{where}, {anchors} anchors; newest anchor {seq} ({digest[:16]}) covers all but "
            f"{unanchored} events written after it, whose deleted tail would not show")


@audit_cli.command("ship")
def ship(ctx: typer.Context) -> None:
    """Ship every unshipped outbox event to ClickHouse now."""
    from app.audit import shipper
    from app.database import open_database

    settings = settings_of(ctx)
    if settings.clickhouse_url is None:
        out.print("HEXABOT_CLICKHOUSE_URL is not set: events stay in the Postgres outbox.")
        raise typer.Exit(1)
    url = settings.clickhouse_url.get_secret_value()

    async def run() -> int:
        async with open_database(settings) as db:
            return await shipper.Shipper(db.engine, url).drain()

    out.print(f"shipped {asyncio.run(run())} events", highlight=False)
