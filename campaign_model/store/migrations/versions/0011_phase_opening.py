"""Phases that open on their date while the previous one completes, and who reviews a requirement.

`phases.opens`: after_previous (as before: the phase waits for the previous gate) or on_date (it opens on its
start date while the previous phase is still completing). `requirements.reviewer`: the name of who reviews
when the spec names them (`review: supervisor`, `review: {by: 局办公室}`), as {"zh": ..., "en": ...}.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("phases") as batch:
        batch.add_column(sa.Column("opens", sa.String(16), nullable=False, server_default="after_previous"))
    with op.batch_alter_table("requirements") as batch:
        batch.add_column(sa.Column("reviewer", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requirements") as batch:
        batch.drop_column("reviewer")
    with op.batch_alter_table("phases") as batch:
        batch.drop_column("opens")
