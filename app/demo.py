"""`hexabot demo`: what a newcomer runs first (``make demo``), on embedded defaults only.

It starts the sandbox cluster, writes a directory for its users, and runs the real services:
the four conversations of the product brief (command mode unless an LLM is configured), then an
approval — refused for the requester in a two-person namespace and for a viewer, accepted for an
admin, executed as the requester — and checks the audit chain.  Nothing is simulated; what is not
built yet is listed at the end.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import yaml
from rich.console import Console

from agents.types import Ask
from app import doctor, migrate
from app.audit.shipper import outbox_chain
from app.database import open_database
from app.services import open_services
from app.settings import Settings
from sandbox.kube.serve import SandboxCluster, sandbox_cluster
from tools.audit import verify_chain

NOT_BUILT_YET = (
    ("Slack app, Slack emulator and the web console", "#8"),
    ("AI analyzers, troubleshooting workflows and backup strategies", "#9"),
    ("Helm chart, container image, metrics and health endpoints", "#10"),
    ("Chat API for the Hexabase UI", "#11"),
    ("Operation policies and high-risk tools", "#12"),
)
CONVERSATIONS = ("How is my web app doing?", "My API is slow, can you scale it up?",
                 "Set up backups for my database", "My app keeps crashing")


def directory(sc: SandboxCluster) -> dict[str, object]:
    kubeconfig = str(sc.kubeconfig)
    team = ["shop", "shop-staging", "data"]
    return {
        "bot": {"kubeconfig": kubeconfig, "context": "hexabot"},
        "users": [
            {"slack_id": "U0ALICE", "name": "alice", "hexabase_user": "hxb-alice",
             "groups": ["developers", "shop-team"],
             "workspaces": [{"name": "shop", "impersonate": {
                 "user": "alice", "groups": ["developers", "shop-team"]},
                 "namespaces": team, "two_person_namespaces": ["shop"]}]},
            {"slack_id": "U0BOB", "name": "bob", "hexabase_user": "hxb-bob",
             "groups": ["viewers"], "workspaces": [{"name": "shop", "kubeconfig": kubeconfig,
                                                    "context": "bob", "namespaces": team}]},
            {"slack_id": "U0CAROL", "name": "carol", "hexabase_user": "hxb-carol",
             "groups": ["admins"], "workspaces": [{"name": "shop", "kubeconfig": kubeconfig,
                                                   "context": "carol", "namespaces": team}]},
        ],
    }


async def _conversations(settings: Settings, out: Console, workdir: Path,
                         sc: SandboxCluster) -> None:
    path = workdir / "directory.yaml"
    path.write_text(yaml.safe_dump(directory(sc)))
    demo_settings = settings.model_copy(update={"directory_file": path})
    async with open_services(demo_settings) as services:
        proposal = None
        for text in CONVERSATIONS:
            out.rule(f"alice: {text}")
            reply = await services.agent.handle(Ask("U0ALICE", text, "demo:U0ALICE"))
            out.print(reply.text, markup=False, highlight=False)
            proposal = proposal or next(iter(reply.proposals), None)
        if proposal is None:
            return
        out.rule(f"Approving #{proposal.id}: {proposal.summary}")
        for who in ("U0ALICE", "U0BOB", "U0CAROL"):
            decision = await services.confirmations.approve(proposal.id, who)
            verdict = "approved" if decision.ok else "refused"
            out.print(f"{who}: {verdict} — {decision.message}", markup=False, highlight=False)
        replicas = sc.cluster.store.peek(sc.cluster.registry.require(
            "apps", "v1", "deployments"), "shop", "api-service")
        out.print(f"api-service now wants {(replicas or {}).get('spec', {}).get('replicas')} "
                  "replicas (executed as alice, approved by carol).", highlight=False)
        problems = verify_chain(await outbox_chain(services.database.engine))
        out.print("Audit chain: " + ("intact" if not problems else "; ".join(problems)),
                  highlight=False)


async def _run(settings: Settings, out: Console) -> None:
    async with open_database(settings) as db:
        out.print(f"[bold]PostgreSQL[/]: {db.describe()}")
        state = await migrate.migrate(db.engine)
        out.print(f"[bold]Schema[/]: at head {state.after}"
                  + (f" (migrated from {state.before or 'empty'})" if state.changed else ""))
    for check in await doctor.run_checks(settings):
        out.print(f"[bold]{check.name}[/]: {check.status.value} - {check.detail}")
    async with sandbox_cluster(pod_start_delay=0.2) as sc:
        out.print(f"[bold]Sandbox cluster[/]: {sc.url} (users alice, bob, carol; "
                  "try it: `hexabot sandbox serve --kubeconfig-out kubeconfig`)")
        with tempfile.TemporaryDirectory(prefix="hexabot-demo-") as tmp:
            await _conversations(settings, out, Path(tmp), sc)


def run(settings: Settings, out: Console) -> None:
    out.rule("Hexabot demo")
    asyncio.run(_run(settings, out))
    out.rule("Not built yet")
    for what, issue in NOT_BUILT_YET:
        out.print(f"- {what} (issue {issue})")
    out.print("The demo grows as these land; nothing above was simulated.")
