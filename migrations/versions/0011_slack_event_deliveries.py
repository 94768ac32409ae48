"""Each Slack event id counts its deliveries: a repeat (Slack's retry, or the same event on a
second replica) is recorded, not only ignored, so operators and tests can see it was dropped.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("slack_events", sa.Column("deliveries", sa.Integer, nullable=False,
                                            server_default=sa.text("1")))


def downgrade() -> None:
    op.drop_column("slack_events", "deliveries")
