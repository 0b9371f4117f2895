"""The steps of a campaign as marks on its timeline: each step's due date and how its obligations stand at
an instant (all done, some overdue, some open). One grouped query, whatever the number of units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, case, func, select

from .campaigns import CampaignCtx
from .predicates import obligation_overdue
from .tables import obligations, phases, requirements, units


def step_marks(conn: Connection, ctx: CampaignCtx, at: dt.datetime,
               scope: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Per phase and step, in due order: its title, its due day (local), and its state at `at`:
    `done` (every obligation filed, accepted or waived), `overdue` (one open and past due in a started
    phase), `open`, or None when it owes nothing (in `scope`, a set of unit keys; None: every unit)."""
    owed = (select(obligations.c.requirement_id, func.count().label("n"),
                   func.sum(case((obligations.c.done.is_(True), 1), else_=0)).label("done"),
                   func.sum(case((obligation_overdue(at), 1), else_=0)).label("late"))
            .join(units, units.c.id == obligations.c.unit_id)
            .where(obligations.c.campaign_id == ctx.id, units.c.active.is_(True)))
    if scope is not None:
        owed = owed.where(units.c.key.in_(sorted(scope)))
    counts = owed.group_by(obligations.c.requirement_id).subquery()
    rows = conn.execute(
        select(phases.c.key.label("phase"), requirements.c.step_key, requirements.c.step_title, requirements.c.due_at,
               counts.c.n, counts.c.done, counts.c.late)
        .join(phases, phases.c.id == requirements.c.phase_id)
        .outerjoin(counts, counts.c.requirement_id == requirements.c.id)
        .where(requirements.c.campaign_id == ctx.id)
        .order_by(phases.c.idx, requirements.c.due_at, requirements.c.step_key)).all()
    steps: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:  # a step's requirements (one per artifact) fall due together; the latest one stands for it
        s = steps.setdefault((r.phase, r.step_key), {"phase": r.phase, "step": r.step_key, "title": r.step_title,
                                                     "due": r.due_at, "n": 0, "done": 0, "late": 0})
        s["due"] = max(s["due"], r.due_at)
        s["n"] += r.n or 0
        s["done"] += int(r.done or 0)
        s["late"] += int(r.late or 0)
    out = []
    for s in steps.values():
        state = None if not s["n"] else "done" if s["done"] == s["n"] else "overdue" if s["late"] else "open"
        out.append({"phase": s["phase"], "step": s["step"], "title": s["title"],
                    "day": s["due"].astimezone(ctx.tz).date().isoformat(), "state": state})
    return out
