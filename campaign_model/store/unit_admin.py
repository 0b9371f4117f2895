"""Administering a running campaign's units one at a time: add, rename, move, merge, close, contacts;
and the preview of a unit list before it is imported (`campaigns.import_units` applies it).

Every change is one audit event naming who and, where obligations change, why. A unit is never deleted:
a closed or merged one stays with `active` false, its reason in `removed_reason`, its open obligations
waived with that reason (免报) — as the import does for a unit left off the list. A merged unit also names
the unit it went into (`merged_into`); its children and its open ledger items move there, each moved item
with an entry in its own history, so that an auditor reading the item finds where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from ..errors import ConflictError, InvalidInput, NotFound
from ..spec import Contact, UnitSpec
from ..units import hierarchy_problems
from . import audit
from .audit import Act
from .campaigns import (
    CampaignCtx,
    _unit_values,
    _waive_outside_audience,
    load_ctx,
    materialize,
    resolve_unit,
    waive_open,
)
from .tables import ledger_events, ledger_items, obligations, phases, units

OPEN = ("pending", "rejected")
LATE_ADDED = "单位在该阶段结束后新增，无需补报 (unit added after this phase was completed)"


def _row(conn: Connection, ctx: CampaignCtx, text: str, field: str = "unit") -> Row[Any]:
    """The unit a user means (key or unique name), active or not."""
    try:
        key = resolve_unit(conn, ctx, text)
    except (NotFound, InvalidInput) as exc:
        exc.field = field
        raise
    return conn.execute(select(units).where(units.c.campaign_id == ctx.id, units.c.key == key)).one()


def _active(conn: Connection, ctx: CampaignCtx, text: str, field: str = "unit") -> Row[Any]:
    row = _row(conn, ctx, text, field)
    if not row.active:
        raise ConflictError(f"单位 '{row.name}' ({row.key}) 已撤销，不能再修改 (unit '{row.key}' is closed; "
                            "it cannot be changed)", field=field)
    return row


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("请写明理由：它会记入操作日志并作为免报理由 (give the reason: it is audited and "
                           "becomes the waiver's reason)", field="reason")
    return text


def _children(conn: Connection, ctx: CampaignCtx) -> dict[str, list[Any]]:
    """Active units by their parent's key."""
    out: dict[str, list[Any]] = {}
    for r in conn.execute(select(units.c.key, units.c.name, units.c.parent_key)
                          .where(units.c.campaign_id == ctx.id, units.c.active).order_by(units.c.id)):
        if r.parent_key:
            out.setdefault(r.parent_key, []).append(r)
    return out


def subtree(conn: Connection, ctx: CampaignCtx, key: str) -> set[str]:
    """`key` and every active unit below it."""
    children = _children(conn, ctx)
    seen, todo = {key}, [key]
    while todo:
        for c in children.get(todo.pop(), []):
            if c.key not in seen:
                seen.add(c.key)
                todo.append(c.key)
    return seen


def _obligations_follow(conn: Connection, ctx: CampaignCtx, act: Act) -> tuple[int, int]:
    """After a change of the hierarchy: obligations of units now outside an audience waived, new ones owed."""
    waived = _waive_outside_audience(conn, ctx, act)
    return waived, materialize(conn, ctx, act.at)


def _unit_doc(row: Row[Any] | UnitSpec) -> dict[str, Any]:
    if isinstance(row, UnitSpec):
        return {"key": row.key, "name": row.name, "parent": row.parent, "tags": list(row.tags),
                "contacts": [c.model_dump(exclude_none=True) for c in row.contacts]}
    return {"key": row.key, "name": row.name, "parent": row.parent_key, "tags": list(row.tags or []),
            "contacts": list(row.contacts or [])}


