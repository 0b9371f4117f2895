"""Read models of the dashboard and the public progress board: the traffic-light matrix (units x
requirements), the overdue list, each phase's cumulative progress, and the public 公示 figures.

Each is a constant number of set-based queries (joins, GROUP BY) whatever the number of units;
the instant is an argument, never the clock. States are the stored ones, judged at `at` for the
lights; instants come back as local ISO strings in the campaign's zone. Removed units (deactivated by
`campaigns.import_units`, closed or merged by `unit_admin`) are left out everywhere, but for the matrix's
list of closed units apart from its rows and counts (`closed`), where their waived obligations show the reason.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql import Select

from ..rules import DUE_SOON, LIGHTS, light  # noqa: F401 - the matrix's lights are a rule (rules.light)
from ..timeexpr import local_end_of_day
from .campaigns import CampaignCtx, load_ctx
from .phases import phase_rows
from .predicates import ledger_item_overdue, obligation_overdue
from .queries import iso, phase_state

# the table under another name: `units` is the keyword of a scope of unit keys in matrix() and overdue()
from .tables import campaigns, filings, ledger_items, obligations, outbox, phases, requirements
from .tables import units as unit_table

FILED = ("filed", "accepted")


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 3) if d else None


def _title(ctx: CampaignCtx, artifact: str) -> str:
    return str(ctx.artifacts.get(artifact, {}).get("title", artifact))


def _keys(units: Collection[str] | None) -> set[str] | None:
    """A scope of unit keys as a set; one key given alone is a scope of one, not of its letters."""
    return None if units is None else {units} if isinstance(units, str) else set(units)


def _scoped(q: Select[Any], keys: set[str] | None) -> Select[Any]:
    return q if keys is None else q.where(unit_table.c.key.in_(sorted(keys)))


# --- the matrix ---

def matrix(conn: Connection, key: str, at: dt.datetime, *, parent: str | None = None, tag: str | None = None,
           units: Collection[str] | None = None) -> dict[str, Any]:
    """Units x requirements, each cell the obligation's state and light at `at` (None: nothing owed).

    Filters combine: `parent` keeps that unit and its direct children, `tag` the units carrying it,
    `units` a scope of unit keys. Four queries: the campaign, its units, its requirements, the cells.
    """
    u, units = unit_table, _keys(units)
    ctx = load_ctx(conn, key)
    every = conn.execute(select(u.c.id, u.c.key, u.c.name, u.c.parent_key, u.c.tags, u.c.active, u.c.removed_reason,
                                u.c.merged_into).where(u.c.campaign_id == ctx.id).order_by(u.c.key)).all()
    active = [r for r in every if r.active]
    with_children = {r.parent_key for r in active if r.parent_key}
    shown = sorted((r for r in active if (parent is None or parent in (r.key, r.parent_key))
                    and (tag is None or tag in (r.tags or [])) and (units is None or r.key in units)),
                   key=lambda r: (r.parent_key or "", r.key))
    columns = conn.execute(
        select(requirements.c.id, requirements.c.artifact, requirements.c.step_key, requirements.c.step_title,
               requirements.c.due_at,
               phases.c.key.label("phase"))
        .join(phases, phases.c.id == requirements.c.phase_id)
        .where(requirements.c.campaign_id == ctx.id)
        .order_by(requirements.c.due_at, requirements.c.artifact, requirements.c.step_key, requirements.c.id)).all()
    mine = select(obligations.c.id).where(obligations.c.campaign_id == ctx.id)
    versions = (select(filings.c.obligation_id, func.max(filings.c.version).label("version"))
                .where(filings.c.obligation_id.in_(mine)).group_by(filings.c.obligation_id).subquery())
    q = (select(obligations.c.requirement_id, obligations.c.unit_id, obligations.c.state, obligations.c.due_at,
                obligations.c.filed_at, obligations.c.late, obligations.c.extended_from, versions.c.version,
                phases.c.started_at)
         .join(u, u.c.id == obligations.c.unit_id)
         .join(phases, phases.c.id == obligations.c.phase_id)
         .outerjoin(versions, versions.c.obligation_id == obligations.c.id)
         .where(obligations.c.campaign_id == ctx.id, u.c.active.is_(True)))
    if parent is not None:  # narrowed in SQL too; the tag (a JSON list) is matched above
        q = q.where(or_(u.c.key == parent, u.c.parent_key == parent))
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for r in conn.execute(_scoped(q, units)).all():
        cells[(r.unit_id, r.requirement_id)] = {
            "state": r.state, "light": light(r.state, r.due_at, at, r.state == "waived", r.started_at), "due": iso(r.due_at, ctx),
            "filed_at": iso(r.filed_at, ctx), "late": r.late, "version": r.version,
            **({"extended_from": iso(r.extended_from, ctx)} if r.extended_from is not None else {})}  # 延期: the due before
    rows = [{"unit": r.key, "name": r.name, "parent": r.parent_key, "tags": list(r.tags or []),
             "cells": [cells.get((r.id, c.id)) for c in columns]} for r in shown]
    counts = Counter(c["light"] for row in rows for c in row["cells"] if c is not None)
    # closed and merged units (for those who see every unit): their obligations as they were left, the open
    # ones waived with the closing reason; shown apart from the counts
    gone = [r for r in every if not r.active and (parent is None or parent in (r.key, r.parent_key))
            and (tag is None or tag in (r.tags or []))] if units is None else []
    closed = _closed_rows(conn, ctx, at, [c.id for c in columns], gone) if gone else []
    return {
        "campaign": ctx.key, "at": iso(at, ctx),
        "columns": [{"artifact": c.artifact, "step": c.step_key, "step_title": c.step_title,
                     "title": _title(ctx, c.artifact), "phase": c.phase,
                     "due": iso(c.due_at, ctx)} for c in columns],
        "rows": rows, "closed": closed, "counts": {k: counts[k] for k in LIGHTS},
        "parents": [{"key": r.key, "name": r.name} for r in active if r.key in with_children],
        "tags": sorted({t for r in active for t in r.tags or []}),
    }


def _closed_rows(conn: Connection, ctx: CampaignCtx, at: dt.datetime, columns: list[int],
                 gone: list[Any]) -> list[dict[str, Any]]:
    """The matrix rows of closed and merged units: one query for their obligations."""
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for r in conn.execute(select(obligations.c.requirement_id, obligations.c.unit_id, obligations.c.state,
                                 obligations.c.due_at, obligations.c.filed_at, obligations.c.waived_reason,
                                 phases.c.started_at)
                          .join(phases, phases.c.id == obligations.c.phase_id)
                          .where(obligations.c.unit_id.in_([g.id for g in gone]))).all():
        cells[(r.unit_id, r.requirement_id)] = {
            "state": r.state, "light": light(r.state, r.due_at, at, r.state == "waived", r.started_at),
            "due": iso(r.due_at, ctx), "filed_at": iso(r.filed_at, ctx), "waived_reason": r.waived_reason}
    return [{"unit": g.key, "name": g.name, "parent": g.parent_key, "reason": g.removed_reason,
             "merged_into": g.merged_into, "cells": [cells.get((g.id, c)) for c in columns]} for g in gone]


# --- the overdue list ---

def overdue(conn: Connection, key: str, at: dt.datetime, *,
            units: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Open obligations past due at `at` in started phases (predicates.obligation_overdue), with the
    reminders sent for each by then. Two queries."""
    u, units = unit_table, _keys(units)
    ctx = load_ctx(conn, key)
    # a reminder goes out on several channels: count the distinct slots (kind, day), not the copies
    slots = (select(outbox.c.obligation_id, outbox.c.kind, outbox.c.slot_day,
                    func.max(outbox.c.sent_at).label("sent_at"))
             .where(outbox.c.campaign_id == ctx.id, outbox.c.obligation_id.is_not(None), outbox.c.state == "sent",
                    outbox.c.sent_at <= at)
             .group_by(outbox.c.obligation_id, outbox.c.kind, outbox.c.slot_day).subquery())
    sent = (select(slots.c.obligation_id, func.count().label("n"), func.max(slots.c.sent_at).label("last"))
            .group_by(slots.c.obligation_id).subquery())
    q = (select(obligations.c.id, obligations.c.artifact, obligations.c.state, obligations.c.due_at,
                u.c.key, u.c.name, u.c.parent_key, requirements.c.step_key, sent.c.n, sent.c.last)
         .join(u, u.c.id == obligations.c.unit_id)
         .join(requirements, requirements.c.id == obligations.c.requirement_id)
         .outerjoin(sent, sent.c.obligation_id == obligations.c.id)
         .where(obligations.c.campaign_id == ctx.id, obligation_overdue(at), u.c.active.is_(True))
         .order_by(obligations.c.due_at, u.c.key, obligations.c.id))
    today = at.astimezone(ctx.tz).date()
    return [{"obligation": r.id, "unit": r.key, "name": r.name, "parent": r.parent_key, "artifact": r.artifact,
             "title": _title(ctx, r.artifact), "step": r.step_key, "due": iso(r.due_at, ctx),
             "days_overdue": (today - r.due_at.astimezone(ctx.tz).date()).days, "state": r.state,
             "reminders_sent": int(r.n or 0), "last_reminded": iso(r.last, ctx)}
            for r in conn.execute(_scoped(q, units)).all()]


