"""A DecisionFlow wired to the sandbox, a static directory and a real Postgres."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app import migrate
from app.identity import static
from app.identity.service import IdentityService
from app.identity.store import IdentityStore
from confirmations.flow import DecisionFlow
from confirmations.history import OutboxHistory
from confirmations.store import ConfirmationStore
from tests.sandbox_support import ThreadedSandbox
from tests.services import fetch_rows
from tools.env import Environments
from tools.kube.client import ClusterClients

DIRECTORY = """bot: {{kubeconfig: {kc}, context: hexabot}}
users:
  - {{slack_id: U0ALICE, name: alice, hexabase_user: hxb-alice, groups: [developers, shop-team],
     workspaces: [{{name: shop, impersonate: {{user: alice, groups: [developers, shop-team]}},
                   namespaces: [shop, shop-staging, data], two_person_namespaces: [shop]}}]}}
  - {{slack_id: U0BOB, name: bob, hexabase_user: hxb-bob, groups: [viewers],
     workspaces: [{{name: shop, kubeconfig: {kc}, context: bob,
                   namespaces: [shop, shop-staging], two_person_namespaces: [shop]}}]}}
  - {{slack_id: U0CAROL, name: carol, hexabase_user: hxb-carol, groups: [admins],
     workspaces: [{{name: shop, kubeconfig: {kc}, context: carol,
                   namespaces: [shop, shop-staging, data], two_person_namespaces: [shop]}}]}}
"""
# A fourth person who may approve in shop (for actions that need two approvers).
DAVE = """  - {{slack_id: U0DAVE, name: dave, hexabase_user: hxb-dave, groups: [admins],
     workspaces: [{{name: shop, impersonate: {{user: dave, groups: [admins]}},
                   namespaces: [shop, shop-staging, data], two_person_namespaces: [shop]}}]}}
"""


def cli_env(clean_env: dict[str, str], database_url: str, sandbox: ThreadedSandbox,
            tmp_path: Path) -> dict[str, str]:
    """The environment for `hexabot` subprocesses acting in the sandbox as DIRECTORY's users."""
    directory = tmp_path / "directory.yaml"
    directory.write_text(DIRECTORY.format(kc=sandbox.sc.kubeconfig))
    return {**clean_env, "HEXABOT_DATABASE_URL": database_url,
            "HEXABOT_DIRECTORY_FILE": str(directory)}


@dataclass
class Rig:
    flow: DecisionFlow
    engine: AsyncEngine
    identity: IdentityService
    database_url: str
    envs: Environments  # the same factory the flow uses, for the agent and the orchestrator

    async def rows(self, sql: str) -> list[asyncpg.Record]:
        return await fetch_rows(self.database_url, sql)


@contextlib.asynccontextmanager
async def rig(database_url: str, sandbox: ThreadedSandbox, tmp_path: Path,
              migrated: bool = False, people: str = DIRECTORY) -> AsyncIterator[Rig]:
    directory = tmp_path / "directory.yaml"
    directory.write_text(people.format(kc=sandbox.sc.kubeconfig))
    engine = create_async_engine(database_url, pool_size=10, max_overflow=20)
    if not migrated:
        await migrate.migrate(engine)
    identity = IdentityService(static.load(directory), IdentityStore(engine))
    clusters = ClusterClients()
    envs = Environments(clusters, audit_history=OutboxHistory(engine))
    try:
        yield Rig(DecisionFlow(ConfirmationStore(engine), identity, envs), engine, identity,
                  database_url, envs)
    finally:
        clusters.close()
        await engine.dispose()
