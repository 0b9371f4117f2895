"""Read models: campaign status at an instant, the ledger, the campaign list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, case, func, select

from .. import rules
from .campaigns import CampaignCtx, load_ctx, resolve_unit
from .phases import gate_report, phase_rows
from .predicates import obligation_not_open, obligation_overdue
from .tables import campaigns, ledger_items, obligations, phases, requirements, units

STATE_COUNTS = ("pending", "filed", "accepted", "rejected", "waived")  # these partition the total
# how to read the counts, in the status document itself
COUNTS_LEGEND = {
    "partition": list(STATE_COUNTS),
    "subsets": {"overdue": "pending or rejected, past due, phase started (逾期：待报或退回、已过期限、阶段已开始)",
                "not_open": "pending or rejected, phase not yet started (未开始：所属阶段尚未开始)"},
}


def iso(value: dt.datetime | None, ctx: CampaignCtx) -> str | None:
    return value.astimezone(ctx.tz).isoformat() if value else None


def _display(state: str, due_at: dt.datetime, at: dt.datetime, started_at: dt.datetime | None) -> str:
    return "overdue" if rules.is_overdue(state, due_at, at, started_at) else state


def phase_state(row: Any, at: dt.datetime) -> str:
    """The stored state, brought to `at` for display: a running phase past its end reads overdue."""
    if row.state in ("active", "overdue"):
        return rules.running_state(rules.PhaseView(row.key, row.start_at, row.end_at, row.advance, row.state), at)
    return str(row.state)


def status(conn: Connection, key: str, at: dt.datetime) -> dict[str, Any]:
    ctx = load_ctx(conn, key)
    out_phases = []
    current = None
    running: list[str] = []  # several when a phase opened on its date while the one before was completing
    for row in phase_rows(conn, ctx.id):
        gate = gate_report(conn, ctx, row, at)
        conditions = gate.conditions
        if gate.rechecks_pending:
            conditions = {**conditions, "rechecks_pending": gate.rechecks_pending}
        if row.started_at is not None and row.state != "completed":
            current = current or row.key
            running.append(row.key)
        out_phases.append({
            "key": row.key, "title": row.title, "kind": row.kind, "state": phase_state(row, at),
            "start": iso(row.start_at, ctx), "end": iso(row.end_at, ctx),
            "started_at": iso(row.started_at, ctx), "completed_at": iso(row.completed_at, ctx),
            "forced": bool(row.forced), "force_reason": row.force_reason, "opens": row.opens,
            "gate": {"met": gate.met, "missing": [
                {"unit": m.key, "artifact": m.artifact, "due": iso(m.due_at, ctx), "state": _display(m.state, m.due_at, at, row.started_at)}
                for m in gate.missing], **({"conditions": conditions} if conditions else {})},
        })
    return {"campaign": key, "at": iso(at, ctx), "current_phase": current, "running_phases": running, "phases": out_phases,
            "obligations": obligation_counts(conn, ctx.id, at), "obligations_legend": COUNTS_LEGEND}


def obligation_counts(conn: Connection, campaign_id: int, at: dt.datetime) -> dict[str, int]:
    """Each obligation counted once by its stored state: pending, filed, accepted, rejected and waived
    partition `total` (a rejected one stays rejected, overdue or not). `overdue` and `not_open` are
    subsets of the open ones (pending + rejected): `overdue` those past due in a phase started by `at`
    (predicates.obligation_overdue), `not_open` those whose phase has not started by `at` (未开始)."""
    late = func.sum(case((obligation_overdue(at), 1), else_=0))
    waiting = func.sum(case((obligation_not_open(at), 1), else_=0))
    rows = conn.execute(select(obligations.c.state, func.count(), late, waiting)
                        .where(obligations.c.campaign_id == campaign_id).group_by(obligations.c.state)).all()
    counts = dict.fromkeys(("total", *STATE_COUNTS, "overdue", "not_open"), 0)
    for state, n, n_late, n_waiting in rows:
        counts[state] += n
        counts["total"] += n
        counts["overdue"] += int(n_late or 0)
        counts["not_open"] += int(n_waiting or 0)
    return counts


def ledger(conn: Connection, key: str, unit: str | None = None, state: str | None = None,
           at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """The current ledger items; evidence and history come from each item's events. With `at`, each
    item says whether it is overdue then (`overdue` is None without it)."""
    from ..ledger import is_overdue
    from .ledger import histories

    ctx = load_ctx(conn, key)
    q = (select(ledger_items, units.c.key.label("unit_key"))
         .join(units, units.c.id == ledger_items.c.unit_id)
         .where(ledger_items.c.campaign_id == ctx.id, ledger_items.c.current.is_(True))
         .order_by(units.c.key, ledger_items.c.source, ledger_items.c.row_no, ledger_items.c.id))
    if unit:
        q = q.where(units.c.key == resolve_unit(conn, ctx, unit))
    if state:
        q = q.where(ledger_items.c.state == state)
    rows = conn.execute(q).all()
    events = histories(conn, [r.id for r in rows], ctx)
    out = []
    for r in rows:
        # items stored before histories existed have no events: their creation is all that is known
        history = events[r.id] or [{"at": iso(r.created_at, ctx), "by": None, "action": "created", "state_before": None,
                                    "state_after": "open", "note": "由问题清单生成 (from the filed issue list)",
                                    "evidence": []}]
        out.append({"id": r.id, "unit": r.unit_key, "problem": r.problem, "category": r.category, "measure": r.measure,
                    "leader": r.leader, "office": r.office, "deadline": r.deadline.isoformat() if r.deadline else None,
                    "mechanism": r.mechanism,
                    "due": iso(r.due_at, ctx), "long_term": bool(r.long_term), "state": r.state, "source": r.source,
                    "overdue": is_overdue(r.state, r.due_at, at, bool(r.long_term)) if at else None,
                    "updated_at": iso(r.updated_at, ctx), "closed_at": iso(r.closed_at, ctx),
                    "evidence": [{**f, "at": h["at"]} for h in history for f in h["evidence"]], "history": history})
    return out


def campaign_list(conn: Connection, member: str | None = None) -> list[dict[str, Any]]:
    """The campaigns by key; with `member`, only those where that unit is an active unit (a unit user's)."""
    q = select(campaigns.c.key, campaigns.c.title).order_by(campaigns.c.key)
    if member is not None:
        q = q.where(select(units.c.id).where(units.c.campaign_id == campaigns.c.id, units.c.key == member,
                                             units.c.active.is_(True)).exists())
    return [{"key": r.key, "title": r.title} for r in conn.execute(q).all()]


def obligation_list(conn: Connection, key: str, at: dt.datetime) -> list[dict[str, Any]]:
    ctx = load_ctx(conn, key)
    rows = conn.execute(
        select(obligations, units.c.key.label("unit_key"), requirements.c.step_key, phases.c.started_at)
        .join(units, units.c.id == obligations.c.unit_id)
        .join(requirements, requirements.c.id == obligations.c.requirement_id)
        .join(phases, phases.c.id == obligations.c.phase_id)
        .where(obligations.c.campaign_id == ctx.id).order_by(obligations.c.due_at, units.c.key)).all()
    return [{"unit": r.unit_key, "artifact": r.artifact, "step": r.step_key, "due": iso(r.due_at, ctx),
             "state": _display(r.state, r.due_at, at, r.started_at), "filed_at": iso(r.filed_at, ctx), "late": r.late,
             "waived_reason": r.waived_reason} for r in rows]