# --- progress over time ---

def _owed() -> Any:
    """What the board counts: obligations of the campaign's current units, waivers left out."""
    return and_(obligations.c.state != "waived", unit_table.c.active.is_(True))


def progress_series(conn: Connection, key: str, at: dt.datetime) -> list[dict[str, Any]]:
    """Per started phase, per local day: obligations due by the end of the day and filed (first filing) by then.

    A running phase's days run from its planned start to the day of `at`; a completed one's to its
    end, or on to its last due day or completion when these come later (never past the day of `at`),
    so that a step due after the phase's window still shows. Filings after `at` are not counted.
    Four queries: the campaign, its phases, due counts grouped by due instant, filings grouped by day.
    """
    ctx = load_ctx(conn, key)
    started = [p for p in phase_rows(conn, ctx.id) if p.started_at is not None and p.started_at <= at]
    if not started:
        return []
    def day(t: dt.datetime) -> dt.date:
        return t.astimezone(ctx.tz).date()

    today = day(at)
    due_counts = conn.execute(
        select(obligations.c.phase_id, obligations.c.due_at, func.count())
        .join(unit_table, unit_table.c.id == obligations.c.unit_id)
        .where(obligations.c.campaign_id == ctx.id, obligations.c.phase_id.in_([p.id for p in started]), _owed())
        .group_by(obligations.c.phase_id, obligations.c.due_at)).all()
    due_days: dict[int, Counter[dt.date]] = defaultdict(Counter)
    for phase_id, due_at, n in due_counts:
        due_days[phase_id][day(due_at)] += n
    spans = {}
    for p in started:
        # a running phase is drawn up to today; a completed one up to its end, last due day or completion
        last = today if p.completed_at is None else max(day(p.end_at), day(p.completed_at), *due_days[p.id])
        spans[p.id] = (day(p.start_at), min(today, last))
    first, last = min(s for s, _ in spans.values()), max(e for _, e in spans.values())
    filed_days = (_filed_by_day(conn, ctx, [p.id for p in started], first, last, at) if first <= last
                  else defaultdict(Counter))
    out = []
    for p in started:
        start, end = spans[p.id]
        due = sum(n for d, n in due_days[p.id].items() if d < start)
        filed = sum(n for d, n in filed_days[p.id].items() if d < start)
        points, d = [], start
        while d <= end:
            due, filed = due + due_days[p.id][d], filed + filed_days[p.id][d]
            points.append({"date": d.isoformat(), "due": due, "filed": filed})
            d += dt.timedelta(days=1)
        out.append({"phase": p.key, "title": p.title, "start": iso(p.start_at, ctx), "end": iso(p.end_at, ctx),
                    "points": points})
    return out


