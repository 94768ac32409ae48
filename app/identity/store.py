"""Identity state in Postgres: current workspace/namespace, account links, OAuth states, and
the workspaces (with encrypted kubeconfigs) fetched for linked users.

Every write that matters records its audit event in the same transaction (outbox).  ``wipe``
deletes everything the bot holds about a user — used by logout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.tables import conversation_messages, workflow_runs
from confirmations import outbox
from tools.audit import AuditEvent
from tools.schema import metadata

NOW = sa.func.now()
TS = sa.DateTime(timezone=True)
user_context = sa.Table(
    "user_context", metadata,
    sa.Column("slack_id", sa.Text, primary_key=True),
    sa.Column("workspace", sa.Text),
    sa.Column("namespace", sa.Text),
    sa.Column("updated_at", TS, nullable=False, server_default=NOW),
)
identity_links = sa.Table(
    "identity_links", metadata,
    sa.Column("slack_id", sa.Text, primary_key=True),
    sa.Column("hexabase_user", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("groups", sa.JSON, nullable=False),
    sa.Column("token_encrypted", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=NOW),
)
oauth_states = sa.Table(
    "oauth_states", metadata,
    sa.Column("state", sa.Text, primary_key=True),
    sa.Column("slack_id", sa.Text, nullable=False),
    sa.Column("verifier_encrypted", sa.LargeBinary, nullable=False),
    sa.Column("created_at", TS, nullable=False, server_default=NOW),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
    sa.Index("oauth_states_slack_id", "slack_id"),
)
workspace_credentials = sa.Table(
    "workspace_credentials", metadata,
    sa.Column("slack_id", sa.Text, primary_key=True),
    sa.Column("workspace", sa.Text, primary_key=True),
    sa.Column("namespaces", sa.JSON, nullable=False),
    sa.Column("default_namespace", sa.Text, nullable=False),
    sa.Column("two_person_namespaces", sa.JSON, nullable=False),
    sa.Column("sensitive", sa.Boolean, nullable=False),
    sa.Column("context", sa.Text, nullable=False),
    sa.Column("kubeconfig_encrypted", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
)
# Everything keyed by a Slack user that logout must remove: their link and credentials,
# context, conversation memory and workflow runs.
PER_USER_TABLES = (identity_links, oauth_states, workspace_credentials, user_context,
                   conversation_messages, workflow_runs)


@dataclass(frozen=True)
class Link:
    slack_id: str
    hexabase_user: str
    name: str
    groups: tuple[str, ...]
    token_encrypted: bytes
    expires_at: datetime


@dataclass(frozen=True)
class StoredWorkspace:
    workspace: str
    namespaces: tuple[str, ...]
    default_namespace: str
    two_person_namespaces: tuple[str, ...]
    sensitive: bool
    context: str
    kubeconfig_encrypted: bytes


class IdentityStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, event: AuditEvent) -> None:
        async with self.engine.begin() as conn:
            await outbox.record(conn, event)

    # -- current workspace / namespace ---------------------------------------------------
    async def get_context(self, slack_id: str) -> tuple[str | None, str | None]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(user_context.c.workspace,
                                                user_context.c.namespace)
                                      .where(user_context.c.slack_id == slack_id))).first()
        return (row.workspace, row.namespace) if row else (None, None)

    async def set_context(self, slack_id: str, workspace: str, namespace: str,
                          event: AuditEvent) -> None:
        statement = insert(user_context).values(slack_id=slack_id, workspace=workspace,
                                                namespace=namespace, updated_at=NOW)
        statement = statement.on_conflict_do_update(
            index_elements=[user_context.c.slack_id],
            set_={"workspace": workspace, "namespace": namespace, "updated_at": NOW})
        async with self.engine.begin() as conn:
            await conn.execute(statement)
            await outbox.record(conn, event)

    # -- OAuth states (single use, expiring) ---------------------------------------------
    async def add_state(self, state: str, slack_id: str, verifier: bytes,
                        expires_at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(oauth_states.insert().values(
                state=state, slack_id=slack_id, verifier_encrypted=verifier,
                expires_at=expires_at, created_at=NOW))

    async def claim_state(self, state: str) -> tuple[str, bytes] | None:
        """Mark a state used, atomically; None if unknown, used already, or expired."""
        statement = (oauth_states.update()
                     .where(oauth_states.c.state == state, oauth_states.c.used_at.is_(None),
                            oauth_states.c.expires_at > NOW)
                     .values(used_at=NOW)
                     .returning(oauth_states.c.slack_id, oauth_states.c.verifier_encrypted))
        async with self.engine.begin() as conn:
            row = (await conn.execute(statement)).first()
        return (row.slack_id, row.verifier_encrypted) if row else None

    # -- links and fetched workspaces ----------------------------------------------------
    async def save_link(self, link: Link, workspaces: list[StoredWorkspace],
                        expires_at: datetime, event: AuditEvent) -> None:
        values: dict[str, Any] = {
            "hexabase_user": link.hexabase_user, "name": link.name, "groups": list(link.groups),
            "token_encrypted": link.token_encrypted, "expires_at": link.expires_at}
        upsert = insert(identity_links).values(slack_id=link.slack_id, created_at=NOW, **values)
        upsert = upsert.on_conflict_do_update(index_elements=[identity_links.c.slack_id],
                                              set_=values)
        async with self.engine.begin() as conn:
            await conn.execute(upsert)
            await conn.execute(workspace_credentials.delete().where(
                workspace_credentials.c.slack_id == link.slack_id))
            for ws in workspaces:
                await conn.execute(workspace_credentials.insert().values(
                    slack_id=link.slack_id, workspace=ws.workspace,
                    namespaces=list(ws.namespaces), default_namespace=ws.default_namespace,
                    two_person_namespaces=list(ws.two_person_namespaces),
                    sensitive=ws.sensitive, context=ws.context,
                    kubeconfig_encrypted=ws.kubeconfig_encrypted, expires_at=expires_at))
            await outbox.record(conn, event)

    async def get_link(self, slack_id: str) -> tuple[Link, list[StoredWorkspace]] | None:
        """The user's link and unexpired workspaces; None when unlinked or expired."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(identity_links).where(
                identity_links.c.slack_id == slack_id,
                identity_links.c.expires_at > NOW))).first()
            if row is None:
                return None
            rows = (await conn.execute(sa.select(workspace_credentials).where(
                workspace_credentials.c.slack_id == slack_id,
                workspace_credentials.c.expires_at > NOW)
                .order_by(workspace_credentials.c.workspace))).all()
        link = Link(slack_id=row.slack_id, hexabase_user=row.hexabase_user, name=row.name,
                    groups=tuple(row.groups), token_encrypted=row.token_encrypted,
                    expires_at=row.expires_at)
        return link, [StoredWorkspace(
            workspace=r.workspace, namespaces=tuple(r.namespaces),
            default_namespace=r.default_namespace,
            two_person_namespaces=tuple(r.two_person_namespaces), sensitive=r.sensitive,
            context=r.context, kubeconfig_encrypted=r.kubeconfig_encrypted) for r in rows]

    async def wipe(self, slack_id: str, event: AuditEvent) -> dict[str, int]:
        """Delete everything held about ``slack_id``; returns rows deleted per table."""
        deleted: dict[str, int] = {}
        async with self.engine.begin() as conn:
            for table in PER_USER_TABLES:
                result = await conn.execute(table.delete().where(table.c.slack_id == slack_id))
                deleted[table.name] = result.rowcount
            await outbox.record(conn, event)
        return deleted
