"""Accounts that must change their password at the next login, and when each last logged in.

`must_change_password` is set when an administrator hands over a one-time password (a new account with a
generated password, a reset, the bulk accounts of a campaign's units) and cleared when the user chooses
their own; `last_login_at` is shown on the accounts page.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("last_login_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_login_at")
        batch.drop_column("must_change_password")
