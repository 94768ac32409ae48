"""Guardrails: how many approvals an action needs and who has given one, plus the indexes the
rate and concurrency limits read (the user's recent writes, the workspace's open changes).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pending_actions", sa.Column(
        "approvals", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")))
    op.add_column("pending_actions", sa.Column(
        "approvals_needed", sa.Integer, nullable=False, server_default=sa.text("1")))
    op.add_column("pending_actions", sa.Column("policy_rule", sa.Text))
    op.create_index("pending_actions_requester_created", "pending_actions",
                    ["requester", "created_at"])
    op.create_index("pending_actions_workspace_state", "pending_actions",
                    ["workspace", "state"])


def downgrade() -> None:
    op.drop_index("pending_actions_workspace_state", "pending_actions")
    op.drop_index("pending_actions_requester_created", "pending_actions")
    op.drop_column("pending_actions", "policy_rule")
    op.drop_column("pending_actions", "approvals_needed")
    op.drop_column("pending_actions", "approvals")
