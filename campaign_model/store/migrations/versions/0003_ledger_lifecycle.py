"""Ledger lifecycle: items without a filing (supervision findings), long-term items, deadlines as
instants, and the append-only history of each item.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_items") as batch:
        batch.alter_column("obligation_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                           nullable=True)
        batch.alter_column("filing_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                           nullable=True)
        batch.add_column(sa.Column("long_term", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "ledger_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("state_before", sa.String(length=16), nullable=True),
        sa.Column("state_after", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["ledger_items.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_events_item", "ledger_events", ["item_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_events_item", table_name="ledger_events")
    op.drop_table("ledger_events")
    with op.batch_alter_table("ledger_items") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("updated_at")
        batch.drop_column("due_at")
        batch.drop_column("long_term")
        batch.alter_column("filing_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                           nullable=False)
        batch.alter_column("obligation_id", existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                           nullable=False)
