"""The audit chain in partitions, with anchors: ``audit_outbox.part`` and ``audit_anchors``.

Every existing row becomes partition 0 with its seq, prev_hash and hash unchanged (partition
0 starts from the old chain's genesis), so `hexabot audit verify` passes on an upgraded
database.  ``part`` has no default once the rows are filled in: a replica still running the
previous release fails its audited writes until it is replaced, rather than appending to
partition 0 out of order (docs/audit-chain.md, "Upgrading").

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("audit_outbox", sa.Column("part", sa.Integer, nullable=False,
                                            server_default="0"))
    op.alter_column("audit_outbox", "part", server_default=None)
    op.drop_index("audit_outbox_seq", table_name="audit_outbox")
    op.create_index("audit_outbox_part_seq", "audit_outbox", ["part", "seq"], unique=True)
    op.create_table(
        "audit_anchors",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_at", TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("anchor", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("shipped_at", TS, nullable=True),
    )
    op.create_index("audit_anchors_unshipped", "audit_anchors", ["seq"],
                    postgresql_where=sa.text("shipped_at IS NULL"))


def downgrade() -> None:
    """Only while every event is still in partition 0: one chain cannot be rebuilt from
    several without rewriting every hash, which is what the chain exists to prevent."""
    others = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_outbox WHERE part <> 0")).scalar()
    if others:
        raise RuntimeError(f"{others} audit events are in partitions other than 0: the "
                           "single chain of revision 0012 cannot hold them")
    op.drop_index("audit_anchors_unshipped", table_name="audit_anchors")
    op.drop_table("audit_anchors")
    op.drop_index("audit_outbox_part_seq", table_name="audit_outbox")
    op.create_index("audit_outbox_seq", "audit_outbox", ["seq"], unique=True)
    op.drop_column("audit_outbox", "part")
