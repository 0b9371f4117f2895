"""A unit user's to-do list (我的待办) across every campaign its unit takes part in, and 签收 (acknowledging
receipt of a notice or assignment) from it.

The list holds every obligation of the caller's reach (its unit and, for a parent unit, the units below it)
that is open — overdue, sent back (退回), due soon, due later or not yet open — and its ledger items still
owed, sorted by urgency; filings awaiting review and items awaiting verification are listed apart. Days are
local calendar days in each campaign's time zone, counted at the instant given.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Any

from campaign_model.errors import InvalidInput
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import CampaignCtx, load_ctx
from campaign_model.store.filings import resolve_artifact
from campaign_model.store.people import step_leads
from campaign_model.store.tasks import task_ledger_items, task_obligations, units_in_reach

from . import filings
from .scope import Scope
from .services import Services

DUE_SOON_DAYS = 7  # "7 天内到期": due within this many local days (today included)
# the order of urgency: overdue first (most overdue first), sent back, due soon, the rest, then not yet open
URGENCY = ("overdue", "rejected", "due_soon", "open", "not_open")


def my_tasks(svc: Services, at: dt.datetime, *, unit: str | None) -> dict[str, Any]:
    """What the unit `unit` (and the units below it) must do at `at`, in every campaign it takes part in."""
    with svc.read() as conn:
        reach = units_in_reach(conn, unit) if unit else []
        ids = [u.unit_id for u in reach]
        obs = task_obligations(conn, ids, at)
        items = task_ledger_items(conn, ids, at)
        ctxs = {u.campaign_id: load_ctx(conn, u.campaign) for u in reach}
        leads = {cid: step_leads(conn, cid) for cid in ctxs}  # 牵头股室 of led steps
    titles = {u.campaign_id: (u.campaign_title, u.campaign_title_en) for u in reach}
    tasks: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for r in obs:
        doc = _obligation(r, ctxs[r.campaign_id], titles[r.campaign_id], at)
        doc["lead"] = leads[r.campaign_id].get((r.phase, r.step_key), [])
        (waiting if r.state == "filed" else tasks).append(doc)
    tasks.sort(key=lambda t: (URGENCY.index(t["urgency"]), t["due_at"], t["unit"], t["artifact"]))
    ledger = [_item(r, ctxs[r.campaign_id], titles[r.campaign_id], at) for r in items]
    owed = [i for i in ledger if i["state"] != "rectified"]
    owed.sort(key=lambda i: (not i["overdue"], i["due_at"] is None, i["due_at"] or at, i["id"]))
    for doc in (*tasks, *waiting, *ledger):
        del doc["due_at"]  # the instant sorted by; the documents carry it as local text (`due`, `deadline`)
    campaigns = sorted({(u.campaign, u.campaign_title, u.campaign_title_en) for u in reach})
    return {
        "unit": unit, "at": at.isoformat(),
        "units": sorted({u.key for u in reach}), "several_units": len({u.key for u in reach}) > 1,
        "campaigns": [{"key": k, "title": t, "title_en": e} for k, t, e in campaigns],
        "counts": {"overdue": sum(t["urgency"] == "overdue" for t in tasks),
                   "rejected": sum(t["state"] == "rejected" for t in tasks),
                   "due_soon": sum(t["urgency"] == "due_soon" for t in tasks),
                   "ledger": len(owed), "ledger_overdue": sum(i["overdue"] for i in owed),
                   "awaiting_review": len(waiting), "awaiting_check": len(ledger) - len(owed)},
        "tasks": tasks, "ledger": owed,
        "awaiting_review": sorted(waiting, key=lambda t: t["filed_at"] or ""),
        "awaiting_check": [i for i in ledger if i["state"] == "rectified"],
    }


def _days(due_at: dt.datetime, at: dt.datetime, ctx: CampaignCtx) -> int:
    """Local calendar days from the day of `at` to the due day (negative: that many days past it)."""
    return (due_at.astimezone(ctx.tz).date() - at.astimezone(ctx.tz).date()).days


def _obligation(r: Any, ctx: CampaignCtx, title: tuple[str, str | None], at: dt.datetime) -> dict[str, Any]:
    kind = ctx.artifacts.get(r.artifact, {})
    days = _days(r.due_at, at, ctx)
    if r.overdue:
        urgency = "overdue"
    elif r.not_open:
        urgency = "not_open"
    elif r.state == "rejected":
        urgency = "rejected"
    else:
        urgency = "due_soon" if days <= DUE_SOON_DAYS else "open"
    local_due = r.due_at.astimezone(ctx.tz)
    rejection = None
    if r.state == "rejected" and r.review_by is not None:
        rejection = {"comment": r.review_comment, "by": r.review_by, "by_name": r.review_by_name or r.review_by,
                     "at": r.review_at.astimezone(ctx.tz).isoformat()}
    return {
        "kind": "obligation", "id": r.id, "campaign": ctx.key, "campaign_title": title[0], "campaign_title_en": title[1],
        "phase": r.phase, "phase_title": r.phase_title, "phase_title_en": r.phase_title_en,
        "step": r.step_key, "step_title": r.step_title, "artifact": r.artifact,
        "artifact_title": str(kind.get("title", r.artifact)), "artifact_title_en": kind.get("title_en"),
        "unit": r.unit, "unit_name": r.unit_name, "state": r.state, "urgency": urgency,
        "due": local_due.isoformat(), "due_at": r.due_at, "due_date": local_due.date().isoformat(),
        "weekday": local_due.weekday(), "days_left": max(days, 0), "days_overdue": max(-days, 0) if r.overdue else 0,
        # not yet open: the phase's planned start, or, when that has passed, the phase waits on the one before
        "opens": r.phase_start.astimezone(ctx.tz).date().isoformat() if r.not_open else None,
        "waits_for_previous": bool(r.not_open and r.phase_start <= at),
        "acknowledge": bool(kind.get("acknowledge")), "signoff": bool(r.signoff), "review": bool(r.review),
        "reviewer": r.reviewer if r.review else None,  # who reviews, when the spec names them
        "rejection": rejection,
        "filed_at": r.filed_at.astimezone(ctx.tz).isoformat() if r.filed_at else None,
    }


def _item(r: Any, ctx: CampaignCtx, title: tuple[str, str | None], at: dt.datetime) -> dict[str, Any]:
    days = _days(r.due_at, at, ctx) if r.due_at is not None else None
    return {
        "kind": "ledger", "id": r.id, "campaign": ctx.key, "campaign_title": title[0], "campaign_title_en": title[1],
        "unit": r.unit, "unit_name": r.unit_name, "problem": r.problem, "category": r.category, "measure": r.measure,
        "state": r.state, "source": r.source, "long_term": bool(r.long_term), "overdue": bool(r.overdue),
        "deadline": r.deadline.isoformat() if r.deadline else None, "due_at": r.due_at,
        "weekday": r.deadline.weekday() if r.deadline else None,
        "days_left": max(days, 0) if days is not None else None,
        "days_overdue": max(-days, 0) if r.overdue and days is not None else 0,
    }


def acknowledge(svc: Services, act: Act, campaign: str, unit: str, artifact: str, *, signer: str,
                step: str | None = None, scope: Scope | None = None) -> dict[str, Any]:
    """签收: file an acknowledged kind's obligation with no files and no rows, `signer` having acknowledged it."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        key = resolve_artifact(ctx, artifact)
        kind = ctx.artifact(key)
        if kind is None or not kind.acknowledge:
            raise InvalidInput(f"'{artifact}' 不是签收类材料，请到报送页面上传 "
                               f"('{artifact}' is not acknowledged but filed: use the filing form)", field="artifact")
    # the filing use case checks the scope and records it like any filing (versioned, audited)
    return filings.file_uploads(svc, act, campaign, unit, key, lambda: nullcontext(filings.Uploads([])),
                                signed_by=signer, step=step, scope=scope)
