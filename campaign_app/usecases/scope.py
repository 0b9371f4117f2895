"""A caller's scope as the use cases ask it: the units the caller may see, and a check of one unit.

Who sees what is decided above (the web layer's `deps.CallerScope`, from a role and a unit's place in the
hierarchy); a use case only asks, inside its own transaction, once it knows the campaign. `None` in its
place stands for a caller who sees every unit (an admin, a supervisor, the command line).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Connection

from campaign_model.errors import CampaignError
from campaign_model.store.campaigns import CampaignCtx, resolve_unit


class Scope(Protocol):
    def units(self, conn: Connection, ctx: CampaignCtx) -> frozenset[str] | None:
        """The unit keys the caller may see in this campaign (None: all); refuses a caller with no part in it."""
        ...

    def check(self, conn: Connection, ctx: CampaignCtx, unit: str, seen: frozenset[str] | None = None) -> None:
        """Refuse a unit beyond the caller's scope (`seen`: the caller's units, when already read)."""
        ...


def unit_key(conn: Connection, ctx: CampaignCtx, scope: Scope | None, unit: str) -> str:
    """The key of a unit named by key or name. For a caller who does not see every unit, a name that fits
    nothing stays as typed and the scope check refuses it: the suggestions of an unknown unit would show
    the names of units beyond the caller's own."""
    try:
        return resolve_unit(conn, ctx, unit)
    except CampaignError as exc:
        if scope is None:
            exc.field = exc.field or "unit"
            raise
        return unit


def seen_and_unit(conn: Connection, ctx: CampaignCtx, scope: Scope | None,
                  unit: str | None) -> tuple[frozenset[str] | None, str | None]:
    """The units the caller may see (None: all) and the unit asked for, by key, checked against them: what
    every scoped listing filtered to one unit begins with."""
    seen = scope.units(conn, ctx) if scope is not None else None
    if unit:
        unit = unit_key(conn, ctx, scope, unit)
        if scope is not None:
            scope.check(conn, ctx, unit, seen)
    return seen, unit or None
