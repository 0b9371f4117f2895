"""Draft specs edited in the browser before a campaign is created (or, with `base_campaign`, before a
running campaign is changed): the YAML text is the stored form, the editor's forms read and write it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "spec_drafts",
        sa.Column("id", ID, nullable=False),
        sa.Column("author", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("base_campaign", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spec_drafts_updated", "spec_drafts", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_spec_drafts_updated", table_name="spec_drafts")
    op.drop_table("spec_drafts")
