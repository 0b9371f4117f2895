"""Deadlines, gates and phase changes in SQL: each an indexed, set-based statement per phase."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, update

from .. import rules
from ..errors import ConflictError, InvalidInput
from . import audit
from .audit import Act
from .campaigns import CampaignCtx, first_reminder
from .ledger import ledger_gate_met
from .lookback import pending
from .predicates import obligation_overdue
from .tables import campaigns, obligations, phases, requirements, units

OPEN = rules.OPEN_STATES


def phase_rows(conn: Connection, campaign_id: int) -> list[Any]:
    return list(conn.execute(select(phases).where(phases.c.campaign_id == campaign_id).order_by(phases.c.idx)).all())


def view(row: Any) -> rules.PhaseView:
    return rules.PhaseView(row.key, row.start_at, row.end_at, row.advance, row.state, row.started_at, row.completed_at,
                           row.opens)


def running(rows: list[Any]) -> list[Any]:
    """The phases running now, in order: started and not completed (several when a phase opened on its date
    while the one before was still completing)."""
    return [r for r in rows if r.started_at is not None and r.state != "completed"]


def mark_overdue(conn: Connection, ctx: CampaignCtx, phase: Any, act: Act) -> int:
    """Open obligations of the phase past their due instant get their overdue mark (once), only once the
    phase has started (predicates.obligation_overdue). The mark is the instant it became overdue: its due
    instant, or the phase's start for a phase that started late with the due instant already past."""
    since = obligations.c.due_at if phase.started_at is None else case(
        (obligations.c.due_at < phase.started_at, literal(phase.started_at, obligations.c.due_at.type)),
        else_=obligations.c.due_at)
    marked = conn.execute(
        update(obligations).where(
            obligations.c.phase_id == phase.id, obligations.c.overdue_at.is_(None), obligation_overdue(act.at))
        .values(overdue_at=since)
        .returning(obligations.c.unit_id, obligations.c.artifact)).all()
    if marked:
        names = dict(conn.execute(select(units.c.id, units.c.key).where(
            units.c.id.in_({m.unit_id for m in marked}))).tuples().all())
        audit.append(conn, act, "obligations.overdue", ctx.key, f"phase:{phase.key}", None,
                     {"count": len(marked), "obligations": sorted(f"{names[m.unit_id]}/{m.artifact}" for m in marked)})
    return len(marked)


def gate_open_exists(conn: Connection, phase_id: int) -> bool:
    """True while some obligation of the phase still holds its gate: one index probe."""
    return conn.execute(select(obligations.c.id).where(
        obligations.c.phase_id == phase_id, obligations.c.gating.is_(True), obligations.c.done.is_(False))
        .limit(1)).first() is not None


@dataclass(frozen=True)
class GateReport:
    """A phase's gate at an instant, part by part: the gating obligations still open (filings), the look-back
    re-checks not yet decided, the ledger and evaluation conditions the phase declares. `met` when none holds
    it. In a quick report (the tick's) a part not reached is None: the report stops at the first part held."""

    filings_met: bool
    missing: list[Any]  # the open gating obligations (unit key, artifact, due_at, state); [] in a quick report
    rechecks_pending: int | None
    conditions_met: bool | None
    conditions: dict[str, Any]  # store.ledger.ledger_gate_met's detail without `since`; {} when none declared
    since: dt.datetime | None  # the conditions have held at least since then (when a when_ready phase completes)

    @property
    def met(self) -> bool:
        return self.filings_met and self.rechecks_pending == 0 and self.conditions_met is True


def gate_report(conn: Connection, ctx: CampaignCtx, phase: Any, at: dt.datetime, *, quick: bool = False) -> GateReport:
    """The phase's gate at `at`: the one definition, used by the tick, status, `campaign gate`, the pages and
    the API. Quick (the tick): one index probe first; the re-checks and the conditions (set-based counts
    over the campaign's ledger) only when the filings part is met."""
    if quick:
        missing: list[Any] = []
        if gate_open_exists(conn, phase.id):
            return GateReport(False, [], None, None, {}, None)
    else:
        missing = list(conn.execute(
            select(units.c.key, obligations.c.artifact, obligations.c.due_at, obligations.c.state)
            .join(units, units.c.id == obligations.c.unit_id)
            .where(obligations.c.phase_id == phase.id, obligations.c.gating.is_(True), obligations.c.done.is_(False))
            .order_by(obligations.c.due_at, units.c.key)).all())
    waiting = pending(conn, phase.id)  # look-back re-checks not yet decided
    if quick and waiting:
        return GateReport(True, [], waiting, None, {}, None)
    conditions_met, conditions = ledger_gate_met(conn, ctx, phase, at)
    since = conditions.pop("since", None)
    return GateReport(not missing, missing, waiting, conditions_met, conditions, since)


def has_open(conn: Connection, phase_id: int) -> bool:
    return conn.execute(select(obligations.c.id).where(
        obligations.c.phase_id == phase_id, obligations.c.done.is_(False)).limit(1)).first() is not None


def _met_since(conn: Connection, phase: Any) -> dt.datetime:
    """When the gate became met: the last instant a gating obligation was done (or the phase start)."""
    last: dt.datetime | None = conn.execute(select(func.max(obligations.c.done_at)).where(
        obligations.c.phase_id == phase.id, obligations.c.gating.is_(True))).scalar()
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    return last or phase.start_at


