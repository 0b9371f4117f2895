"""What a caller's scope is computed from: the active units of a campaign and their parents.

The web layer decides who sees what (campaign_model.access); these are the two reads it needs, kept
here so that no SQL sits above the store.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from .tables import units


def unit_parents(conn: Connection, campaign_id: int) -> dict[str, str | None]:
    """Each active unit's key and its parent's key."""
    # two columns, not unit_rows(): decoding every unit's tags and contacts (JSON) was most of a request's time
    return dict(conn.execute(select(units.c.key, units.c.parent_key)
                             .where(units.c.campaign_id == campaign_id, units.c.active)).tuples().all())


def active_parent(conn: Connection, campaign_id: int, key: str) -> tuple[bool, str | None]:
    """(whether `key` is an active unit of the campaign, its parent's key)."""
    row = conn.execute(select(units.c.parent_key).where(units.c.campaign_id == campaign_id, units.c.key == key,
                                                        units.c.active)).first()
    return (row is not None, row.parent_key if row is not None else None)
