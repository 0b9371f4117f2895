"""Look-back (回头看): a step that samples closed ledger items into re-checks; a failed re-check reopens.

Sampling is deterministic (each item's place in a hash order of item and step), so a re-run picks the
same items; each item is re-checked once per look-back step (unique key). Pending re-checks hold
their phase's gate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import defaultdict
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from ..errors import ConflictError, InvalidInput, NotFound
from ..ledger import parse_share
from ..spec import LookBack
from ..specfile import parse_yaml
from ..timeexpr import resolve_due
from . import audit
from .audit import Act
from .campaigns import CampaignCtx, load_ctx
from .ledger import verify_item
from .tables import campaign_specs, ledger_events, ledger_items, phases, rechecks, units


@lru_cache(maxsize=64)
def _lookbacks(text: str) -> list[tuple[str, str, str, LookBack, Any]]:
    """(phase key, step key, step title, look-back, due) of a stored spec's look-back steps."""
    data, _ = parse_yaml(text, "<spec>")
    out = []
    for p in data.get("phases", []):
        for s in p.get("steps", []) if isinstance(p, dict) else []:
            if isinstance(s, dict) and s.get("lookback") is not None:
                out.append((str(p["key"]), str(s["key"]), str(s.get("title", s["key"])),
                            LookBack.model_validate(s["lookback"]), s["due"]))
    return out


def lookback_steps(conn: Connection, ctx: CampaignCtx) -> list[tuple[str, str, str, LookBack, Any]]:
    text = conn.execute(select(campaign_specs.c.text).where(campaign_specs.c.campaign_id == ctx.id)
                        .order_by(campaign_specs.c.version.desc()).limit(1)).scalar()
    return _lookbacks(text) if text else []


def _order(item_id: int, step: str) -> str:
    return hashlib.sha256(f"{item_id}:{step}".encode()).hexdigest()


def sample_due(conn: Connection, ctx: CampaignCtx, act: Act) -> int:
    """Run the look-back steps whose sampling instant has come in a started phase; returns re-checks made."""
    made = 0
    rows = {r.key: r for r in conn.execute(select(phases).where(phases.c.campaign_id == ctx.id)).all()}
    for phase_key, step_key, title, lookback, due in lookback_steps(conn, ctx):
        phase = rows.get(phase_key)
        if phase is None or phase.started_at is None:
            continue
        when = sampling_instant(ctx, phase, lookback)
        if act.at < when or conn.execute(select(rechecks.c.id).where(
                rechecks.c.phase_id == phase.id, rechecks.c.step_key == step_key).limit(1)).first():
            continue
        start, end = phase.start_at.astimezone(ctx.tz).date(), phase.end_at.astimezone(ctx.tz).date()
        due_at = resolve_due(due, phase_start=start, phase_end=end, calendar=ctx.calendar, tz=ctx.tz)
        made += _sample(conn, ctx, phase, step_key, title, lookback, due_at, act)
    return made


def sampling_instant(ctx: CampaignCtx, phase: Any, lookback: LookBack) -> dt.datetime:
    """When a started phase's look-back step samples: its `sample` date, or the phase's start."""
    if lookback.sample is None:
        return phase.started_at  # type: ignore[no-any-return]
    start, end = phase.start_at.astimezone(ctx.tz).date(), phase.end_at.astimezone(ctx.tz).date()
    return resolve_due(lookback.sample, phase_start=start, phase_end=end, calendar=ctx.calendar, tz=ctx.tz)