def _filed_by_day(conn: Connection, ctx: CampaignCtx, phase_ids: list[int], first: dt.date, last: dt.date,
                  at: dt.datetime) -> dict[int, Counter[dt.date]]:
    """First filings per phase and local day from `first` to `last` (earlier ones on `first`), up to `at`.

    The day is found in SQL by comparing with each day's end (portable, and right in any time zone),
    so the rows returned are at most phases x days, whatever the number of filings.
    """
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    ends = [min(local_end_of_day(d, ctx.tz), at) for d in days]
    mine = select(obligations.c.id).where(obligations.c.campaign_id == ctx.id, obligations.c.phase_id.in_(phase_ids))
    earliest = (select(filings.c.obligation_id, func.min(filings.c.at).label("at"))
                .where(filings.c.obligation_id.in_(mine)).group_by(filings.c.obligation_id).subquery())
    filed_at = func.coalesce(earliest.c.at, obligations.c.filed_at)
    bucket = case(*[(filed_at <= end, i) for i, end in enumerate(ends)], else_=None)
    # grouped in an outer query: PostgreSQL will not match a GROUP BY expression holding bound parameters
    inner = (select(obligations.c.phase_id, bucket.label("day"))
             .join(unit_table, unit_table.c.id == obligations.c.unit_id)
             .outerjoin(earliest, earliest.c.obligation_id == obligations.c.id)
             .where(obligations.c.campaign_id == ctx.id, obligations.c.phase_id.in_(phase_ids), _owed())
             .subquery())
    out: dict[int, Counter[dt.date]] = defaultdict(Counter)
    for phase_id, i, n in conn.execute(select(inner.c.phase_id, inner.c.day, func.count())
                                       .where(inner.c.day.is_not(None)).group_by(inner.c.phase_id, inner.c.day)).all():
        out[phase_id][days[i]] += n
    return out


