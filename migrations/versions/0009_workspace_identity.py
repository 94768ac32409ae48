"""Workspaces are identified by name *and* cluster: pending actions and workflow runs record
the workspace's identity (``name@cluster-fingerprint``), and lists, approvals and resumptions
match on it.  Rows from before have none and are refused (fail closed) until they expire.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pending_actions", sa.Column("workspace_id", sa.Text))
    op.add_column("workflow_runs", sa.Column("workspace_id", sa.Text))
    op.create_index("pending_actions_workspace_id_state", "pending_actions",
                    ["workspace_id", "state"])


def downgrade() -> None:
    op.drop_index("pending_actions_workspace_id_state", "pending_actions")
    op.drop_column("workflow_runs", "workspace_id")
    op.drop_column("pending_actions", "workspace_id")
