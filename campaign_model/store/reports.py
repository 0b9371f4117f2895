"""Read models of the reports: the phase completion audit, the ledger in the bureaus' layout, its
closure over time; and adding imported ledger items. Each report is a few set-based queries (joins,
GROUP BY), never one per unit. As in the status and the notice, states are the stored ones; only
"missing" versus "pending" is judged at the report's instant. Instants come back in the campaign's zone.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, select

from .. import rules
from ..errors import InvalidInput, NotFound
from ..timeexpr import local_end_of_day
from . import audit
from .audit import Act
from .campaigns import CampaignCtx, load_ctx, resolve_unit
from .tables import (
    audit_events,
    filings,
    inserted_id,
    ledger_events,
    ledger_items,
    obligations,
    outbox,
    phases,
    requirements,
    reviews,
    units,
)

OUTCOMES = ("on_time", "late", "missing", "waived", "pending")


@dataclass
class PhaseAudit:
    campaign: str
    title: str
    at: dt.datetime
    phases: list[dict[str, Any]]  # window, start, completion, forced + reason, counts by outcome
    rows: list[dict[str, Any]]  # one per obligation (phase x unit x required artifact)
    overrides: list[dict[str, Any]]  # forced advances and waivers: who, when, why


def _local(value: dt.datetime | None, ctx: CampaignCtx) -> dt.datetime | None:
    return value.astimezone(ctx.tz) if value is not None else None


def outcome(state: str, late: bool | None, due_at: dt.datetime, at: dt.datetime, started_at: dt.datetime | None) -> str:
    """How an obligation stands for an auditor: a rejected filing counts as not filed; one of a phase not
    yet started is pending (not yet open), never missing (rules.is_overdue)."""
    if state == "waived":
        return "waived"
    if state in ("filed", "accepted"):
        return "late" if late else "on_time"
    return "missing" if rules.is_overdue(state, due_at, at, started_at) else "pending"


def _phase_rows(conn: Connection, ctx: CampaignCtx, phase: str | None) -> list[Any]:
    rows = conn.execute(select(phases).where(phases.c.campaign_id == ctx.id).order_by(phases.c.idx)).all()
    if phase is None:
        return list(rows)
    if not (chosen := [r for r in rows if r.key == phase]):
        known = ", ".join(r.key for r in rows)
        raise NotFound(f"活动 '{ctx.key}' 没有阶段 '{phase}'；可选: {known} (no phase '{phase}'; known: {known})",
                       field="phase")
    return chosen


def _obligation_rows(conn: Connection, ctx: CampaignCtx, phase_ids: list[int]) -> list[Any]:
    # the aggregates only over this campaign's obligations, not every filing in the database
    mine = select(obligations.c.id).where(obligations.c.campaign_id == ctx.id, obligations.c.phase_id.in_(phase_ids))
    versions = (select(filings.c.obligation_id, func.count().label("versions"), func.max(filings.c.version).label("last"))
                .where(filings.c.obligation_id.in_(mine)).group_by(filings.c.obligation_id).subquery())
    latest = filings.alias("latest")
    # a filing is reviewed at most once (review needs state "filed"); max() guards against none or more
    last_review = (select(reviews.c.filing_id, func.max(reviews.c.id).label("rid"))
                   .where(reviews.c.obligation_id.in_(mine)).group_by(reviews.c.filing_id).subquery())
    review = reviews.alias("review")
    rejections = (select(reviews.c.obligation_id, func.count().label("n"))
                  .where(reviews.c.obligation_id.in_(mine), reviews.c.decision == "rejected")
                  .group_by(reviews.c.obligation_id).subquery())
    # a reminder goes out on several channels: count the distinct slots (kind, day), not the copies
    slots = (select(outbox.c.obligation_id, outbox.c.kind, outbox.c.slot_day)
             .where(outbox.c.campaign_id == ctx.id, outbox.c.state == "sent").distinct().subquery())
    escalation = case((slots.c.kind == "escalation", 1), else_=0)
    sent = (select(slots.c.obligation_id, func.sum(1 - escalation).label("reminders"),
                   func.sum(escalation).label("escalations")).group_by(slots.c.obligation_id).subquery())
    q = (select(obligations.c.id, obligations.c.phase_id, obligations.c.artifact, obligations.c.state,
                obligations.c.review, obligations.c.due_at, obligations.c.filed_at, obligations.c.late,
                obligations.c.done_at, obligations.c.waived_reason, phases.c.started_at, units.c.key.label("unit_key"),
                units.c.name.label("unit_name"), requirements.c.step_key, requirements.c.step_title,
                func.coalesce(versions.c.versions, 0).label("versions"), latest.c.by.label("filed_by"),
                latest.c.signed_by, review.c.decision, review.c.by.label("reviewer"), review.c.comment,
                review.c.at.label("reviewed_at"), func.coalesce(rejections.c.n, 0).label("rejections"),
                func.coalesce(sent.c.reminders, 0).label("reminders"),
                func.coalesce(sent.c.escalations, 0).label("escalations"))
         .select_from(obligations)
         .join(units, units.c.id == obligations.c.unit_id)
         .join(requirements, requirements.c.id == obligations.c.requirement_id)
         .join(phases, phases.c.id == obligations.c.phase_id)
         .outerjoin(versions, versions.c.obligation_id == obligations.c.id)
         .outerjoin(latest, and_(latest.c.obligation_id == obligations.c.id, latest.c.version == versions.c.last))
         .outerjoin(last_review, last_review.c.filing_id == latest.c.id)
         .outerjoin(review, review.c.id == last_review.c.rid)
         .outerjoin(rejections, rejections.c.obligation_id == obligations.c.id)
         .outerjoin(sent, sent.c.obligation_id == obligations.c.id)
         .where(obligations.c.campaign_id == ctx.id, obligations.c.phase_id.in_(phase_ids))
         # units in the order of the unit list, which is the order administrators know
         .order_by(phases.c.idx, units.c.id, requirements.c.idx))
    return list(conn.execute(q).all())


def _actors(conn: Connection, ctx: CampaignCtx) -> dict[tuple[str, str], str]:
    """Who forced each phase or waived each obligation, from the audit log: (action, subject) -> actor."""
    rows = conn.execute(select(audit_events.c.action, audit_events.c.subject, audit_events.c.actor).where(
        audit_events.c.campaign == ctx.key, audit_events.c.action.in_(("phase.forced", "obligation.waived")))
        .order_by(audit_events.c.seq)).all()
    return {(r.action, r.subject): r.actor for r in rows}  # the latest event wins


def phase_audit(conn: Connection, campaign: str, phase: str | None = None, at: dt.datetime | None = None) -> PhaseAudit:
    """Every required artifact of the phase(s) with its outcome at `at`, and the overrides."""
    if at is None:  # the rules never read the clock: the command line passes it
        raise TypeError("phase_audit needs the instant `at`")
    ctx = load_ctx(conn, campaign)
    phase_list = _phase_rows(conn, ctx, phase)
    by_id, actors = {p.id: p for p in phase_list}, _actors(conn, ctx)
    rows, overrides = [], []  # overrides: forced advances and waivers
    for r in _obligation_rows(conn, ctx, list(by_id)):
        p, title = by_id[r.phase_id], ctx.artifacts.get(r.artifact, {}).get("title", r.artifact)
        rows.append({
            "phase": p.key, "phase_title": p.title, "unit": r.unit_key, "unit_name": r.unit_name, "artifact": r.artifact,
            "artifact_title": title, "step": r.step_key, "step_title": r.step_title, "due": _local(r.due_at, ctx),
            "filed_at": _local(r.filed_at, ctx), "versions": r.versions, "filed_by": r.filed_by, "signed_by": r.signed_by,
            "state": r.state, "outcome": outcome(r.state, r.late, r.due_at, at, r.started_at), "review_required": bool(r.review),
            "review": r.decision, "reviewer": r.reviewer, "review_comment": r.comment,
            "reviewed_at": _local(r.reviewed_at, ctx), "rejections": r.rejections, "reminders": int(r.reminders),
            "escalations": int(r.escalations), "waived_reason": r.waived_reason})
        if r.state == "waived":
            by = actors.get(("obligation.waived", f"obligation:{r.unit_key}/{r.artifact}/{r.step_key}"))
            overrides.append({"phase": p.key, "phase_title": p.title, "kind": "waiver", "unit": r.unit_key,
                              "unit_name": r.unit_name, "artifact": r.artifact, "artifact_title": title,
                              "at": _local(r.done_at, ctx), "by": by, "reason": r.waived_reason})
    summaries = []
    for p in phase_list:
        mine = [r["outcome"] for r in rows if r["phase"] == p.key]
        summaries.append({"phase": p.key, "title": p.title, "start": _local(p.start_at, ctx), "end": _local(p.end_at, ctx),
                          "started_at": _local(p.started_at, ctx), "completed_at": _local(p.completed_at, ctx),
                          "state": p.state, "forced": bool(p.forced), "force_reason": p.force_reason,
                          "required": len(mine), **{o: mine.count(o) for o in OUTCOMES}})
        if p.forced:
            overrides.append({"phase": p.key, "phase_title": p.title, "kind": "forced_advance", **dict.fromkeys(
                ("unit", "unit_name", "artifact", "artifact_title")), "at": _local(p.completed_at, ctx),
                "by": actors.get(("phase.forced", f"phase:{p.key}")), "reason": p.force_reason})
    order = {p.key: i for i, p in enumerate(phase_list)}
    # per phase: the forced advance first (it concerns the whole phase), then waivers by time
    overrides.sort(key=lambda o: (order[o["phase"]], o["kind"] != "forced_advance", o["at"] or at))
    return PhaseAudit(ctx.key, ctx.title, at.astimezone(ctx.tz), summaries, rows, overrides)


def ledger_rows(conn: Connection, campaign: str, unit: str | None = None) -> list[dict[str, Any]]:
    """The current ledger items: the four namings (四个明确), state, and the latest progress note
    (a "created" event's note tells where the item came from, not progress)."""
    ctx = load_ctx(conn, campaign)
    noted = (select(ledger_events.c.item_id, func.max(ledger_events.c.id).label("eid"))
             .where(ledger_events.c.note.is_not(None), ledger_events.c.action != "created")
             .group_by(ledger_events.c.item_id).subquery())
    note = ledger_events.alias("note")
    q = (select(ledger_items, units.c.key.label("unit_key"), units.c.name.label("unit_name"),
                note.c.note.label("progress"), note.c.at.label("progress_at"))
         .join(units, units.c.id == ledger_items.c.unit_id)
         .outerjoin(noted, noted.c.item_id == ledger_items.c.id)
         .outerjoin(note, note.c.id == noted.c.eid)
         .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True))
         .order_by(units.c.id, ledger_items.c.row_no, ledger_items.c.id))
    q = q.where(units.c.key == resolve_unit(conn, ctx, unit)) if unit is not None else q
    return [{"id": r.id, "unit": r.unit_key, "unit_name": r.unit_name, "problem": r.problem, "category": r.category,
             "measure": r.measure, "leader": r.leader, "office": r.office, "deadline": r.deadline,
             "mechanism": r.mechanism,
             "long_term": bool(r.long_term), "progress": r.progress, "progress_at": _local(r.progress_at, ctx),
             "state": r.state, "source": r.source, "created_at": _local(r.created_at, ctx),
             "closed_at": _local(r.closed_at, ctx)} for r in conn.execute(q).all()]


