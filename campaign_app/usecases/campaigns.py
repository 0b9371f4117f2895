"""Campaigns and their phases: validate a spec, create a campaign, list, overview, status, the gate, advance, tick.

Readers take `scope` (usecases.scope: a unit user's units, None = all) where the API and the pages
limit what a unit user is shown; it is resolved in the reader's own transaction.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign_model.access import sees_everything
from campaign_model.specfile import LoadedSpec, load_spec_file
from campaign_model.store import board, phases, queries
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.people import step_leads
from campaign_model.store.timeline import step_marks

from .services import Services, wall_clock

if TYPE_CHECKING:  # the scope a route passes (web.deps.reach): its units(conn, ctx) and check(...)
    from .scope import Scope


def validate(file: Path) -> dict[str, Any]:
    """Check a spec file (SpecInvalid lists every problem); what it holds, and its warnings."""
    loaded = load_spec_file(file)
    return {"file": str(file), "campaign": loaded.spec.key, "phases": len(loaded.spec.phases),
            "units": len(loaded.units), "warnings": [str(w) for w in loaded.warnings]}


def create(svc: Services, act: Act, loaded: LoadedSpec) -> dict[str, Any]:
    """Create a campaign from a loaded spec (its units merged with a units list by specfile): obligations and all."""
    with svc.write() as conn:
        return create_campaign(conn, loaded, act)


def list_campaigns(svc: Services, *, role: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
    """The campaigns (key, title) the caller may see: all, or for a unit user those its unit takes part in."""
    with svc.read() as conn:
        if role is None or sees_everything(role):
            return queries.campaign_list(conn)
        return queries.campaign_list(conn, member=unit or "")


def cards(svc: Services, at: dt.datetime, *, role: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
    """Each visible campaign's title and where it stands at `at`: its running phase, else pending or completed;
    for those who see everything, also how many filings wait for review."""
    from campaign_model.store.tasks import awaiting_review_counts

    with svc.read() as conn:
        everything = role is None or sees_everything(role)
        docs = queries.campaign_list(conn) if everything else queries.campaign_list(conn, member=unit or "")
        waiting = awaiting_review_counts(conn) if everything else {}
        return [{**_card(conn, d["key"], at), "awaiting_review": waiting.get(d["key"], 0)} for d in docs]


def _card(conn: Any, key: str, at: dt.datetime) -> dict[str, Any]:
    ctx = load_ctx(conn, key)
    rows = phases.phase_rows(conn, ctx.id)
    running = phases.running(rows)  # two at once when a phase opened on its date (spec: opens: on_date)
    if running:
        return {"key": key, "title": ctx.title, "phase": "、".join(p.title for p in running),
                "state": queries.phase_state(running[-1], at)}
    done = bool(rows) and all(p.state == "completed" for p in rows)
    return {"key": key, "title": ctx.title, "phase": None, "state": "completed" if done else "pending"}


TIMELINE_FIELDS = ("key", "title", "kind", "state", "start", "end", "started_at", "completed_at", "forced", "opens")


def timeline(svc: Services, campaign: str, at: dt.datetime, *, scope: Scope | None = None) -> dict[str, Any]:
    """A campaign's phases on their timeline at `at`, and the caller's units (None: all)."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        units = scope.units(conn, ctx) if scope is not None else None
        doc = queries.status(conn, campaign, at)
    return {"campaign": campaign, "title": ctx.title, "at": doc["at"], "current_phase": doc["current_phase"],
            "running_phases": doc["running_phases"],
            "phases": [{k: p[k] for k in TIMELINE_FIELDS} for p in doc["phases"]],
            "units": sorted(units) if units is not None else None}


