"""Unit administration (merge, close): the unit a merged unit went into.

A unit merged into another (two schools made one) is closed like any removed unit (`active` false, with
`removed_at` and `removed_reason`); `merged_into` names the key of the unit that took over its children
and its open ledger items, so that its history can be followed to where it went.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("merged_into")
