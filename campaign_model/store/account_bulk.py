"""Accounts in bulk: one `unit` account per unit of a campaign that has none yet, and one-time passwords
issued again for chosen accounts.

The plan (`unit_account_plan`) is a read: which units get an account (user name = the unit key, display
name = the unit name and its first contact) and which are skipped, each with the reason. Creating
(`create_unit_accounts`) recomputes the plan in its own transaction, so that what is created is what the
rules say at that moment, not what a stale preview said. The one-time passwords are returned to the
caller and never stored in clear (accounts.add_user / set_password hash them); each account is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from ..access import visible_units
from ..accounts import check_user_name, one_time_password
from ..errors import InvalidInput
from .accounts import add_user, set_password
from .audit import Act
from .campaigns import load_ctx
from .tables import campaigns, units, users
from .unit_lookup import resolve_unit, unit_listing, unit_rows


def _display_name(unit_name: str, contacts: list[dict[str, Any]]) -> str:
    first = next((c.get("name") for c in contacts if c.get("name")), None)
    return f"{unit_name}（{first}）" if first else unit_name


def unit_account_plan(conn: Connection, campaign: str, parent: str | None = None,
                      tag: str | None = None) -> dict[str, Any]:
    """The units of `campaign` (below `parent`, with `tag`) as "create" (no account yet) and "skip" (with the reason)."""
    ctx = load_ctx(conn, campaign)
    rows = {r.key: r for r in unit_rows(conn, ctx)}
    scope: frozenset[str] | None = None
    if parent:
        parent_key = resolve_unit(conn, ctx, parent)
        scope = visible_units(parent_key, {k: r.parent_key for k, r in rows.items() if r.active})
        if not scope:
            raise InvalidInput(f"单位 '{parent}' 已撤销 (the unit was removed)", field="parent")
    chosen = [u for u in unit_listing(conn, ctx)
              if (scope is None or u["key"] in scope) and (not tag or tag in u["tags"])]
    keys = [u["key"] for u in chosen]
    owners: dict[str, list[str]] = {}
    for name, unit in conn.execute(select(users.c.name, users.c.unit).where(users.c.role == "unit", users.c.unit.in_(keys))):
        owners.setdefault(unit, []).append(name)
    taken = set(conn.execute(select(users.c.name).where(users.c.name.in_(keys))).scalars())
    create: list[dict[str, Any]] = []
    skip: list[dict[str, Any]] = []
    for u in chosen:
        contacts = list(rows[u["key"]].contacts or [])
        entry = {"unit": u["key"], "unit_name": u["name"], "parent_name": u["parent_name"], "depth": u["depth"],
                 "contact": next((c.get("name") for c in contacts if c.get("name")), None)}
        reason = None
        if not u["active"]:
            reason = "removed"
        elif u["key"] == ctx.organizer:
            reason = "organizer"
        elif u["key"] in owners:
            reason = "has_account"
        elif u["key"] in taken:
            reason = "name_taken"
        else:
            try:
                check_user_name(u["key"])
            except InvalidInput:
                reason = "bad_name"
        if reason is not None:
            skip.append({**entry, "reason": reason, "owners": sorted(owners.get(u["key"], [])), "name": u["key"]})
        else:
            create.append({**entry, "name": u["key"], "display_name": _display_name(u["name"], contacts)})
    return {"campaign": ctx.key, "title": ctx.title, "parent": parent or None, "tag": tag or None,
            "create": create, "skip": skip}


def create_unit_accounts(conn: Connection, campaign: str, act: Act, parent: str | None = None,
                         tag: str | None = None) -> dict[str, Any]:
    """Create the plan's accounts, each with a one-time password; the plan, its "create" entries with their
    "password" (the only copy there will ever be)."""
    plan = unit_account_plan(conn, campaign, parent, tag)
    for entry in plan["create"]:
        password = one_time_password()
        add_user(conn, entry["name"], "unit", entry["unit"], password, act, entry["display_name"], one_time=True)
        entry["password"] = password
    return plan


def reset_one_time(conn: Connection, names: Sequence[str], act: Act) -> list[dict[str, Any]]:
    """A new one-time password for each named account (their sessions end; each must choose their own at the
    next login): [{name, display_name, role, unit, password}]."""
    if not names:
        raise InvalidInput("请至少选择一个账号 (choose at least one account)", field="user")
    out = []
    for name in dict.fromkeys(names):  # once each, in the order given
        row = conn.execute(select(users.c.name, users.c.display_name, users.c.role, users.c.unit)
                           .where(users.c.name == name)).first()
        password = one_time_password()
        set_password(conn, name, password, act, one_time=True)  # NotFound for an unknown name: nothing is reset
        assert row is not None
        out.append({"name": row.name, "display_name": row.display_name, "role": row.role, "unit": row.unit,
                    "password": password})
    return out


def unit_names(conn: Connection, keys: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """For each unit key, the campaigns it is an active unit of: [{campaign, title, name}] (a unit account's
    key means that unit in every campaign that lists it)."""
    out: dict[str, list[dict[str, str]]] = {k: [] for k in keys}
    if not keys:
        return out
    q = (select(units.c.key, units.c.name, campaigns.c.key.label("campaign"), campaigns.c.title)
         .join(campaigns, campaigns.c.id == units.c.campaign_id)
         .where(units.c.key.in_(list(keys)), units.c.active.is_(True)).order_by(campaigns.c.key))
    for r in conn.execute(q):
        out[r.key].append({"campaign": r.campaign, "title": r.title, "name": r.name})
    return out


def unit_keys(conn: Connection) -> list[str]:
    """The keys of the active units of every campaign, once each."""
    return sorted(set(conn.execute(select(units.c.key).where(units.c.active.is_(True))).scalars()))
