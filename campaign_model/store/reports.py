"""Read models of the reports: the phase completion audit, the ledger in the bureaus' layout, and the
ledger's closure over time. Each is a few set-based queries over the whole campaign (joins and
GROUP BY), never one query per unit, so a provincial campaign costs the same few round trips.

Like the status and the notice, states are the stored ones; only "missing" versus "pending" (not yet
due) is judged at the report's instant `at`. Instants come back aware, in the campaign's zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from ..errors import NotFound
from .campaigns import CampaignCtx, load_ctx
from .tables import (audit_events, filings, ledger_events, ledger_items, obligations, outbox, phases, requirements,
                     reviews, units)

OUTCOMES = ("on_time", "late", "missing", "waived", "pending")


@dataclass
class PhaseAudit:
    campaign: str
    title: str
    at: dt.datetime  # local
    phases: list[dict[str, Any]]  # one per phase: window, start, completion, forced + reason, counts
    rows: list[dict[str, Any]]  # one per obligation (phase x unit x required artifact)
    overrides: list[dict[str, Any]]  # forced advances and waivers, with who, when and why


def _local(value: dt.datetime | None, ctx: CampaignCtx) -> dt.datetime | None:
    return value.astimezone(ctx.tz) if value is not None else None


def outcome(state: str, late: bool | None, due_at: dt.datetime, at: dt.datetime) -> str:
    """How an obligation stands for an auditor: a rejected filing counts as not filed."""
    if state == "waived":
        return "waived"
    if state in ("filed", "accepted"):
        return "late" if late else "on_time"
    return "missing" if at > due_at else "pending"


def _phase_rows(conn: Connection, ctx: CampaignCtx, phase: str | None) -> list[Any]:
    q = select(phases).where(phases.c.campaign_id == ctx.id).order_by(phases.c.idx)
    rows = conn.execute(q).all()
    if phase is None:
        return list(rows)
    chosen = [r for r in rows if r.key == phase]
    if not chosen:
        known = ", ".join(r.key for r in rows)
        raise NotFound(f"活动 '{ctx.key}' 没有阶段 '{phase}'；可选: {known} (no phase '{phase}'; known: {known})")
    return chosen


def _obligation_rows(conn: Connection, ctx: CampaignCtx, phase_ids: list[int]) -> list[Any]:
    versions = (select(filings.c.obligation_id, func.count().label("versions"),
                       func.max(filings.c.version).label("last_version"))
                .group_by(filings.c.obligation_id).subquery())
    latest = filings.alias("latest")
    # a filing is reviewed at most once (review needs state "filed"); max() guards against none or more
    last_review = select(reviews.c.filing_id, func.max(reviews.c.id).label("rid")).group_by(reviews.c.filing_id).subquery()
    review = reviews.alias("review")
    rejections = (select(reviews.c.obligation_id, func.count().label("n")).where(reviews.c.decision == "rejected")
                  .group_by(reviews.c.obligation_id).subquery())
    # a reminder goes out on several channels: count the distinct slots (kind, day), not the copies
    slots = (select(outbox.c.obligation_id, outbox.c.kind, outbox.c.slot_day)
             .where(outbox.c.campaign_id == ctx.id, outbox.c.state == "sent").distinct().subquery())
    sent = (select(slots.c.obligation_id,
                   func.sum(case((slots.c.kind != "escalation", 1), else_=0)).label("reminders"),
                   func.sum(case((slots.c.kind == "escalation", 1), else_=0)).label("escalations"))
            .group_by(slots.c.obligation_id).subquery())
    q = (select(obligations.c.id, obligations.c.phase_id, obligations.c.artifact, obligations.c.state,
                obligations.c.review, obligations.c.due_at, obligations.c.filed_at, obligations.c.late,
                obligations.c.done_at, obligations.c.waived_reason, units.c.key.label("unit_key"),
                units.c.name.label("unit_name"), requirements.c.step_key, requirements.c.step_title,
                func.coalesce(versions.c.versions, 0).label("versions"), latest.c.by.label("filed_by"),
                latest.c.signed_by, review.c.decision, review.c.by.label("reviewer"), review.c.comment,
                review.c.at.label("reviewed_at"), func.coalesce(rejections.c.n, 0).label("rejections"),
                func.coalesce(sent.c.reminders, 0).label("reminders"),
                func.coalesce(sent.c.escalations, 0).label("escalations"))
         .select_from(obligations)
         .join(units, units.c.id == obligations.c.unit_id)
         .join(requirements, requirements.c.id == obligations.c.requirement_id)
         .outerjoin(versions, versions.c.obligation_id == obligations.c.id)
         .outerjoin(latest, and_(latest.c.obligation_id == obligations.c.id, latest.c.version == versions.c.last_version))
         .outerjoin(last_review, last_review.c.filing_id == latest.c.id)
         .outerjoin(review, review.c.id == last_review.c.rid)
         .outerjoin(rejections, rejections.c.obligation_id == obligations.c.id)
         .outerjoin(sent, sent.c.obligation_id == obligations.c.id)
         .where(obligations.c.campaign_id == ctx.id, obligations.c.phase_id.in_(phase_ids))
         # units in the order of the unit list, which is the order administrators know
         .order_by(obligations.c.phase_id, units.c.id, requirements.c.idx))
    return list(conn.execute(q).all())


def _actors(conn: Connection, ctx: CampaignCtx) -> dict[tuple[str, str], tuple[str, dt.datetime]]:
    """Who forced each phase or waived each obligation, from the audit log: (action, subject) -> (actor, at)."""
    rows = conn.execute(select(audit_events.c.action, audit_events.c.subject, audit_events.c.actor, audit_events.c.at)
                        .where(audit_events.c.campaign == ctx.key,
                               audit_events.c.action.in_(("phase.forced", "obligation.waived")))
                        .order_by(audit_events.c.seq)).all()
    return {(r.action, r.subject): (r.actor, r.at) for r in rows}  # the latest event wins


def phase_audit(conn: Connection, campaign: str, phase: str | None = None, at: dt.datetime | None = None) -> PhaseAudit:
    ctx = load_ctx(conn, campaign)
    at = at or dt.datetime.now(dt.timezone.utc)
    phase_list = _phase_rows(conn, ctx, phase)
    by_id = {p.id: p for p in phase_list}
    actors = _actors(conn, ctx)
    rows: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    for r in _obligation_rows(conn, ctx, list(by_id)):
        p = by_id[r.phase_id]
        kind = ctx.artifacts.get(r.artifact, {})
        result = outcome(r.state, r.late, r.due_at, at)
        row = {"phase": p.key, "phase_title": p.title, "unit": r.unit_key, "unit_name": r.unit_name,
               "artifact": r.artifact, "artifact_title": kind.get("title", r.artifact), "step": r.step_key,
               "step_title": r.step_title, "due": _local(r.due_at, ctx), "filed_at": _local(r.filed_at, ctx),
               "versions": int(r.versions), "filed_by": r.filed_by, "signed_by": r.signed_by, "state": r.state,
               "outcome": result, "review_required": bool(r.review), "review": r.decision, "reviewer": r.reviewer,
               "review_comment": r.comment, "reviewed_at": _local(r.reviewed_at, ctx), "rejections": int(r.rejections),
               "reminders": int(r.reminders), "escalations": int(r.escalations), "waived_reason": r.waived_reason}
        rows.append(row)
        if r.state == "waived":
            actor, _ = actors.get(("obligation.waived", f"obligation:{r.unit_key}/{r.artifact}/{r.step_key}"), (None, None))
            overrides.append({"phase": p.key, "phase_title": p.title, "kind": "waiver", "unit": r.unit_key,
                              "unit_name": r.unit_name, "artifact": r.artifact, "artifact_title": row["artifact_title"],
                              "at": _local(r.done_at, ctx), "by": actor, "reason": r.waived_reason})
    summaries = []
    for p in phase_list:
        mine = [r for r in rows if r["phase"] == p.key]
        counts = {o: sum(1 for r in mine if r["outcome"] == o) for o in OUTCOMES}
        summaries.append({"phase": p.key, "title": p.title, "start": _local(p.start_at, ctx), "end": _local(p.end_at, ctx),
                          "started_at": _local(p.started_at, ctx), "completed_at": _local(p.completed_at, ctx),
                          "state": p.state, "forced": bool(p.forced), "force_reason": p.force_reason,
                          "required": len(mine), **counts})
        if p.forced:
            actor, _ = actors.get(("phase.forced", f"phase:{p.key}"), (None, None))
            overrides.append({"phase": p.key, "phase_title": p.title, "kind": "forced_advance", "unit": None,
                              "unit_name": None, "artifact": None, "artifact_title": None,
                              "at": _local(p.completed_at, ctx), "by": actor, "reason": p.force_reason})
    order = {p.key: i for i, p in enumerate(phase_list)}
    # per phase: the forced advance first (it concerns the whole phase), then waivers by time
    overrides.sort(key=lambda o: (order[o["phase"]], o["kind"] != "forced_advance", o["at"] or at))
    return PhaseAudit(ctx.key, ctx.title, at.astimezone(ctx.tz), summaries, rows, overrides)


def ledger_rows(conn: Connection, campaign: str, unit: str | None = None) -> list[dict[str, Any]]:
    """The current ledger items with the four namings (四个明确), state and latest progress note."""
    ctx = load_ctx(conn, campaign)
    noted = (select(ledger_events.c.item_id, func.max(ledger_events.c.id).label("eid"))
             .where(ledger_events.c.note.is_not(None)).group_by(ledger_events.c.item_id).subquery())
    note = ledger_events.alias("note")
    q = (select(ledger_items, units.c.key.label("unit_key"), units.c.name.label("unit_name"),
                note.c.note.label("progress"), note.c.at.label("progress_at"))
         .join(units, units.c.id == ledger_items.c.unit_id)
         .outerjoin(noted, noted.c.item_id == ledger_items.c.id)
         .outerjoin(note, note.c.id == noted.c.eid)
         .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True))
         .order_by(units.c.id, ledger_items.c.row_no, ledger_items.c.id))
    if unit is not None:
        if conn.execute(select(units.c.id).where(units.c.campaign_id == ctx.id, units.c.key == unit)).first() is None:
            raise NotFound(f"活动 '{ctx.key}' 中没有单位 '{unit}' (no unit '{unit}' in campaign '{ctx.key}')")
        q = q.where(units.c.key == unit)
    return [{"id": r.id, "unit": r.unit_key, "unit_name": r.unit_name, "problem": r.problem, "category": r.category,
             "measure": r.measure, "leader": r.leader, "office": r.office, "deadline": r.deadline,
             "long_term": bool(r.long_term), "progress": r.progress, "progress_at": _local(r.progress_at, ctx),
             "state": r.state, "source": r.source, "created_at": _local(r.created_at, ctx),
             "closed_at": _local(r.closed_at, ctx)} for r in conn.execute(q).all()]


def closure_series(conn: Connection, campaign: str, until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per local day from the first item on: items in the ledger, closed (销号), and not yet closed.

    An item's history comes from its 'closed' / 'reopened' events; an item without events (the
    ledger lifecycle not yet recording them) counts as closed from its closed_at on.
    """
    ctx = load_ctx(conn, campaign)
    items = conn.execute(select(ledger_items.c.id, ledger_items.c.created_at, ledger_items.c.closed_at)
                         .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True))).all()
    if not items:
        return []
    events = conn.execute(select(ledger_events.c.item_id, ledger_events.c.at, ledger_events.c.action)
                          .join(ledger_items, ledger_items.c.id == ledger_events.c.item_id)
                          .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True),
                                 ledger_events.c.action.in_(("closed", "reopened")))
                          .order_by(ledger_events.c.at, ledger_events.c.id)).all()
    day = lambda t: t.astimezone(ctx.tz).date()  # noqa: E731
    changes: dict[dt.date, list[int]] = {}  # day -> [items added, closed delta]
    for it in items:
        changes.setdefault(day(it.created_at), [0, 0])[0] += 1
    with_events = {e.item_id for e in events}
    for e in events:
        changes.setdefault(day(e.at), [0, 0])[1] += 1 if e.action == "closed" else -1
    for it in items:
        if it.id not in with_events and it.closed_at is not None:
            changes.setdefault(day(it.closed_at), [0, 0])[1] += 1
    first, last = min(changes), max(changes)
    if until is not None:
        last = max(last, day(until))
    series, total, closed, d = [], 0, 0, first
    while d <= last:
        added, delta = changes.get(d, (0, 0))
        total, closed = total + added, closed + delta
        series.append({"day": d, "total": total, "closed": closed, "in_progress": total - closed})
        d += dt.timedelta(days=1)
    return series