def add_unit(conn: Connection, key: str, unit: UnitSpec, act: Act) -> dict[str, Any]:
    """A new unit under an active parent: it owes what its audience rules give it in the running and
    future phases (a phase already completed is waived for it, with that reason)."""
    ctx = load_ctx(conn, key)
    known = conn.execute(select(units.c.key, units.c.name, units.c.active)
                         .where(units.c.campaign_id == ctx.id, units.c.key == unit.key)).first()
    if known is not None:
        state = "" if known.active else "（已撤销）"
        raise ConflictError(f"单位代码 '{unit.key}' 已被 {known.name}{state} 使用 (unit key '{unit.key}' is taken)",
                            field="key")
    if unit.parent is not None:
        parent = _active(conn, ctx, unit.parent, "parent")
        unit = unit.model_copy(update={"parent": parent.key})
    conn.execute(insert(units).values(**_unit_values(ctx.id, unit)))
    added = materialize(conn, ctx, act.at)
    uid = conn.execute(select(units.c.id).where(units.c.campaign_id == ctx.id, units.c.key == unit.key)).scalar_one()
    done_phases = select(phases.c.id).where(phases.c.campaign_id == ctx.id, phases.c.state == "completed")
    late = conn.execute(update(obligations).where(
        obligations.c.unit_id == uid, obligations.c.state.in_(OPEN), obligations.c.phase_id.in_(done_phases))
        .values(state="waived", done=True, done_at=act.at, waived_reason=LATE_ADDED, next_remind_at=None)).rowcount
    summary = {"campaign": key, "unit": unit.key, "obligations_added": added - late, "obligations_waived": late}
    audit.append(conn, act, "unit.added", key, f"unit:{unit.key}", None, {**_unit_doc(unit), **summary})
    return summary


def rename_unit(conn: Connection, key: str, unit: str, name: str, act: Act) -> dict[str, Any]:
    """A new name; the key stays (it is what the other records refer to)."""
    ctx = load_ctx(conn, key)
    row = _active(conn, ctx, unit)
    name = name.strip()
    if not name:
        raise InvalidInput("请填写新的单位名称 (give the new name)", field="name")
    if len(name) > 200:
        raise InvalidInput("单位名称最多 200 个字 (a name is at most 200 characters)", field="name")
    if name == row.name:
        return {"campaign": key, "unit": row.key, "name": name, "changed": False}
    conn.execute(update(units).where(units.c.id == row.id).values(name=name))
    audit.append(conn, act, "unit.renamed", key, f"unit:{row.key}", {"name": row.name}, {"name": name})
    return {"campaign": key, "unit": row.key, "name": name, "changed": True}


def move_unit(conn: Connection, key: str, unit: str, parent: str | None, act: Act,
              reason: str | None = None) -> dict[str, Any]:
    """Under another active parent (None: to the top), never under itself or a unit below it. A
    `children:` requirement may then apply to it or no longer: its obligations follow."""
    ctx = load_ctx(conn, key)
    row = _active(conn, ctx, unit)
    target = _active(conn, ctx, parent, "parent") if parent else None
    if target is not None and target.key in subtree(conn, ctx, row.key):
        what = "自己" if target.key == row.key else f"其下级单位 {target.name} ({target.key})"
        raise InvalidInput(f"不能把 {row.name} 移到{what}之下：层级会成环 (moving '{row.key}' under "
                           f"'{target.key}' would make the hierarchy loop)", field="parent")
    new_parent = target.key if target is not None else None
    if new_parent == row.parent_key:
        return {"campaign": key, "unit": row.key, "parent": new_parent, "changed": False,
                "obligations_added": 0, "obligations_waived": 0}
    conn.execute(update(units).where(units.c.id == row.id).values(parent_key=new_parent))
    waived, added = _obligations_follow(conn, ctx, act)
    summary = {"campaign": key, "unit": row.key, "parent": new_parent, "changed": True,
               "obligations_added": added, "obligations_waived": waived}
    audit.append(conn, act, "unit.moved", key, f"unit:{row.key}", {"parent": row.parent_key},
                 {"parent": new_parent, "reason": (reason or "").strip() or None,
                  "obligations_added": added, "obligations_waived": waived})
    return summary


def set_contacts(conn: Connection, key: str, unit: str, contacts: Sequence[Contact], act: Act) -> dict[str, Any]:
    """The unit's contacts (name, role, email, phone), where its reminders go; the list replaces the old one."""
    ctx = load_ctx(conn, key)
    row = _active(conn, ctx, unit)
    new = [c.model_dump(exclude_none=True) for c in contacts]
    if new == list(row.contacts or []):
        return {"campaign": key, "unit": row.key, "contacts": new, "changed": False}
    conn.execute(update(units).where(units.c.id == row.id).values(contacts=new))
    audit.append(conn, act, "unit.contacts_changed", key, f"unit:{row.key}", {"contacts": row.contacts}, {"contacts": new})
    return {"campaign": key, "unit": row.key, "contacts": new, "changed": True}


def _refuse_organizer(ctx: CampaignCtx, row: Row[Any]) -> None:
    if ctx.organizer == row.key:
        raise ConflictError(f"{row.name} 是活动的组织单位，不能撤销或并入其他单位 "
                            "(the campaign's organizer cannot be closed or merged)", field="unit")


