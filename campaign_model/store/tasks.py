"""What a unit still has to do, across every campaign it takes part in: the read model of "my tasks" (我的待办).

Three set-based reads, whatever the number of campaigns: the units in the caller's reach (its own unit and,
for a parent unit such as a 学区, every unit below it, per campaign: `access.visible_units`), then the open
or awaiting-review obligations of those units, then their ledger items still owed or awaiting verification.
Whether an obligation is overdue or not yet open is decided by `predicates` (the rule is written once);
the instant is an argument.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from ..access import visible_units
from ..ledger import OWED
from .predicates import OPEN_LITERAL, ledger_item_overdue, obligation_not_open, obligation_overdue
from .tables import campaigns, ledger_items, obligations, phases, requirements, reviews, units, users


@dataclass(frozen=True)
class UnitInReach:
    campaign_id: int
    campaign: str  # the campaign's key
    campaign_title: str
    campaign_title_en: str | None
    unit_id: int
    key: str
    name: str


def units_in_reach(conn: Connection, own: str) -> list[UnitInReach]:
    """In every campaign where `own` is an active unit: `own` and the active units below it. One query (every
    active unit of those campaigns, with its parent), the hierarchy walked in Python."""
    member = select(units.c.campaign_id).where(units.c.key == own, units.c.active.is_(True))
    rows = conn.execute(select(units.c.campaign_id, campaigns.c.key.label("campaign"),
                               campaigns.c.title, campaigns.c.title_en, units.c.id, units.c.key,
                               units.c.name, units.c.parent_key)
                        .join(campaigns, campaigns.c.id == units.c.campaign_id)
                        .where(units.c.campaign_id.in_(member), units.c.active.is_(True))
                        .order_by(campaigns.c.key, units.c.id)).all()
    by_campaign: dict[int, list[Any]] = {}
    for r in rows:
        by_campaign.setdefault(r.campaign_id, []).append(r)
    out: list[UnitInReach] = []
    for members in by_campaign.values():
        seen = visible_units(own, {r.key: r.parent_key for r in members})
        out.extend(UnitInReach(r.campaign_id, r.campaign, r.title, r.title_en, r.id, r.key, r.name) for r in members if r.key in seen)
    return out


def task_obligations(conn: Connection, unit_ids: Collection[int], at: dt.datetime) -> list[Any]:
    """The obligations of these units that are still open (pending or rejected: overdue, due, not yet open) or
    filed and awaiting review, with their phase and step, whether each is overdue / not yet open at `at`
    (predicates), and a rejected one's latest review (comment, reviewer and the reviewer's display name)."""
    if not unit_ids:
        return []
    # the phase read under another name: predicates probe `phases` correlated to the obligation, which an
    # outer `phases` in the FROM list would swallow
    phase = phases.alias("phase")
    earlier = reviews.alias("earlier")
    latest = (select(func.max(earlier.c.id)).where(earlier.c.obligation_id == obligations.c.id)
              .correlate(obligations).scalar_subquery())
    q = (select(obligations.c.id, obligations.c.campaign_id, obligations.c.artifact, obligations.c.state,
                obligations.c.due_at, obligations.c.filed_at, obligations.c.review,
                units.c.key.label("unit"), units.c.name.label("unit_name"),
                phase.c.key.label("phase"), phase.c.title.label("phase_title"),
                phase.c.title_en.label("phase_title_en"), phase.c.start_at.label("phase_start"),
                requirements.c.step_key, requirements.c.step_title, requirements.c.signoff, requirements.c.reviewer,
                case((obligation_overdue(at), True), else_=False).label("overdue"),
                case((obligation_not_open(at), True), else_=False).label("not_open"),
                reviews.c.comment.label("review_comment"), reviews.c.by.label("review_by"),
                reviews.c.at.label("review_at"), users.c.display_name.label("review_by_name"))
         .join(units, units.c.id == obligations.c.unit_id)
         .join(phase, phase.c.id == obligations.c.phase_id)
         .join(requirements, requirements.c.id == obligations.c.requirement_id)
         # only a rejected obligation needs its review: the reviewer's comment is what the unit must fix
         .outerjoin(reviews, and_(obligations.c.state == "rejected", reviews.c.id == latest))
         .outerjoin(users, users.c.name == reviews.c.by)
         .where(obligations.c.unit_id.in_(list(unit_ids)),
                or_(OPEN_LITERAL, and_(obligations.c.state == "filed", obligations.c.review.is_(True))))
         .order_by(obligations.c.due_at, units.c.id, requirements.c.idx, obligations.c.id))
    return list(conn.execute(q).all())


# a rectified item waits on the supervisor (销号), not the unit: shown apart, as awaiting verification
TASK_LEDGER_STATES = (*OWED, "rectified")


def task_ledger_items(conn: Connection, unit_ids: Collection[int], at: dt.datetime) -> list[Any]:
    """The current ledger items of these units still owed (open, in progress, reopened) or rectified and
    awaiting verification, each with whether it is overdue at `at` (predicates.ledger_item_overdue)."""
    if not unit_ids:
        return []
    i = ledger_items.c
    q = (select(i.id, i.campaign_id, i.problem, i.category, i.measure, i.state, i.source, i.deadline, i.due_at,
                i.long_term, i.updated_at, units.c.key.label("unit"), units.c.name.label("unit_name"),
                case((ledger_item_overdue(at), True), else_=False).label("overdue"))
         .join(units, units.c.id == i.unit_id)
         .where(i.unit_id.in_(list(unit_ids)), i.current.is_(True), i.state.in_(TASK_LEDGER_STATES))
         .order_by(i.due_at.is_(None), i.due_at, units.c.id, i.row_no, i.id))
    return list(conn.execute(q).all())


def awaiting_review_counts(conn: Connection) -> dict[str, int]:
    """Per campaign key, the filings waiting for a reviewer (filed, review required): the admins' and
    supervisors' to-do on the campaign cards. One grouped query."""
    rows = conn.execute(select(campaigns.c.key, func.count())
                        .join(obligations, obligations.c.campaign_id == campaigns.c.id)
                        .where(obligations.c.state == "filed", obligations.c.review.is_(True))
                        .group_by(campaigns.c.key)).all()
    return {key: int(n) for key, n in rows}
