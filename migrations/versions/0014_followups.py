"""Following an approved change until it converges: ``followups``, and the thread a card was
posted in (``pending_actions.slack_thread_ts``) so the outcome goes to that thread.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("pending_actions", sa.Column("slack_thread_ts", sa.Text, nullable=True))
    op.create_table(
        "followups",
        sa.Column("action_id", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text, nullable=False) for name in (
            "tool", "kind", "name", "namespace", "requester", "workspace", "workspace_id")),
        sa.Column("state", sa.Text, nullable=False, server_default=sa.text("'following'")),
        sa.Column("outcome", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("told_at", TS, nullable=True),
        sa.Column("rollback_action", sa.Text, nullable=True),
    )
    op.create_index("followups_open", "followups", ["deadline"],
                    postgresql_where=sa.text("state = 'following'"))


def downgrade() -> None:
    op.drop_index("followups_open", table_name="followups")
    op.drop_table("followups")
    op.drop_column("pending_actions", "slack_thread_ts")
