"""Identity (context, links, OAuth states, workspace credentials) and the audit outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "user_context",
        sa.Column("slack_id", sa.Text, primary_key=True),
        sa.Column("workspace", sa.Text, nullable=True),
        sa.Column("namespace", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "identity_links",
        sa.Column("slack_id", sa.Text, primary_key=True),
        sa.Column("hexabase_user", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("token_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    )
    op.create_table(
        "oauth_states",
        sa.Column("state", sa.Text, primary_key=True),
        sa.Column("slack_id", sa.Text, nullable=False),
        sa.Column("verifier_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("oauth_states_slack_id", "oauth_states", ["slack_id"])
    op.create_table(
        "workspace_credentials",
        sa.Column("slack_id", sa.Text, nullable=False),
        sa.Column("workspace", sa.Text, nullable=False),
        sa.Column("namespaces", sa.JSON, nullable=False),
        sa.Column("default_namespace", sa.Text, nullable=False),
        sa.Column("two_person_namespaces", sa.JSON, nullable=False),
        sa.Column("sensitive", sa.Boolean, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("kubeconfig_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("slack_id", "workspace"),
    )
    op.create_table(
        "audit_outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("audit_outbox_unshipped", "audit_outbox", ["id"],
                    postgresql_where=sa.text("shipped_at IS NULL"))


def downgrade() -> None:
    op.drop_table("audit_outbox")
    op.drop_table("workspace_credentials")
    op.drop_table("oauth_states")
    op.drop_table("identity_links")
    op.drop_table("user_context")
