"""Executions hold a lease: the replica running an action (``lease_owner``) renews
``lease_expires_at`` while it runs, so recovery on another replica settles only actions whose
owner stopped renewing — never one a live replica is executing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pending_actions", sa.Column("lease_owner", sa.Text))
    op.add_column("pending_actions", sa.Column("lease_expires_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("pending_actions", "lease_expires_at")
    op.drop_column("pending_actions", "lease_owner")
