"""The facts of the assessment (考核) as of an instant, counted per unit in a few set-based statements, and the
campaign's `assessment:` section as its current spec gives it. Scoring is `campaign_model.grades`.

What "as of" means here: filings and review decisions are dated, so they are counted up to the instant; a
waiver and a ledger item's state are read as they stand now (an item counts as closed when it is closed now
and its closing came by the instant). The active units are assessed, the organizer (who assesses) excepted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Connection, and_, case, func, or_, select

from ..grades import Assessment, UnitFacts
from .campaigns import CampaignCtx
from .predicates import phase_started
from .tables import campaign_specs, campaigns, filings, ledger_items, obligations, reviews, units

_CACHE: dict[tuple[str, int, int], Assessment | None] = {}


def assessment_of(conn: Connection, ctx: CampaignCtx) -> Assessment | None:
    """The `assessment:` of the campaign's current spec version (None when it has none); read once per version."""
    version = conn.execute(select(campaigns.c.spec_version).where(campaigns.c.id == ctx.id)).scalar_one()
    where = (conn.engine.url.render_as_string(hide_password=True), ctx.id, int(version))
    if where in _CACHE:
        return _CACHE[where]
    text = conn.execute(select(campaign_specs.c.text).where(campaign_specs.c.campaign_id == ctx.id)
                        .order_by(campaign_specs.c.version.desc()).limit(1)).scalar()
    found: Assessment | None = None
    if text:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        section = data.get("assessment") if isinstance(data, dict) else None
        if section is not None:
            try:
                found = Assessment.model_validate(section)
            except ValidationError:  # a stored spec was validated when stored; an older format has none
                found = None
    if len(_CACHE) > 256:
        _CACHE.clear()
    _CACHE[where] = found
    return found


def _sum(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def unit_facts(conn: Connection, ctx: CampaignCtx, at: dt.datetime, parent: str | None = None) -> list[UnitFacts]:
    """Per active unit (under `parent` when given; the organizer excepted), in the unit list's order: what is due
    and was filed on time, the versions filed and sent back, the ledger items due and closed, all by `at`."""
    o, f, r, i = obligations.c, filings.c, reviews.c, ledger_items.c
    first_filed = select(func.min(f.at)).where(f.obligation_id == o.id, f.at <= at).scalar_subquery()
    due = and_(o.due_at < at, phase_started(at), o.state != "waived")
    owed = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(
        select(o.unit_id, func.count(), _sum(first_filed <= o.due_at))
        .where(o.campaign_id == ctx.id, due).group_by(o.unit_id)).all()}
    filed = {row[0]: int(row[1]) for row in conn.execute(
        select(o.unit_id, func.count()).select_from(filings).join(obligations, o.id == f.obligation_id)
        .where(o.campaign_id == ctx.id, f.at <= at).group_by(o.unit_id)).all()}
    sent_back = {row[0]: int(row[1]) for row in conn.execute(
        select(o.unit_id, func.count()).select_from(reviews).join(obligations, o.id == r.obligation_id)
        .where(o.campaign_id == ctx.id, r.decision == "rejected", r.at <= at).group_by(o.unit_id)).all()}
    closed_by = and_(i.state == "closed", i.closed_at.is_not(None), i.closed_at <= at)
    ledger = {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(
        select(i.unit_id, func.count(), _sum(closed_by))
        .where(i.campaign_id == ctx.id, i.current.is_(True), i.long_term.is_(False), i.created_at <= at,
               or_(closed_by, and_(i.due_at.is_not(None), i.due_at < at)))
        .group_by(i.unit_id)).all()}
    up = units.alias("up")
    q = (select(units.c.id, units.c.key, units.c.name, units.c.parent_key, up.c.name.label("parent_name"))
         .outerjoin(up, and_(up.c.campaign_id == units.c.campaign_id, up.c.key == units.c.parent_key))
         .where(units.c.campaign_id == ctx.id, units.c.active.is_(True)).order_by(units.c.id))
    if ctx.organizer:
        q = q.where(units.c.key != ctx.organizer)
    if parent:
        q = q.where(units.c.parent_key == parent)
    out = []
    for u in conn.execute(q).all():
        n_due, n_on_time = owed.get(u.id, (0, 0))
        n_items, n_closed = ledger.get(u.id, (0, 0))
        out.append(UnitFacts(u.key, u.name, u.parent_key, u.parent_name, n_due, n_on_time, filed.get(u.id, 0),
                             sent_back.get(u.id, 0), n_items, n_closed))
    return out


def parents(conn: Connection, ctx: CampaignCtx) -> list[dict[str, str]]:
    """The units with active units below them, for the ranking's filter (the unit list's order)."""
    rows = conn.execute(select(units.c.key, units.c.name, units.c.parent_key)
                        .where(units.c.campaign_id == ctx.id, units.c.active.is_(True)).order_by(units.c.id)).all()
    above = {r.parent_key for r in rows if r.parent_key}
    return [{"key": r.key, "name": r.name} for r in rows if r.key in above]
