"""The steps of a tick, each one short transaction over set-based SQL; flows orchestrate them.

Steps take the database URL (not an engine) so that a Prefect worker in another process can run them,
and the delivery settings as a plain `DeliveryConfig` (None: notifications reads them from the environment).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from campaign_model.store import db, outbox, phases
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx
from notifications.dispatch import send_due
from notifications.settings import DeliveryConfig
from notifications.setup import delivery_for, router_for
from notifications.weekly import send_weekly_notice


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return db.open_engine(url)


def precheck(url: str, campaign: str, act: Act) -> None:
    """Refuse a tick of an unknown campaign or before the last tick, before any flow run starts."""
    with engine_for(url).begin() as conn:
        phases.check_tick_instant(load_ctx(conn, campaign), act.at)


def start_phases(url: str, campaign: str, act: Act) -> list[str]:
    """Start the phases whose window opened and complete those already allowed."""
    with engine_for(url).begin() as conn:
        return phases.advance(conn, load_ctx(conn, campaign), act)


def running_phases(url: str, campaign: str) -> list[tuple[str, str]]:
    """(key, kind) of the phases a tick works on: started and not completed, or completed with open obligations."""
    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        return [(r.key, r.kind) for r in phases.phase_rows(conn, ctx.id) if r.started_at is not None
                and (r.state != "completed" or phases.has_open(conn, r.id))]


def _phase(conn: Any, ctx: Any, key: str) -> Any:
    return next(r for r in phases.phase_rows(conn, ctx.id) if r.key == key)


def check_deadlines(url: str, campaign: str, phase_key: str, act: Act) -> int:
    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        return phases.mark_overdue(conn, ctx, _phase(conn, ctx, phase_key), act)


def plan_reminders(url: str, campaign: str, phase_key: str, act: Act, delivery: DeliveryConfig | None = None) -> int:
    from campaign_model.store import audit

    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        phase = _phase(conn, ctx, phase_key)
        planned = outbox.plan_reminders(conn, ctx, phase.id, act.at, router_for(delivery))
        if planned:
            audit.append(conn, act, "reminders.planned", campaign, f"phase:{phase_key}", None, {"count": planned})
        return planned


def evaluate_gate(url: str, campaign: str, phase_key: str, act: Act) -> bool:
    """The phase's gate (phases.gate_report, quick: one index probe while a filing is missing)."""
    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        return phases.gate_report(conn, ctx, _phase(conn, ctx, phase_key), act.at, quick=True).met


def advance_phase(url: str, campaign: str, phase_key: str, act: Act) -> list[str]:
    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        return phases.advance(conn, ctx, act, only=phase_key)


def send_reminders(url: str, campaign: str, act: Act, outbox_file: str,
                   config: DeliveryConfig | None = None) -> dict[str, Any]:
    """Send the due reminders (one digest per recipient and channel) and this week's notice (通报).

    Returns what really happened: reminders handed to a real channel (`sent`), reminders only written to
    the outbox file (`written`), and the reminders by channel name with its kind.
    """
    delivery = delivery_for(Path(outbox_file), config)
    try:
        result = send_due(engine_for(url), campaign, act, delivery)
        send_weekly_notice(engine_for(url), campaign, act, delivery)
        channels = result.channels()
        for name, c in channels.items():  # where the file channel wrote, for the tick's report
            path = getattr(delivery.channels.get(name), "path", None)
            if c["kind"] == "file" and path is not None:
                c["path"] = str(path)
        return {"sent": result.sent, "written": result.written, "channels": channels}
    finally:
        for channel in delivery.channels.values():
            channel.close()


def ledger_deadlines(url: str, campaign: str, act: Act, delivery: DeliveryConfig | None = None) -> tuple[int, int]:
    """Ledger items' deadlines: overdue marks, then reminders; once per tick, after the phase flows."""
    from campaign_model.store import audit

    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        marked = outbox.mark_items_overdue(conn, ctx, act)
        planned = outbox.plan_item_reminders(conn, ctx, act.at, router_for(delivery))
        if planned:
            audit.append(conn, act, "reminders.planned", campaign, f"campaign:{campaign}", None,
                         {"count": planned, "ledger_items": True})
        return marked, planned


def look_back(url: str, campaign: str, act: Act) -> int:
    """Sample closed ledger items into re-checks for the look-back steps whose time has come."""
    from campaign_model.store.lookback import sample_due

    with engine_for(url).begin() as conn:
        return sample_due(conn, load_ctx(conn, campaign), act)


def finish_tick(url: str, campaign: str, act: Act) -> tuple[str, dict[str, str]]:
    """Record the tick; returns its instant in the campaign's time zone and each phase's state."""
    from campaign_model.store.queries import phase_state

    with engine_for(url).begin() as conn:
        ctx = load_ctx(conn, campaign)
        phases.record_tick(conn, ctx, act.at)
        return act.at.astimezone(ctx.tz).isoformat(), {r.key: phase_state(r, act.at) for r in phases.phase_rows(conn, ctx.id)}
