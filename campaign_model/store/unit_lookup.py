"""Units as a user names them: the one lookup of a unit typed by a user (key, else unique name), a unit's
id, and the units of a campaign in hierarchy order. Apart from campaigns.py so that modules it uses (the
outbox) can look units up too without a circle of imports."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection, Row, select

from .. import names
from ..errors import ConflictError, InvalidInput, NotFound
from .tables import units


class CampaignCtx(Protocol):
    """What a lookup needs of a campaign (campaigns.CampaignCtx has it)."""

    @property
    def id(self) -> int: ...

    @property
    def key(self) -> str: ...


def unit_rows(conn: Connection, ctx: CampaignCtx) -> list[Row[Any]]:
    return list(conn.execute(select(units).where(units.c.campaign_id == ctx.id).order_by(units.c.id)).all())


def resolve_unit(conn: Connection, ctx: CampaignCtx, text: str) -> str:
    """The key of the unit a person means by `text`: its key, or its unique name (城东小学). The one
    place where a unit given by a user (CLI, API, pages) is looked up; an unknown one is `NotFound`
    with the closest units, an ambiguous name `InvalidInput` listing the units it could mean."""
    text = (text or "").strip()
    # the common case, a key, is one indexed lookup; names are compared only when it misses
    if conn.execute(select(units.c.id).where(units.c.campaign_id == ctx.id, units.c.key == text)).first():
        return text
    candidates = [(r.key, r.name) for r in conn.execute(select(units.c.key, units.c.name)
                                                         .where(units.c.campaign_id == ctx.id).order_by(units.c.id))]
    match = names.lookup(text, candidates)
    if match.key is not None:
        return match.key
    if match.ambiguous:
        raise InvalidInput(f"单位名称 '{text}' 对应多个单位：{names.describe(match.ambiguous)}；请改用单位代码 "
                           f"(the name '{text}' fits several units; give one of their keys)", field="unit")
    raise NotFound(f"活动 '{ctx.key}' 中没有单位 '{text}' (no such unit in campaign '{ctx.key}')"
                   + names.did_you_mean(match.suggestions), field="unit")


def unit_id(conn: Connection, ctx: CampaignCtx, key: str) -> int:
    """The id of an active unit given by key or unique name (`resolve_unit`)."""
    key = resolve_unit(conn, ctx, key)
    row = conn.execute(select(units.c.id, units.c.active).where(units.c.campaign_id == ctx.id, units.c.key == key)).one()
    if not row.active:
        raise ConflictError(f"单位 '{key}' 已撤销 (unit '{key}' was removed from the campaign)", field="unit")
    return int(row.id)


def unit_listing(conn: Connection, ctx: CampaignCtx) -> list[dict[str, Any]]:
    """Every unit of the campaign in hierarchy order (each parent before its children, siblings in the
    order they were listed), with its parent's name, depth and number of contacts; removed units stay, marked."""
    rows = unit_rows(conn, ctx)
    by_key = {r.key: r for r in rows}
    children: dict[str | None, list[Any]] = {}
    for r in rows:
        parent = r.parent_key if r.parent_key in by_key else None
        children.setdefault(parent, []).append(r)
    ordered: list[tuple[Any, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for r in children.get(parent, []):
            ordered.append((r, depth))
            if r.key != parent:  # a stored unit cannot be its own parent; never recurse on one
                walk(r.key, depth + 1)

    walk(None, 0)
    return [{"key": r.key, "name": r.name, "parent": r.parent_key,
             "parent_name": by_key[r.parent_key].name if r.parent_key in by_key else None, "depth": depth,
             "tags": list(r.tags or []), "active": bool(r.active), "contacts": len(r.contacts or []),
             "removed_reason": r.removed_reason} for r, depth in ordered]
