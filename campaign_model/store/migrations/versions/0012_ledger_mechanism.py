"""四个明确: a ledger item's long-term mechanism (长效机制), beside its measure (整改措施), leader and lead office
(责任领导和牵头股室) and deadline (整改时限). Carried from an issue list's `mechanism` column, a finding or an
imported ledger; empty for the items before it.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_items") as batch:
        batch.add_column(sa.Column("mechanism", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_items") as batch:
        batch.drop_column("mechanism")
