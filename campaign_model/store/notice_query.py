"""The read model of the weekly notice (通报): open obligations past due at an instant, by parent unit.

Like `queries.obligation_counts`, states are the stored ones and only "overdue" is judged at `at`
(predicates.obligation_overdue: an obligation of a phase not yet started is never named), so a notice
for a past instant and the status for that instant agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, String, and_, case, func, literal, select

from ..grades import Assessment, UnitGrade, assess
from .campaigns import CampaignCtx, load_ctx
from .grades import assessment_of, unit_facts
from .predicates import obligation_overdue, phase_started
from .tables import campaigns, obligations, phases, requirements, units

NO_PARENT = "无上级单位 (no parent)"


@dataclass
class NoticeItem:
    unit_key: str
    unit_name: str
    artifact: str
    artifact_title: str
    step_title: str
    due: dt.datetime  # in the campaign's zone
    days_overdue: int  # local calendar days from the due day to the notice day
    rejected: bool  # filed, sent back by the reviewer, not filed again
    artifact_title_en: str | None = None


@dataclass
class NoticeGroup:
    parent_key: str | None
    parent_name: str
    items: list[NoticeItem] = field(default_factory=list)

    @property
    def units(self) -> int:
        return len({i.unit_key for i in self.items})


@dataclass
class NoticeData:
    campaign: str
    title: str
    title_en: str | None
    organizer_name: str | None
    at: dt.datetime  # in the campaign's zone
    groups: list[NoticeGroup]
    due_total: int  # obligations of started phases whose due instant is before `at`, whatever their state
    filed_on_time: int
    filed_late: int
    waived: int
    # the signature (the campaign's leading group office, spec messages.issuer) and the document number
    # (messages.doc_number with {year} and {n}: the campaign week of the notice), when the spec gives them
    issuer: str | None = None
    issuer_en: str | None = None
    doc_number: str | None = None
    # 考核: the ranking as of `at` and its assessment, when the spec's `assessment.in_notice` asks for it
    ranking: list[UnitGrade] | None = None
    assessment: Assessment | None = None

    @property
    def items(self) -> list[NoticeItem]:
        return [i for g in self.groups for i in g.items]

    @property
    def items_overdue(self) -> int:
        return len(self.items)

    @property
    def units_overdue(self) -> int:
        return len({i.unit_key for i in self.items})

    @property
    def rejected_overdue(self) -> int:
        return sum(1 for i in self.items if i.rejected)


def _parent_key(ctx: CampaignCtx) -> Any:
    """A top-level unit answers to the organizer (the bureau circulates the notice); the organizer to no one."""
    if not ctx.organizer:
        return units.c.parent_key
    return case((units.c.parent_key.is_not(None), units.c.parent_key),
                (units.c.key != ctx.organizer, literal(ctx.organizer, String)), else_=None)


def overdue_by_parent(conn: Connection, campaign_key: str, at: dt.datetime) -> NoticeData:
    ctx = load_ctx(conn, campaign_key)
    # what has fallen due: only in phases started by `at` (an obligation of a phase not yet open is not due yet)
    due = (obligations.c.due_at < at) & phase_started(at)
    parent = units.alias("parent")
    parent_key = _parent_key(ctx)
    rows = conn.execute(
        select(units.c.key.label("unit_key"), units.c.name.label("unit_name"), parent_key.label("parent_key"),
               parent.c.name.label("parent_name"), obligations.c.artifact, obligations.c.state,
               obligations.c.due_at, requirements.c.step_title)
        .select_from(obligations)
        .join(units, units.c.id == obligations.c.unit_id)
        .join(requirements, requirements.c.id == obligations.c.requirement_id)
        .outerjoin(parent, and_(parent.c.campaign_id == units.c.campaign_id, parent.c.key == parent_key))
        .where(obligations.c.campaign_id == ctx.id, obligation_overdue(at))
        # parents and units in the order the unit list gives them (the order administrators know)
        .order_by(parent.c.id.is_(None), parent.c.id, units.c.id, obligations.c.due_at, requirements.c.id)).all()

    def count(cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    filed = obligations.c.state.in_(("filed", "accepted"))
    summary = conn.execute(
        select(func.count(), count(filed & obligations.c.late.is_not(True)), count(filed & obligations.c.late.is_(True)),
               count(obligations.c.state == "waived"),
               select(campaigns.c.title_en).where(campaigns.c.id == ctx.id).scalar_subquery(),
               select(units.c.name).where(units.c.campaign_id == ctx.id, units.c.key == ctx.organizer)
               .scalar_subquery())
        .where(obligations.c.campaign_id == ctx.id, due)).one()

    local_at = at.astimezone(ctx.tz)
    groups: dict[str | None, NoticeGroup] = {}
    for r in rows:
        group = groups.get(r.parent_key)
        if group is None:
            name = r.parent_name or r.parent_key or NO_PARENT
            group = groups[r.parent_key] = NoticeGroup(r.parent_key, name)
        kind = ctx.artifacts.get(r.artifact, {})
        local_due = r.due_at.astimezone(ctx.tz)
        group.items.append(NoticeItem(
            r.unit_key, r.unit_name, r.artifact, kind.get("title", r.artifact), r.step_title, local_due,
            (local_at.date() - local_due.date()).days, r.state == "rejected", kind.get("title_en")))
    total, on_time, late, waived, title_en, organizer_name = summary
    messages = ctx.messages or {}
    doc_number = None
    if messages.get("doc_number"):
        first = conn.execute(select(func.min(phases.c.start_at)).where(phases.c.campaign_id == ctx.id)).scalar()
        doc_number = str(messages["doc_number"]).format(year=local_at.year, n=notice_number(first, local_at, ctx))
    assessment = assessment_of(conn, ctx)
    ranking = assess(unit_facts(conn, ctx, at), assessment) if assessment and assessment.in_notice else None
    return NoticeData(ctx.key, ctx.title, title_en, organizer_name, local_at, list(groups.values()),
                      int(total), int(on_time), int(late), int(waived),
                      messages.get("issuer"), messages.get("issuer_en"), doc_number,
                      ranking, assessment if ranking is not None else None)


def notice_number(first_start: dt.datetime | None, local_at: dt.datetime, ctx: CampaignCtx) -> int:
    """The notice's number in its document series: one notice a week, counted from the campaign's first week
    (the week of its first phase's start), so that the same week's notice always bears the same number."""
    if first_start is None:
        return 1
    if first_start.tzinfo is None:
        first_start = first_start.replace(tzinfo=dt.UTC)
    first = first_start.astimezone(ctx.tz).date()
    first_monday = first - dt.timedelta(days=first.weekday())
    return max(1, (local_at.date() - first_monday).days // 7 + 1)
