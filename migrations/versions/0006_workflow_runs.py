"""Workflow runs: the state of each step, so a run waiting for an approval survives restarts
and any replica can resume it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("workflow", sa.Text, nullable=False),
        sa.Column("slack_id", sa.Text, nullable=False),
        sa.Column("workspace", sa.Text, nullable=False),
        sa.Column("namespace", sa.Text, nullable=False),
        sa.Column("session_id", sa.Text, nullable=False, server_default=""),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("output", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("waiting_on", postgresql.ARRAY(sa.Text), nullable=False,
                  server_default="{}"),
        sa.Column("reply_channel", sa.Text),
        sa.Column("reply_ts", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.create_index("workflow_runs_waiting", "workflow_runs", ["state"],
                    postgresql_where=sa.text("state = 'waiting'"))
    op.create_index("workflow_runs_user", "workflow_runs", ["slack_id", "created_at"])


def downgrade() -> None:
    op.drop_table("workflow_runs")
