"""People and offices (人员与股室) stored with the campaign, and reminders to them.

`campaigns.people`: the spec's people section (leading group, offices, leaders with contacts) and the
steps' lead offices, as JSON. The outbox's slot keys gain the recipient: a ledger item is reminded to its
unit and to its lead office (and escalated to the unit's parent and the responsible leader) on the same
day and channel, each once.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("people", sa.JSON(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_slot_channel", type_="unique")
        batch.drop_constraint("uq_outbox_item_slot_channel", type_="unique")
        batch.create_unique_constraint("uq_outbox_slot_channel", ["obligation_id", "kind", "slot_day", "channel", "recipient"])
        batch.create_unique_constraint("uq_outbox_item_slot_channel",
                                       ["ledger_item_id", "kind", "slot_day", "channel", "recipient"])


def downgrade() -> None:
    # rows the old keys cannot hold: reminders to people and offices (recipients with a prefix)
    op.execute("DELETE FROM outbox WHERE recipient LIKE 'office:%' OR recipient LIKE 'leader:%' "
               "OR recipient LIKE 'group:%'")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_item_slot_channel", type_="unique")
        batch.drop_constraint("uq_outbox_slot_channel", type_="unique")
        batch.create_unique_constraint("uq_outbox_slot_channel", ["obligation_id", "kind", "slot_day", "channel"])
        batch.create_unique_constraint("uq_outbox_item_slot_channel", ["ledger_item_id", "kind", "slot_day", "channel"])
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("people")
