"""Delivery: per-requirement reminder policies, outbox retries and one row per channel, weekly notices.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("messages", sa.JSON(), nullable=True))
    with op.batch_alter_table("requirements") as batch:
        batch.add_column(sa.Column("policy", sa.JSON(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.drop_constraint("uq_outbox_slot", type_="unique")
        batch.create_unique_constraint("uq_outbox_slot_channel", ["obligation_id", "kind", "slot_day", "channel"])
    op.create_table(
        "notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("planned_for", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "week", "channel", name="uq_notice_week_channel"),
    )


def downgrade() -> None:
    op.drop_table("notices")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_slot_channel", type_="unique")
        batch.create_unique_constraint("uq_outbox_slot", ["obligation_id", "kind", "slot_day"])
        batch.drop_column("last_error")
        batch.drop_column("next_attempt_at")
    with op.batch_alter_table("requirements") as batch:
        batch.drop_column("policy")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("messages")