def overview(svc: Services, campaign: str, at: dt.datetime, *, scope: Scope | None = None) -> dict[str, Any]:
    """A campaign's page: its status; campaign-wide progress for those who see all, else the caller's own obligations;
    each step's due day and state (in the caller's units) and the working-day calendar, for the drawn timeline."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        units = scope.units(conn, ctx) if scope is not None else None
        doc = queries.status(conn, campaign, at)
        series = board.progress_series(conn, campaign, at) if units is None else []
        own = _own_obligations(board.matrix(conn, campaign, at, units=units)) if units is not None else []
        marks = step_marks(conn, ctx, at, units)
        leads = step_leads(conn, ctx.id)
    # steps led by an office (牵头股室), in the timeline's order: the overview lists them under the phases
    led = [{**m, "lead": leads[(m["phase"], m["step"])]} for m in marks if (m["phase"], m["step"]) in leads]
    return {"title": ctx.title, "scope": units, "status": doc, "series": series, "own": own,
            "marks": marks, "calendar": ctx.calendar, "led_steps": led}


def _own_obligations(m: dict[str, Any]) -> list[dict[str, Any]]:
    """A unit user's obligations, from the matrix of its scope: one entry per owed cell."""
    return [{"unit": row["unit"], "name": row["name"], "artifact": col["artifact"], "title": col["title"],
             "step": col["step"], **cell}
            for row in m["rows"] for col, cell in zip(m["columns"], row["cells"], strict=True) if cell is not None]


def matrix(svc: Services, campaign: str, at: dt.datetime, *, parent: str | None = None, tag: str | None = None,
           scope: Scope | None = None) -> dict[str, Any]:
    """The traffic-light matrix (units x requirements) at `at`, filtered; the parents offered are those in scope."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        units = scope.units(conn, ctx) if scope is not None else None
        mx = board.matrix(conn, campaign, at, parent=parent, tag=tag, units=units)
    return {"title": ctx.title, "matrix": mx, "parents": [p for p in mx["parents"] if units is None or p["key"] in units]}


def status(svc: Services, campaign: str, at: dt.datetime) -> dict[str, Any]:
    """Where a campaign stands at `at`: each phase with its gate, the obligations counted by state."""
    with svc.read() as conn:
        return queries.status(conn, campaign, at)


def gate(svc: Services, campaign: str, at: dt.datetime) -> list[dict[str, Any]]:
    """The gates that hold on more than filings (ledger, evaluation, look-back re-checks), phase by phase at `at`."""
    with svc.read() as conn:
        ctx = load_ctx(conn, campaign)
        docs = []
        for row in phases.phase_rows(conn, ctx.id):
            report = phases.gate_report(conn, ctx, row, at)
            if not report.conditions and not report.rechecks_pending:
                continue
            conditions = {k: v for k, v in report.conditions.items() if k != "met"}
            docs.append({"phase": row.key, "met": report.met, "artifacts_met": report.filings_met,
                         # several phases run at once when one opened on its date (spec opens: on_date)
                         "running": row.started_at is not None and row.state != "completed",
                         "rechecks_pending": report.rechecks_pending, **conditions,
                         "conditions_met": report.conditions_met,
                         "since": report.since.astimezone(ctx.tz).isoformat() if report.since else None})
    return docs


def advance(svc: Services, act: Act, campaign: str, *, force: bool = False, reason: str | None = None) -> dict[str, Any]:
    """Complete the current phase; with `force`, whatever its gate says (特批, a reason required)."""
    with svc.write() as conn:
        return phases.force_advance(conn, load_ctx(conn, campaign), reason or "", act, force)


def tick(svc: Services, act: Act, campaign: str, *, until: dt.datetime | None = None,
         every: dt.timedelta = dt.timedelta(hours=1), after_last: bool = False, prefect: bool = False) -> list[dict[str, Any]]:
    """Run a tick at `act.at`, or successive ticks every `every` up to `until`: from `act.at`, or with
    `after_last` from one interval after the campaign's last tick.

    In this process (flows.tick), or with `prefect` as ONE Prefect flow run on the configured API — the
    successive ticks too: one flow run with a task run per tick. Either way the same steps, results and audit."""
    from flows import tick as ticks

    s = svc.settings
    url, outbox, delivery = s.db_url, str(s.outbox_file(campaign)), s.delivery  # the settings built at the edge
    if until is None:
        run_one = ticks.tick if prefect else ticks.tick_direct
        return [run_one(url, campaign, Act(act.at, act.actor, wall_clock()), outbox, delivery)]
    start = act.at
    if after_last:
        with svc.read() as conn:
            last = load_ctx(conn, campaign).last_tick_at
        start = act.at if last is None else last + every
    if start > until:
        return []
    run_many = ticks.ticks if prefect else ticks.ticks_direct
    # each tick at its own instant, recorded when it really runs
    return run_many(url, campaign, start, until, every, act.actor, outbox, delivery, wall_clock)