def _start(conn: Connection, ctx: CampaignCtx, phase: Any, started_at: dt.datetime, act: Act) -> None:
    state = rules.running_state(view(phase), act.at)
    conn.execute(update(phases).where(phases.c.id == phase.id).values(state=state, started_at=started_at))
    for req_id, due_at, policy in conn.execute(select(requirements.c.id, requirements.c.due_at, requirements.c.policy)
                                               .where(requirements.c.phase_id == phase.id)).tuples().all():
        conn.execute(update(obligations).where(obligations.c.requirement_id == req_id, obligations.c.state.in_(OPEN))
                     .values(next_remind_at=first_reminder(ctx, due_at, started_at, policy)))
    audit.append(conn, act, "phase.started", ctx.key, f"phase:{phase.key}", {"state": "pending"},
                 {"state": state, "started_at": started_at.isoformat()})


def _complete(conn: Connection, ctx: CampaignCtx, phase: Any, when: dt.datetime, act: Act,
              forced: bool = False, reason: str | None = None) -> None:
    conn.execute(update(phases).where(phases.c.id == phase.id).values(
        state="completed", completed_at=when, forced=forced, force_reason=reason))
    audit.append(conn, act, "phase.forced" if forced else "phase.completed", ctx.key, f"phase:{phase.key}",
                 {"state": phase.state}, {"state": "completed", "completed_at": when.isoformat(), "reason": reason})


def advance(conn: Connection, ctx: CampaignCtx, act: Act, only: str | None = None) -> list[str]:
    """Start the phases whose time has come and complete those whose gates allow; returns completed keys.

    Phases are taken in order: one starts when its window is open and the one before is complete, or, if it
    opens `on_date`, once the one before has started (both then run); phases complete in order, each by its
    own gate. With `only`, stops after that phase has been considered (a phase flow advances its own phase).
    """
    completed: list[str] = []
    prev_done: dt.datetime | None = None
    prev_started: dt.datetime | None = None
    for i, row in enumerate(phase_rows(conn, ctx.id)):
        if row.state == "completed":
            prev_done, prev_started = row.completed_at, row.started_at
            continue
        in_order = i == 0 or prev_done is not None  # every phase before it has completed
        started_at = row.started_at
        if started_at is None:
            started_at = rules.can_start(view(row), prev_done, i == 0, act.at, prev_started)
            if started_at is None:
                break
            _start(conn, ctx, row, started_at, act)
            row = conn.execute(select(phases).where(phases.c.id == row.id)).one()
        gate = gate_report(conn, ctx, row, act.at, quick=True) if in_order else None
        when = None if gate is None or not gate.met else rules.completion_instant(
            view(row), started_at, min(max(_met_since(conn, row), gate.since or started_at), act.at), act.at,
            prev_done)
        if when is not None:
            _complete(conn, ctx, row, when, act)
            completed.append(row.key)
            prev_done, prev_started = when, started_at
            if only == row.key:
                only = None  # the next phase may start in the same tick
            continue
        state = rules.running_state(view(row), act.at)
        if state != row.state:
            conn.execute(update(phases).where(phases.c.id == row.id).values(state=state))
            audit.append(conn, act, "phase.overdue", ctx.key, f"phase:{row.key}", {"state": row.state}, {"state": state})
        prev_done, prev_started = None, started_at  # the next phase may still open on its date
    return completed


def force_advance(conn: Connection, ctx: CampaignCtx, reason: str, act: Act, force: bool) -> dict[str, Any]:
    """Complete the current phase: with `force`, whatever its gate says (特批), audited with the reason."""
    if force and not (reason or "").strip():
        raise InvalidInput("强制转段必须写明理由 (a forced advance needs a reason)", field="reason")
    advance(conn, ctx, act)
    current = next((r for r in phase_rows(conn, ctx.id) if r.state != "completed"), None)
    if current is None:
        raise ConflictError("所有阶段均已完成 (every phase is already completed)")
    if current.started_at is None:
        raise ConflictError(f"阶段 '{current.key}' 尚未开始 (phase '{current.key}' has not started; it opens "
                            f"{current.start_at.astimezone(ctx.tz):%Y-%m-%d})")
    if not gate_report(conn, ctx, current, act.at, quick=True).met:
        if not force:
            raise ConflictError(f"阶段 '{current.key}' 的转段条件未满足；如需特批请强制转段并写明理由 "
                                f"(the gate of phase '{current.key}' is not met; a forced advance with a reason overrides it)")
        _complete(conn, ctx, current, act.at, act, forced=True, reason=reason)
    else:
        _complete(conn, ctx, current, act.at, act, forced=force, reason=reason or None)
    advance(conn, ctx, act)
    return {"completed": current.key, "forced": force}


def record_tick(conn: Connection, ctx: CampaignCtx, at: dt.datetime) -> None:
    if ctx.last_tick_at is None or at > ctx.last_tick_at:
        conn.execute(update(campaigns).where(campaigns.c.id == ctx.id).values(last_tick_at=at))


def check_tick_instant(ctx: CampaignCtx, at: dt.datetime) -> None:
    if ctx.last_tick_at is not None and at < ctx.last_tick_at:
        raise InvalidInput(f"不能在上一次检查 ({ctx.last_tick_at.astimezone(ctx.tz).isoformat()}) 之前运行检查 "
                           f"(a tick cannot run before the last tick at {ctx.last_tick_at.astimezone(ctx.tz).isoformat()})",
                           field="at")
