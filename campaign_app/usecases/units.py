"""A campaign's units: import a unit list into a running campaign (after a preview), list the units, and
administer them one at a time: add, rename, move, merge, close, contacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from campaign_model.spec import Contact, UnitSpec
from campaign_model.store import unit_admin
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import import_units as store_import
from campaign_model.store.campaigns import load_ctx, unit_listing, unit_rows

from .scope import unit_key
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


# --- one unit at a time (the units page, `campaign units add|rename|…`, PATCH/POST …/units/{unit}) ---

def add_unit(svc: Services, act: Act, campaign: str, unit: UnitSpec) -> dict[str, Any]:
    """A new unit: it owes the running and future phases' artifacts its audience rules give it."""
    with svc.write() as conn:
        return unit_admin.add_unit(conn, campaign, unit, act)


def rename_unit(svc: Services, act: Act, campaign: str, unit: str, name: str) -> dict[str, Any]:
    """A unit's new name (its key stays)."""
    with svc.write() as conn:
        return unit_admin.rename_unit(conn, campaign, unit, name, act)


def move_unit(svc: Services, act: Act, campaign: str, unit: str, parent: str | None,
              reason: str | None = None) -> dict[str, Any]:
    """A unit under another parent (never under itself or below itself)."""
    with svc.write() as conn:
        return unit_admin.move_unit(conn, campaign, unit, parent, act, reason)


def merge_unit(svc: Services, act: Act, campaign: str, unit: str, into: str, reason: str | None) -> dict[str, Any]:
    """A unit merged into another: closed, open obligations waived, children and open ledger items moved."""
    with svc.write() as conn:
        return unit_admin.merge_unit(conn, campaign, unit, into, reason, act)


def close_unit(svc: Services, act: Act, campaign: str, unit: str, reason: str | None) -> dict[str, Any]:
    """A unit closed (撤并, 停办) with its reason: its open obligations waived with it."""
    with svc.write() as conn:
        return unit_admin.close_unit(conn, campaign, unit, reason, act)


def set_contacts(svc: Services, act: Act, campaign: str, unit: str, contacts: Sequence[Contact]) -> dict[str, Any]:
    """A unit's contacts, where its reminders go."""
    with svc.write() as conn:
        return unit_admin.set_contacts(conn, campaign, unit, contacts, act)


def update_unit(svc: Services, act: Act, campaign: str, unit: str, *, name: str | None = None,
                parent: str | None = None, move: bool = False, contacts: Sequence[Contact] | None = None,
                reason: str | None = None) -> dict[str, Any]:
    """Rename, move and new contacts together, all or nothing."""
    with svc.write() as conn:
        return unit_admin.update_unit(conn, campaign, unit, act, name=name, parent=parent, move=move,
                                      contacts=contacts, reason=reason)


def preview_import(svc: Services, campaign: str, units: Sequence[UnitSpec]) -> dict[str, Any]:
    """What importing a unit list would change, changing nothing."""
    with svc.read() as conn:
        return unit_admin.import_preview(conn, campaign, units)


def unit_page(svc: Services, campaign: str, unit: str, *, scope: Scope | None = None,
              own: str | None = None) -> dict[str, Any]:
    """One unit whole, for a caller who may see it; a unit user sees the contacts of its own unit only."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        key = unit_key(conn, ctx, scope, unit)
        if scope is not None:
            scope.check(conn, ctx, key)
        doc = unit_admin.unit_detail(conn, campaign, key)
        every = [{"key": r.key, "name": r.name} for r in unit_rows(conn, ctx) if r.active]
    if scope is not None and key != own:
        doc["contacts"] = None
    return {"title": ctx.title, "unit": doc, "units": every}


def unit_forest(svc: Services, campaign: str, *, scope: Scope | None = None, own: str | None = None) -> dict[str, Any]:
    """The units the caller may see as a forest (each node with its children), with tags, contacts (a unit
    user: its own unit's only) and state; closed units are shown to those who see every unit."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        seen = scope.units(conn, ctx) if scope is not None else None
        listing = unit_listing(conn, ctx)
        rows = {r.key: r for r in unit_rows(conn, ctx)}
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for u in listing:
        if seen is not None and u["key"] not in seen:
            continue
        row = rows[u["key"]]
        node = {**u, "contacts": list(row.contacts or []) if seen is None or u["key"] == own else None,
                "merged_into": row.merged_into, "children": []}
        nodes[u["key"]] = node
        parent = nodes.get(u["parent"] or "")
        (parent["children"] if parent is not None else roots).append(node)
    active = [n for n in nodes.values() if n["active"]]
    return {"title": ctx.title, "roots": roots, "units": list(nodes.values()), "organizer": ctx.organizer,
            "counts": {"active": len(active), "closed": len(nodes) - len(active)},
            "tags": sorted({t for n in active for t in n["tags"]})}


def units_workbook(svc: Services, campaign: str) -> tuple[str, bytes]:
    """The campaign's active units as a unit list (XLSX) with the headers the import reads: to edit and import back.
    One contact per row, as the list holds it: a unit's further contacts are kept on its page, not in the file."""
    from notifications.reports.workbook import units_workbook as workbook

    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        rows = [r for r in unit_listing(conn, ctx) if r["active"]]
        full = {r.key: r for r in unit_rows(conn, ctx)}
    out = []
    for u in rows:
        c = (full[u["key"]].contacts or [{}])[0]
        out.append([u["key"], u["name"], u["parent"], "、".join(u["tags"]), c.get("name"), c.get("role"),
                    c.get("email"), c.get("phone")])
    name, data = workbook(out)
    return f"{campaign}-{name}", data
