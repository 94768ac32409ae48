"""Per-user request counts of the chat API, one row per user and minute, so the rate limit
holds across replicas.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_rate_windows",
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("subject", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("api_rate_windows")