def _sample(conn: Connection, ctx: CampaignCtx, phase: Any, step_key: str, title: str, lookback: LookBack,
            due_at: dt.datetime, act: Act) -> int:
    closed = conn.execute(
        select(ledger_items.c.id, ledger_items.c.unit_id).join(units, units.c.id == ledger_items.c.unit_id)
        .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True), ledger_items.c.state == "closed",
               ledger_items.c.long_term.is_(False), units.c.active.is_(True))).all()
    by_unit: dict[int, list[int]] = defaultdict(list)
    for item_id, unit_id in closed:
        by_unit[unit_id].append(item_id)
    chosen: list[int] = []
    for items in by_unit.values():
        items.sort(key=lambda i: _order(i, step_key))
        k = len(items) if lookback.share == "all" else max(1, math.ceil(parse_share(lookback.share) * len(items)))
        chosen += items[:k]
    if chosen:
        conn.execute(insert(rechecks), [
            {"campaign_id": ctx.id, "item_id": i, "phase_id": phase.id, "step_key": step_key, "due_at": due_at,
             "state": "pending", "sampled_at": act.at} for i in sorted(chosen)])
        audit.append(conn, act, "lookback.sampled", ctx.key, f"step:{phase.key}/{step_key}", None,
                     {"title": title, "share": str(lookback.share), "closed": len(closed), "sampled": sorted(chosen),
                      "due": due_at.astimezone(ctx.tz).isoformat()})
    return len(chosen)


def pending(conn: Connection, phase_id: int) -> int:
    return conn.execute(select(func.count()).select_from(rechecks).where(
        rechecks.c.phase_id == phase_id, rechecks.c.state == "pending")).scalar_one()


def decide(conn: Connection, item_id: int, passed: bool, comment: str | None, act: Act, *,
           step: str | None = None, deadline: dt.date | None = None) -> dict[str, Any]:
    """A supervisor's re-check: passed keeps the item closed; failed reopens it (反弹), with a new deadline."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("复查结论须写明意见 (a re-check needs a comment)", field="comment")
    q = select(rechecks).where(rechecks.c.item_id == item_id, rechecks.c.state == "pending")
    if step:
        q = q.where(rechecks.c.step_key == step)
    found = conn.execute(q).all()
    if not found:
        exists = conn.execute(select(ledger_items.c.id).where(ledger_items.c.id == item_id)).first()
        if exists is None:
            raise NotFound(f"没有台账事项 #{item_id} (no ledger item #{item_id})")
        raise ConflictError(f"事项 #{item_id} 没有待复查的回头看 (item #{item_id} has no pending re-check)")
    if len(found) > 1:
        raise InvalidInput(f"事项 #{item_id} 有多个待复查，请指明步骤 (several pending re-checks: name the step)",
                           field="step")
    check = found[0]
    state = "passed" if passed else "failed"
    conn.execute(update(rechecks).where(rechecks.c.id == check.id).values(
        state=state, decided_at=act.at, decided_by=act.actor, comment=comment))
    ctx = load_ctx(conn, _campaign_key(conn, check.campaign_id))
    if passed:
        conn.execute(insert(ledger_events).values(item_id=item_id, at=act.at, by=act.actor, action="rechecked",
                                                  state_before="closed", state_after="closed",
                                                  note=f"回头看复查通过 (look-back passed): {comment}"))
        audit.append(conn, act, "lookback.passed", ctx.key, f"ledger:#{item_id}", {"recheck": "pending"},
                     {"recheck": "passed", "step": check.step_key, "comment": comment})
    else:
        verify_item(conn, item_id, False, f"回头看复查未通过 (look-back failed): {comment}", act, deadline=deadline)
        audit.append(conn, act, "lookback.failed", ctx.key, f"ledger:#{item_id}", {"recheck": "pending"},
                     {"recheck": "failed", "step": check.step_key, "comment": comment, "item": "reopened"})
    return {"item": item_id, "step": check.step_key, "recheck": state, "comment": comment,
            "item_state": "closed" if passed else "reopened", "at": act.at.astimezone(ctx.tz).isoformat()}


def _campaign_key(conn: Connection, campaign_id: int) -> str:
    from .tables import campaigns

    return str(conn.execute(select(campaigns.c.key).where(campaigns.c.id == campaign_id)).scalar_one())