# --- the public board ---

def public_board(conn: Connection, key: str, at: dt.datetime) -> dict[str, Any]:
    """The public 公示 board (its heading from the spec's messages.board_title, e.g. 作风整改进行时): aggregated
    figures only, nothing a unit filed, no person.

    Per phase: obligations due (waivers left out), filed (filed or accepted by `at`), on time, and
    `rate` = filed / due. Overall: `filed_rate` = filed / obligations, `on_time_rate` = on time / filed.
    Ledger: current items, a returned or reopened one counted as open. Groups: the units directly under each
    parent unit, named by the parent (a public body). Six queries.
    """
    ctx = load_ctx(conn, key)
    title_en = conn.execute(select(campaigns.c.title_en).where(campaigns.c.id == ctx.id)).scalar()
    phase_list = phase_rows(conn, ctx.id)
    parent = unit_table.alias("parent_unit")
    members = conn.execute(
        select(unit_table.c.parent_key, parent.c.name, func.count())
        .outerjoin(parent, and_(parent.c.campaign_id == unit_table.c.campaign_id,
                                parent.c.key == unit_table.c.parent_key))
        .where(unit_table.c.campaign_id == ctx.id, unit_table.c.active.is_(True))
        .group_by(unit_table.c.parent_key, parent.c.name)).all()
    figures = _obligation_figures(conn, ctx, at)
    items = _ledger_figures(conn, ctx, at)

    by_phase: dict[int, Counter[str]] = defaultdict(Counter)
    by_group: dict[str | None, Counter[str]] = defaultdict(Counter)
    for phase_id, group, filed, on_time, n in figures:
        for c in (by_phase[phase_id], by_group[group]):
            c["due"], c["filed"], c["on_time"] = c["due"] + n, c["filed"] + n * filed, c["on_time"] + n * on_time
    ledger_by_group: dict[str | None, Counter[str]] = defaultdict(Counter)
    for group, state, long_term, late, n in items:
        c = ledger_by_group[group]
        c["items"] += n
        c["open" if state in ("returned", "reopened") else state] += n
        c["long_term"] += n * long_term
        c["overdue"] += n * late
    total, ledger_total = sum(by_phase.values(), Counter()), sum(ledger_by_group.values(), Counter())
    running = [p.key for p in phase_list if p.started_at is not None and p.state != "completed"]
    return {
        "campaign": ctx.key, "title": ctx.title, "title_en": title_en, "at": iso(at, ctx),
        "current_phase": running[0] if running else None, "running_phases": running,
        # the board's heading from the spec (messages.board_title), else the campaign's own title alone
        "board_title": (ctx.messages or {}).get("board_title"), "board_title_en": (ctx.messages or {}).get("board_title_en"),
        "phases": [{"key": p.key, "title": p.title, "state": phase_state(p, at), "start": iso(p.start_at, ctx),
                    "end": iso(p.end_at, ctx), "due": by_phase[p.id]["due"], "filed": by_phase[p.id]["filed"],
                    "on_time": by_phase[p.id]["on_time"], "rate": _rate(by_phase[p.id]["filed"], by_phase[p.id]["due"])}
                   for p in phase_list],
        "overall": {"units": sum(n for *_, n in members), "obligations": total["due"], "filed": total["filed"],
                    "on_time_rate": _rate(total["on_time"], total["filed"]),
                    "filed_rate": _rate(total["filed"], total["due"])},
        "ledger": {**{k: ledger_total[k] for k in ("items", "closed", "in_progress", "rectified", "open", "overdue",
                                                    "long_term")},
                   "closure_rate": _rate(ledger_total["closed"], ledger_total["items"])},
        "groups": [{"name": name, "units": n, "filed_rate": _rate(by_group[group]["filed"], by_group[group]["due"]),
                    "closure_rate": _rate(ledger_by_group[group]["closed"], ledger_by_group[group]["items"])}
                   for group, name, n in sorted((m for m in members if m[0] is not None), key=lambda m: m[0])],
    }


