"""Pending actions (confirmations) and the audit outbox hash chain.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("requester", sa.Text, nullable=False),
        sa.Column("requester_hexabase", sa.Text, nullable=False),
        sa.Column("workspace", sa.Text, nullable=False),
        sa.Column("namespace", sa.Text, nullable=False),
        sa.Column("tool", sa.Text, nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("params_hash", sa.Text, nullable=False),
        sa.Column("risk", sa.Text, nullable=False),
        sa.Column("two_person", sa.Boolean, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("approver", sa.Text, nullable=True),
        sa.Column("approver_hexabase", sa.Text, nullable=True),
        sa.Column("slack_channel", sa.Text, nullable=True),
        sa.Column("slack_ts", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("executing_at", TS, nullable=True),
        sa.Column("executed_at", TS, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.CheckConstraint(
            "state IN ('pending','approved','executing','succeeded','failed','unknown',"
            "'rejected','expired','cancelled')", name="pending_actions_state"),
    )
    op.create_index("pending_actions_open", "pending_actions", ["state", "expires_at"])
    op.create_index("pending_actions_requester", "pending_actions", ["requester", "created_at"])
    op.add_column("audit_outbox", sa.Column("seq", sa.BigInteger, nullable=True))
    op.add_column("audit_outbox", sa.Column("prev_hash", sa.Text, nullable=True))
    op.add_column("audit_outbox", sa.Column("hash", sa.Text, nullable=True))
    op.create_index("audit_outbox_seq", "audit_outbox", ["seq"], unique=True)


def downgrade() -> None:
    op.drop_index("audit_outbox_seq")
    for column in ("hash", "prev_hash", "seq"):
        op.drop_column("audit_outbox", column)
    op.drop_table("pending_actions")
