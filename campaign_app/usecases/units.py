"""A campaign's units: import a unit list into a running campaign, list the units."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from campaign_model.spec import UnitSpec
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import import_units as store_import
from campaign_model.store.campaigns import load_ctx, unit_listing, unit_rows

from .services import Services

if TYPE_CHECKING:  # the scope a route passes (web.deps.reach): its units(conn, ctx) and check(...)
    from .scope import Scope


def import_units(svc: Services, act: Act, campaign: str, units: Sequence[UnitSpec], *, reason: str | None = None,
                 source: str = "<units>") -> dict[str, Any]:
    """Bring a running campaign's units in line with a list: new units owe their artifacts, removed ones are excused."""
    with svc.write() as conn:
        return store_import(conn, campaign, units, act, reason, source)


def list_units(svc: Services, campaign: str, *, scope: Scope | None = None) -> list[dict[str, Any]]:
    """The units in the caller's scope (None: all, with their contacts; a unit user sees no contacts)."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen = scope.units(conn, ctx) if scope is not None else None
        rows = unit_rows(conn, ctx)
    return [{"key": u.key, "name": u.name, "parent": u.parent_key, "tags": u.tags, "active": bool(u.active),
             **({"contacts": u.contacts} if seen is None else {})}
            for u in rows if seen is None or u.key in seen]


def unit_tree(svc: Services, campaign: str) -> list[dict[str, Any]]:
    """Every unit in hierarchy order with its depth and parent's name; contacts counted, not shown."""
    with svc.read() as conn:
        return unit_listing(conn, load_ctx(conn, campaign))