def close_unit(conn: Connection, key: str, unit: str, reason: str | None, act: Act) -> dict[str, Any]:
    """Close a unit (撤并, 停办): its open obligations waived with the reason. Its children must be moved
    first: a closed unit's schools would otherwise hang from nothing."""
    ctx = load_ctx(conn, key)
    why = _reason(reason)
    row = _active(conn, ctx, unit)
    _refuse_organizer(ctx, row)
    kids = _children(conn, ctx).get(row.key, [])
    if kids:
        listed = "、".join(f"{k.name} ({k.key})" for k in kids)
        raise ConflictError(f"{row.name} 还有下级单位：{listed}；请先把它们移到其他上级单位，或把本单位并入另一单位 "
                            f"(move its units first, or merge it: {', '.join(k.key for k in kids)})", field="unit")
    conn.execute(update(units).where(units.c.id == row.id).values(active=False, removed_at=act.at, removed_reason=why))
    waived = waive_open(conn, ctx, [row.id], why, act)
    open_items = _open_items(conn, ctx, row.id)
    summary = {"campaign": key, "unit": row.key, "reason": why, "obligations_waived": waived,
               "open_ledger_items": [i.id for i in open_items]}
    audit.append(conn, act, "unit.closed", key, f"unit:{row.key}", {"active": True}, {"active": False, **summary})
    return summary


def _open_items(conn: Connection, ctx: CampaignCtx, unit_id: int) -> list[Any]:
    return list(conn.execute(select(ledger_items.c.id, ledger_items.c.state).where(
        ledger_items.c.campaign_id == ctx.id, ledger_items.c.unit_id == unit_id, ledger_items.c.current,
        ledger_items.c.state != "closed").order_by(ledger_items.c.id)).all())


def merge_unit(conn: Connection, key: str, unit: str, into: str, reason: str | None, act: Act) -> dict[str, Any]:
    """Merge a unit into another (two schools made one): the unit is closed with the reason "并入 B：…", its
    open obligations waived with it, its children and its open ledger items moved to B. Its filings and
    closed items stay its own: they are what it did."""
    ctx = load_ctx(conn, key)
    why = _reason(reason)
    row = _active(conn, ctx, unit)
    _refuse_organizer(ctx, row)
    target = _active(conn, ctx, into, "into")
    if target.key in subtree(conn, ctx, row.key):
        what = "自己" if target.key == row.key else f"其下级单位 {target.name} ({target.key})"
        raise InvalidInput(f"不能把 {row.name} 并入{what} (a unit cannot be merged into itself or a unit below it)",
                           field="into")
    full = f"并入 {target.name} ({target.key})：{why} (merged into {target.key})"
    kids = [k.key for k in _children(conn, ctx).get(row.key, [])]
    if kids:
        conn.execute(update(units).where(units.c.campaign_id == ctx.id, units.c.key.in_(kids))
                     .values(parent_key=target.key))
    conn.execute(update(units).where(units.c.id == row.id).values(
        active=False, removed_at=act.at, removed_reason=full, merged_into=target.key))
    waived = waive_open(conn, ctx, [row.id], full, act)
    items = _open_items(conn, ctx, row.id)
    if items:
        ids = [i.id for i in items]
        conn.execute(update(ledger_items).where(ledger_items.c.id.in_(ids)).values(unit_id=target.id, updated_at=act.at))
        note = f"随 {row.name} ({row.key}) 并入 {target.name} ({target.key}) 转来 (moved from {row.key} to {target.key})"
        conn.execute(insert(ledger_events), [
            {"item_id": i.id, "at": act.at, "by": act.actor, "action": "moved", "state_before": i.state,
             "state_after": i.state, "note": note} for i in items])
    followed_waived, added = _obligations_follow(conn, ctx, act)
    summary = {"campaign": key, "unit": row.key, "into": target.key, "reason": full, "children_moved": kids,
               "ledger_items_moved": [i.id for i in items], "obligations_waived": waived + followed_waived,
               "obligations_added": added}
    audit.append(conn, act, "unit.merged", key, f"unit:{row.key}", {"active": True, "parent": row.parent_key},
                 {"active": False, **summary})
    return summary


