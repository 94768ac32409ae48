"""Drop ``pending_actions_requester``: ``pending_actions_requester_created`` indexes the same
columns (requester, created_at), so every insert paid for two identical indexes.  Found by
comparing the models with the migrated schema (``alembic check``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("pending_actions_requester", table_name="pending_actions")


def downgrade() -> None:
    op.create_index("pending_actions_requester", "pending_actions", ["requester", "created_at"])