def closure_series(conn: Connection, campaign: str, until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per local day from the first item to `until` (default: the last change): items in the ledger,
    closed (销号), and not yet closed. Closing and reopening come from the items' 'closed' / 'reopened'
    events; an item with no such event but a closed_at counts as closed from that day.
    """
    ctx = load_ctx(conn, campaign)
    if not (items := conn.execute(select(ledger_items.c.id, ledger_items.c.created_at, ledger_items.c.closed_at).where(
            ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True))).all()):
        return []
    events = conn.execute(select(ledger_events.c.item_id, ledger_events.c.at, ledger_events.c.action)
                          .join(ledger_items, ledger_items.c.id == ledger_events.c.item_id)
                          .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True),
                                 ledger_events.c.action.in_(("closed", "reopened")))
                          .order_by(ledger_events.c.at, ledger_events.c.id)).all()
    def day(t: dt.datetime) -> dt.date:
        return t.astimezone(ctx.tz).date()

    # per day: new items, net closures
    added, closing = Counter(day(it.created_at) for it in items), Counter[dt.date]()
    for e in events:
        closing[day(e.at)] += 1 if e.action == "closed" else -1
    with_events = {e.item_id for e in events}
    closing.update(day(it.closed_at) for it in items if it.id not in with_events and it.closed_at is not None)
    # up to the report's instant (later changes left out), else to the last change
    d, last = min(added), day(until) if until is not None else max([*added, *closing])
    series, total, closed = [], 0, 0
    while d <= last:
        total, closed = total + added[d], closed + closing[d]
        series.append({"day": d, "total": total, "closed": closed, "in_progress": total - closed})
        d += dt.timedelta(days=1)
    return series


def add_ledger_items(conn: Connection, campaign: str, items: list[dict[str, Any]], act: Act,
                     unit: str | None = None, file: str = "<ledger>") -> dict[str, Any]:
    """Add imported items (notifications.reports.ledger_import) to the ledger, source "import".

    Each goes to `unit`, else to the unit its 单位 cell names (key or name). An import starts items
    open or in progress only: rectified and closed need evidence and a supervisor's verification.
    """
    ctx = load_ctx(conn, campaign)
    unit = resolve_unit(conn, ctx, unit) if unit else unit  # --unit: a key or a unique name, as everywhere
    known = conn.execute(select(units).where(units.c.campaign_id == ctx.id, units.c.active.is_(True))).all()
    by_name, problems = {**{u.name: u for u in known}, **{u.key: u for u in known}}, []
    for it in items:
        where, name = f"{file}: 第 {it['row']} 行 / row {it['row']}", unit or it.get("unit") or ""
        if name not in by_name:
            problems.append(f"{where}: 单位 '{name}' 不在本活动中；请指定单位或填写“单位”列 (unit '{name}' is not "
                            f"an active unit of the campaign; name the unit or fill in a 单位 column)")
        if it["state"] not in ("open", "in_progress"):
            problems.append(f"{where}: 导入的问题只能是待整改或整改中；整改完成和销号须提交佐证并经验收 "
                            f"(imported items start open or in progress; closing needs evidence and verification)")
    if problems:  # all or nothing
        raise InvalidInput("\n".join(problems))
    chosen = [by_name[unit or it["unit"]] for it in items]
    # numbered after the unit's items that came from no issue list, as supervision findings are
    last = dict(conn.execute(select(ledger_items.c.unit_id, func.max(ledger_items.c.row_no))
                             .where(ledger_items.c.unit_id.in_({u.id for u in chosen}),
                                    ledger_items.c.obligation_id.is_(None))
                             .group_by(ledger_items.c.unit_id)).tuples().all())
    created = []
    for it, u in zip(items, chosen, strict=False):
        last[u.id] = (last.get(u.id) or 0) + 1
        values = {k: it[k] for k in ("problem", "category", "measure", "leader", "office", "deadline", "long_term", "state")}
        values["mechanism"] = it.get("mechanism")
        item_id = inserted_id(conn.execute(insert(ledger_items).values(
            campaign_id=ctx.id, unit_id=u.id, row_no=last[u.id], source="import", current=True, created_at=act.at,
            updated_at=act.at, due_at=local_end_of_day(it["deadline"], ctx.tz) if it["deadline"] else None, **values)
        ))
        events = [{"action": "created", "state_before": None, "note": f"由台账导入 (imported from {file}, row {it['row']})"}]
        if it["progress"]:  # the workbook's 进展 as the item's progress note, so that an export shows it again
            events.append({"action": "progress", "state_before": it["state"], "note": it["progress"]})
        conn.execute(insert(ledger_events), [{"item_id": item_id, "at": act.at, "by": act.actor,
                                              "state_after": it["state"], **e} for e in events])
        created.append(item_id)
    summary = {"campaign": ctx.key, "file": file, "items": len(created), "units": sorted({u.key for u in chosen})}
    audit.append(conn, act, "ledger.imported", ctx.key, f"campaign:{ctx.key}", None, {**summary, "ids": created})
    return summary
