"""Baseline: an empty schema that later revisions build on.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The first revision only establishes Alembic's version table, so that `hexabot migrate` has a
head to reach on a new database.  Tables arrive with the features that own them (identity links,
pending confirmations, the audit outbox, conversation memory).
"""
from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
