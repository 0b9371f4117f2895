"""考核排名: each unit's assessment and rank as of an instant, the one use case behind the ranking page,
`GET /api/v1/campaigns/{key}/grades`, the `grades` report and the 通报's section."""

from __future__ import annotations

import datetime as dt
from typing import Any

from campaign_model.errors import InvalidInput
from campaign_model.grades import DEFAULT, MEASURE_EN, MEASURE_ZH, MEASURES, assess
from campaign_model.store import grades as store
from campaign_model.store.campaigns import load_ctx

from .services import Services


def ranking(svc: Services, campaign: str, *, at: dt.datetime | None = None, parent: str | None = None,
            lang: str = "zh") -> dict[str, Any]:
    """The ranking (排名) as of `at` (default: now), of every unit or those directly under `parent`."""
    instant = at or svc.now()
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        return ranking_in(conn, ctx, instant, parent, lang)


def ranking_in(conn: Any, ctx: Any, at: dt.datetime, parent: str | None = None, lang: str = "zh") -> dict[str, Any]:
    """`ranking` inside a transaction already open (the reports read it with the audit head)."""
    configured = store.assessment_of(conn, ctx)
    assessment = configured or DEFAULT
    offered = store.parents(conn, ctx)
    if parent and parent not in {p["key"] for p in offered}:
        known = ", ".join(p["key"] for p in offered) or "—"
        raise InvalidInput(f"上级单位 parent 没有 '{parent}' 这一项；可选：{known} "
                           f"(no parent unit '{parent}' to filter by; known: {known})", field="parent")
    ranked = assess(store.unit_facts(conn, ctx, at, parent or None), assessment)
    grades = [{"name": g.name, "name_en": g.name_en, "min": g.min,
               "units": sum(1 for u in ranked if u.grade is g)} for g in assessment.grades]
    return {"campaign": ctx.key, "title": ctx.title, "at": at.astimezone(ctx.tz).isoformat(), "parent": parent or None,
            "weights": {m: getattr(assessment.weights, m) for m in MEASURES},
            "measures": [{"key": m, "title": MEASURE_ZH[m], "title_en": MEASURE_EN[m]} for m in MEASURES],
            "grades": grades, "ungraded": sum(1 for u in ranked if u.grade is None), "in_notice": assessment.in_notice,
            "configured": configured is not None,
            "parents": offered, "units": [u.as_dict(lang) for u in ranked]}


def ranking_frame(svc: Services, campaign: str) -> dict[str, Any]:
    """What the ranking page shows around a refused ranking: the campaign's title and the parent units to filter by."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        return {"campaign": ctx.key, "title": ctx.title, "parents": store.parents(conn, ctx)}
