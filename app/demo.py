"""`hexabot demo`: what a newcomer runs first (``make demo``), on embedded defaults only.

It runs every part that exists today and names, plainly, the parts that are not built yet; it
never prints output for something that did not run.
"""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.table import Table

from app import doctor, migrate
from app.database import open_database
from app.settings import Settings
from sandbox.kube.rbac import Attributes, Authorizer, UserInfo
from sandbox.kube.serve import SandboxCluster, sandbox_cluster

NOT_BUILT_YET = (
    ("Identity: Slack user -> Hexabase identity -> namespaces", "#4"),
    ("Kubernetes read/write tools acting as the user", "#5"),
    ("Approvals in Postgres and audit to ClickHouse", "#6"),
    ("Chat agent, LLM gateway and command mode", "#7"),
    ("Slack app, Slack emulator and the web console", "#8"),
)
QUESTIONS = (  # (user, groups, verb, resource, subresource, namespace)
    ("alice", ("developers", "shop-team"), "patch", "deployments", "scale", "shop"),
    ("alice", ("developers", "shop-team"), "delete", "deployments", "", "shop"),
    ("bob", ("viewers",), "get", "pods", "log", "shop"),
    ("bob", ("viewers",), "list", "pods", "", "shop"),
    ("hexabot", ("hexabot-bots",), "list", "pods", "", "shop"),
)


def _cluster_tour(sc: SandboxCluster, out: Console) -> None:
    store, registry = sc.cluster.store, sc.cluster.registry
    table = Table(title=f"Sandbox cluster at {sc.url}: workloads")
    for column in ("namespace", "kind", "name", "ready"):
        table.add_column(column)
    for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
        for obj in store.iter(registry.require("apps", "v1", plural)):
            status = obj.get("status") or {}
            table.add_row(obj["metadata"]["namespace"], kind, obj["metadata"]["name"],
                          f"{status.get('readyReplicas', 0)}/{obj['spec'].get('replicas', 1)}")
    out.print(table)
    authorizer = Authorizer(store, registry)
    rbac = Table(title="RBAC answers (the API server decides, not the bot)")
    for column in ("user", "may", "in", "answer"):
        rbac.add_column(column)
    for user, groups, verb, resource, sub, namespace in QUESTIONS:
        attrs = Attributes(verb=verb, group="apps" if resource == "deployments" else "",
                           resource=resource, subresource=sub, namespace=namespace)
        allowed = authorizer.authorize(UserInfo(user, groups), attrs).allowed
        rbac.add_row(user, f"{verb} {attrs.full_resource}", namespace,
                     "[green]yes[/]" if allowed else "[red]no[/]")
    out.print(rbac)
    out.print("Try it with kubectl: `hexabot sandbox serve --kubeconfig-out kubeconfig`, then "
              "`KUBECONFIG=kubeconfig kubectl --context bob get pods -n shop`.")


async def _run(settings: Settings, out: Console) -> None:
    async with open_database(settings) as db:
        out.print(f"[bold]PostgreSQL[/]: {db.describe()}")
        state = await migrate.migrate(db.engine)
        out.print(f"[bold]Schema[/]: at head {state.after}"
                  + (f" (migrated from {state.before or 'empty'})" if state.changed else ""))
    for check in await doctor.run_checks(settings):
        out.print(f"[bold]{check.name}[/]: {check.status.value} - {check.detail}")
    async with sandbox_cluster() as sc:
        _cluster_tour(sc, out)


def run(settings: Settings, out: Console) -> None:
    out.rule("Hexabot demo")
    asyncio.run(_run(settings, out))
    out.rule("Not built yet")
    for what, issue in NOT_BUILT_YET:
        out.print(f"- {what} (issue {issue})")
    out.print("The demo grows as these land; nothing above was simulated.")