def _obligation_figures(conn: Connection, ctx: CampaignCtx, at: dt.datetime) -> list[Any]:
    """(phase id, parent unit key, filed 0/1, on time 0/1, count) over the owed obligations."""
    filed = and_(obligations.c.state.in_(FILED), obligations.c.filed_at <= at)
    inner = (select(obligations.c.phase_id, unit_table.c.parent_key,
                    case((filed, 1), else_=0).label("filed"),
                    case((and_(filed, obligations.c.late.is_not(True)), 1), else_=0).label("on_time"))
             .join(unit_table, unit_table.c.id == obligations.c.unit_id)
             .where(obligations.c.campaign_id == ctx.id, _owed()).subquery())
    cols = (inner.c.phase_id, inner.c.parent_key, inner.c.filed, inner.c.on_time)
    return list(conn.execute(select(*cols, func.count()).group_by(*cols)).all())


def _ledger_figures(conn: Connection, ctx: CampaignCtx, at: dt.datetime) -> list[Any]:
    """(parent unit key, state, long term 0/1, overdue 0/1, count) over the current ledger items."""
    i = ledger_items.c
    late = ledger_item_overdue(at)
    inner = (select(unit_table.c.parent_key, i.state, case((i.long_term.is_(True), 1), else_=0).label("long_term"),
                    case((late, 1), else_=0).label("late"))
             .join(unit_table, unit_table.c.id == i.unit_id)
             .where(i.campaign_id == ctx.id, i.current.is_(True), unit_table.c.active.is_(True)).subquery())
    cols = (inner.c.parent_key, inner.c.state, inner.c.long_term, inner.c.late)
    return list(conn.execute(select(*cols, func.count()).group_by(*cols)).all())
