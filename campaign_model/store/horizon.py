"""A campaign's horizon: the earliest instant at which a tick can change anything, read after a tick.

Between two user actions the only thing that moves is time, and a tick changes the campaign only when its
instant reaches one of these (each the earliest at or after the instant of the tick just run):

- a phase's start (`start_at` of a phase not started) or end (`end_at` of a running one: it turns overdue,
  an `at_end` phase may complete); a phase that waits on the one before starts in the tick that completes it;
- an open obligation's due instant not yet marked overdue, and an obligation's `next_remind_at`, in the
  phases started (index probes, one per phase: `ix_obligations_open_due`, `ix_obligations_remind`);
- a current ledger item's deadline not yet marked overdue, and its `next_remind_at` (`ix_ledger_remind`);
  the ledger gate's `none_overdue` only turns false as items pass their deadline, so these cover it too;
- an outbox row planned (`planned_for`, `ix_outbox_state`) or failed and waiting for its retry
  (`next_attempt_at`), the same for the weekly notices, and this or next week's notice slot;
- a look-back step's sampling instant in a started phase;
- and, outside the tables, the send window's opening: what was held outside it (due then, or a reminder of
  an obligation filed since, to be cancelled) goes at the first tick inside it (`Horizon.quiet`).

A gate met by a filing completes its phase in the tick after that filing: the filing is a user action, seen
by the campaign's last audit sequence number (`marker`), which every action that changes a campaign appends
to. A step added to the tick that acts on an instant of its own must add that instant here;
tests/test_skip_idle_ticks.py compares a simulation that skips with one that runs every tick, row for row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from ..reminders import in_send_window
from .campaigns import CampaignCtx
from .lookback import lookback_steps, sampling_instant
from .notices import notice_slot
from .predicates import OPEN_LITERAL
from .tables import audit_events, ledger_items, notices, obligations, outbox

# built once: the one statement a quiet tick runs (the campaign's last audit event, an index probe)
_MARKER = select(func.max(audit_events.c.seq)).where(audit_events.c.campaign == bindparam("campaign"))


def marker(conn: Connection, campaign: str) -> int:
    """The sequence number of the campaign's last audit event (0 if none): it moves with every change."""
    return int(conn.execute(_MARKER, {"campaign": campaign}).scalar() or 0)


@dataclass(frozen=True)
class Horizon:
    """What a tick at `at` left: until `next_at` (None: never, without a user action) and while `marker`
    stays, a tick changes nothing but the campaign's last tick instant."""

    at: dt.datetime
    next_at: dt.datetime | None
    marker: int
    in_window: bool  # the send window was open at `at`
    ctx: CampaignCtx
    phases: list[Any]  # the phase rows as the tick left them: the states a quiet tick reports

    def quiet(self, at: dt.datetime) -> bool:
        """Whether a tick at `at` (not before `self.at`) would change nothing, given the same marker."""
        if at < self.at or (self.next_at is not None and at >= self.next_at):
            return False
        return self.in_window or not in_send_window(at, self.ctx.policy, self.ctx.calendar, self.ctx.tz)


def _first(column: Any, *where: Any) -> Any:
    """The smallest value of `column` under `where`, as an ordered LIMIT 1 (an index seek where one fits)."""
    return select(column).where(column.is_not(None), *where).order_by(column).limit(1).scalar_subquery()


def read(conn: Connection, ctx: CampaignCtx, at: dt.datetime, phase_rows: list[Any],
         before: tuple[int, str] | None = None) -> Horizon:
    """The horizon after a tick at `at`, from the phase rows the tick left: one statement of probes (and the
    stored spec's look-back steps). `before`: the campaign's marker read before the tick and the tick's actor;
    an event appended since by anyone else (a change made while the tick ran) leaves the next tick to run in
    full (`next_at` = `at`)."""
    o, i, x, n = obligations.c, ledger_items.c, outbox.c, notices.c
    instants: list[dt.datetime | None] = []
    probes: list[Any] = []
    for row in phase_rows:
        if row.started_at is None:
            instants.append(row.start_at)
            continue
        if row.state != "completed":
            instants.append(row.end_at)
        probes.append(_first(o.due_at, o.phase_id == row.id, o.overdue_at.is_(None), OPEN_LITERAL, o.due_at >= at))
        probes.append(_first(o.next_remind_at, o.phase_id == row.id, o.next_remind_at >= at))
    probes += [
        _first(i.due_at, i.campaign_id == ctx.id, i.current.is_(True), i.overdue_at.is_(None), i.due_at >= at),
        _first(i.next_remind_at, i.campaign_id == ctx.id, i.next_remind_at >= at),
        _first(x.planned_for, x.campaign_id == ctx.id, x.state == "planned", x.planned_for >= at),
        _first(x.next_attempt_at, x.campaign_id == ctx.id, x.state == "failed", x.next_attempt_at >= at),
        _first(n.planned_for, n.campaign_id == ctx.id, n.state == "planned", n.planned_for >= at),
        _first(n.next_attempt_at, n.campaign_id == ctx.id, n.state == "failed", n.next_attempt_at >= at),
        _MARKER.scalar_subquery(),
    ]
    if before is not None:  # the tick's own events are at its instant, by its actor
        a = audit_events.c
        probes.append(select(a.seq).where(a.campaign == ctx.key, a.seq > before[0],
                                          ~((a.actor == before[1]) & (a.at == at))).limit(1).scalar_subquery())
    found: list[Any] = list(conn.execute(select(*probes), {"campaign": ctx.key}).one())
    foreign = found.pop() if before is not None else None
    last_seq = found.pop()
    instants += [*found, at] if foreign is not None else found
    started = {r.key: r for r in phase_rows if r.started_at is not None}
    for phase_key, _step, _title, lookback, _due in lookback_steps(conn, ctx):
        if phase_key in started:
            instants.append(sampling_instant(ctx, started[phase_key], lookback))
    instants += _notice_slots(ctx, at)
    ahead = [t for t in instants if t is not None and t >= at]
    return Horizon(at, min(ahead, default=None), int(last_seq or 0),
                   in_send_window(at, ctx.policy, ctx.calendar, ctx.tz), ctx, list(phase_rows))


def _notice_slots(ctx: CampaignCtx, at: dt.datetime) -> list[dt.datetime]:
    """This week's notice slot and next week's (a tick plans a week's notice once at or past its slot)."""
    monday = at.astimezone(ctx.tz).date()
    monday -= dt.timedelta(days=monday.weekday())
    next_week = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(12), tzinfo=ctx.tz)
    return [notice_slot(ctx, at)[1], notice_slot(ctx, next_week)[1]]
