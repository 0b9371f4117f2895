"""Changes to a running campaign (spec versions with author and reason, extensions).

Each stored spec version says who wrote it, why, and what it changed; an obligation whose deadline was
extended (延期) keeps the due instant it had before and the reason.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaign_specs") as batch:
        batch.add_column(sa.Column("author", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=True))
    with op.batch_alter_table("obligations") as batch:
        batch.add_column(sa.Column("extended_from", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("obligations") as batch:
        batch.drop_column("extension_reason")
        batch.drop_column("extended_from")
    with op.batch_alter_table("campaign_specs") as batch:
        batch.drop_column("summary")
        batch.drop_column("reason")
        batch.drop_column("author")
