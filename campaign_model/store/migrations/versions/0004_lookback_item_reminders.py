"""Reminders of ledger item deadlines (outbox rows for an item), and look-back re-checks (回头看).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("ledger_items") as batch:
        batch.add_column(sa.Column("next_remind_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("overdue_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_ledger_remind", ["campaign_id", "next_remind_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("obligation_id", existing_type=ID, nullable=True)
        batch.add_column(sa.Column("ledger_item_id", ID, nullable=True))
        batch.create_foreign_key("fk_outbox_ledger_item", "ledger_items", ["ledger_item_id"], ["id"])
        batch.create_unique_constraint("uq_outbox_item_slot_channel", ["ledger_item_id", "kind", "slot_day", "channel"])
    op.create_table(
        "rechecks",
        sa.Column("id", ID, nullable=False),
        sa.Column("campaign_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=False),
        sa.Column("phase_id", ID, nullable=False),
        sa.Column("step_key", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sampled_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.ForeignKeyConstraint(["item_id"], ["ledger_items.id"]),
        sa.ForeignKeyConstraint(["phase_id"], ["phases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "step_key", name="uq_recheck_item_step"),
    )
    op.create_index("ix_rechecks_phase_state", "rechecks", ["phase_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_rechecks_phase_state", table_name="rechecks")
    op.drop_table("rechecks")
    op.execute("DELETE FROM outbox WHERE ledger_item_id IS NOT NULL")  # rows the old schema cannot hold
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_item_slot_channel", type_="unique")
        batch.drop_constraint("fk_outbox_ledger_item", type_="foreignkey")
        batch.drop_column("ledger_item_id")
        batch.alter_column("obligation_id", existing_type=ID, nullable=False)
    with op.batch_alter_table("ledger_items") as batch:
        batch.drop_index("ix_ledger_remind")
        batch.drop_column("overdue_at")
        batch.drop_column("next_remind_at")