def import_preview(conn: Connection, key: str, listed: Sequence[UnitSpec]) -> dict[str, Any]:
    """What importing `listed` would change, changing nothing: units added, renamed, moved, otherwise
    changed (tags, contacts), brought back, and removed (closed, their open obligations waived)."""
    ctx = load_ctx(conn, key)
    current = {r.key: r for r in conn.execute(select(units).where(units.c.campaign_id == ctx.id)).all()}
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("added", "renamed", "moved", "changed", "restored",
                                                           "removed")}
    for u in listed:
        row = current.get(u.key)
        if row is None:
            out["added"].append({"key": u.key, "name": u.name, "parent": u.parent})
            continue
        if not row.active:
            out["restored"].append({"key": u.key, "name": u.name})
        if row.name != u.name:
            out["renamed"].append({"key": u.key, "before": row.name, "after": u.name})
        if row.parent_key != u.parent:
            out["moved"].append({"key": u.key, "name": u.name, "before": row.parent_key, "after": u.parent})
        values = _unit_values(ctx.id, u)
        what = [w for w, a, b in (("标签 tags", row.tags, values["tags"]), ("联系人 contacts", row.contacts,
                                                                           values["contacts"])) if a != b]
        if what:
            out["changed"].append({"key": u.key, "name": u.name, "what": what})
    keys = {u.key for u in listed}
    for k, row in current.items():
        if row.active and k not in keys:
            out["removed"].append({"key": k, "name": row.name})
    problems = [msg for _, _, msg in hierarchy_problems(listed)]
    if ctx.organizer and ctx.organizer not in keys:
        problems.append(f"组织单位 '{ctx.organizer}' 不在名单中 (the organizer is missing from the list)")
    return {"campaign": key, **out, "problems": problems,
            "unchanged": len(listed) - len(out["added"]) - len({d["key"] for kind in ("renamed", "moved", "changed",
                                                                                     "restored") for d in out[kind]})}


def unit_detail(conn: Connection, key: str, unit: str) -> dict[str, Any]:
    """One unit whole: its fields, parent, children, state, and its obligations with their state and any
    waiver's reason."""
    from .tables import requirements

    ctx = load_ctx(conn, key)
    row = _row(conn, ctx, unit)
    every = {r.key: r.name for r in conn.execute(select(units.c.key, units.c.name).where(units.c.campaign_id == ctx.id))}
    kids = [{"key": k.key, "name": k.name} for k in _children(conn, ctx).get(row.key, [])]
    obs = conn.execute(
        select(obligations.c.id, obligations.c.artifact, obligations.c.state, obligations.c.due_at,
               obligations.c.waived_reason, phases.c.title.label("phase"), requirements.c.step_title)
        .join(phases, phases.c.id == obligations.c.phase_id)
        .join(requirements, requirements.c.id == obligations.c.requirement_id)
        .where(obligations.c.unit_id == row.id).order_by(phases.c.idx, requirements.c.idx)).all()
    items = conn.execute(select(ledger_items.c.state).where(ledger_items.c.unit_id == row.id,
                                                            ledger_items.c.current)).scalars().all()
    return {
        **_unit_doc(row), "active": bool(row.active), "parent_name": every.get(row.parent_key or ""),
        "removed_at": row.removed_at.astimezone(ctx.tz).isoformat() if row.removed_at else None,
        "removed_reason": row.removed_reason, "merged_into": row.merged_into,
        "merged_into_name": every.get(row.merged_into or ""), "children": kids, "organizer": ctx.organizer == row.key,
        "obligations": [{"id": o.id, "artifact": o.artifact,
                         "title": (ctx.artifacts.get(o.artifact) or {}).get("title", o.artifact),
                         "phase": o.phase, "step": o.step_title, "state": o.state,
                         "due": o.due_at.astimezone(ctx.tz).isoformat(), "waived_reason": o.waived_reason} for o in obs],
        "ledger": {"total": len(items), "open": sum(s != "closed" for s in items)},
    }



def update_unit(conn: Connection, key: str, unit: str, act: Act, *, name: str | None = None, parent: str | None = None,
                move: bool = False, contacts: Sequence[Contact] | None = None,
                reason: str | None = None) -> dict[str, Any]:
    """Several of rename, move (`move`: to `parent`, None being the top) and contacts in one transaction."""
    done: dict[str, Any] = {"campaign": key, "unit": None}
    if name is not None:
        done["renamed"] = rename_unit(conn, key, unit, name, act)
        done["unit"] = done["renamed"]["unit"]
    if move:
        done["moved"] = move_unit(conn, key, unit, parent, act, reason)
        done["unit"] = done["moved"]["unit"]
    if contacts is not None:
        done["contacts"] = set_contacts(conn, key, unit, contacts, act)
        done["unit"] = done["contacts"]["unit"]
    if done["unit"] is None:
        raise InvalidInput("请至少给出 name、parent 或 contacts 之一 (give name, parent or contacts)", field="name")
    return done
