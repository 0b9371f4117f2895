"""The weekly notice (通报) to administrators: planned once per campaign, week and channel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .campaigns import CampaignCtx
from .tables import notices, phases, units


def notice_slot(ctx: CampaignCtx, at: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """This week's notice: the first working day of the local week, at the policy's send time."""
    today = at.astimezone(ctx.tz).date()
    monday = today - dt.timedelta(days=today.weekday())
    day = ctx.calendar.workday_on_or_after(monday)
    return monday, dt.datetime.combine(day, ctx.policy.send_time(), tzinfo=ctx.tz).astimezone(dt.UTC)


def plan_notice(conn: Connection, ctx: CampaignCtx, at: dt.datetime,
                route: Callable[[str, list[dict[str, Any]]], list[str]]) -> int:
    """Plan this week's notice to the organizer while a phase is running; returns rows planned."""
    week, planned_for = notice_slot(ctx, at)
    if at < planned_for or not ctx.organizer:
        return 0
    running = conn.execute(select(phases.c.id).where(
        phases.c.campaign_id == ctx.id, phases.c.started_at.is_not(None), phases.c.state != "completed").limit(1)).first()
    if running is None:
        return 0
    contacts = conn.execute(select(units.c.contacts).where(
        units.c.campaign_id == ctx.id, units.c.key == ctx.organizer)).scalar() or []
    # a notice of an earlier week not yet out is superseded by this week's: no storm after downtime
    conn.execute(update(notices).where(notices.c.campaign_id == ctx.id, notices.c.week < week,
                                       notices.c.state.in_(("planned", "failed"))).values(state="cancelled"))
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(notices)
    rows = [{"campaign_id": ctx.id, "week": week, "channel": ch, "planned_for": planned_for, "state": "planned",
             "attempts": 0} for ch in route(ctx.organizer, contacts)]
    return len(conn.execute(insert.on_conflict_do_nothing().returning(notices.c.id), rows).all())


def due_notices(conn: Connection, campaign_id: int, at: dt.datetime) -> list[Any]:
    return list(conn.execute(select(notices).where(
        notices.c.campaign_id == campaign_id,
        ((notices.c.state == "planned") & (notices.c.planned_for <= at))
        | ((notices.c.state == "failed") & (notices.c.next_attempt_at <= at)))
        .order_by(notices.c.week, notices.c.channel)).all())


def mark_notice(conn: Connection, notice_id: int, at: dt.datetime, *, message_id: str | None = None,
                error: str | None = None, retryable: bool = True, max_attempts: int = 5,
                backoff: dt.timedelta = dt.timedelta(minutes=5)) -> str:
    row = conn.execute(select(notices.c.attempts).where(notices.c.id == notice_id)).one()
    if error is None:
        state, values = "sent", {"sent_at": at, "message_id": message_id, "next_attempt_at": None}
    else:
        dead = not retryable or row.attempts + 1 >= max_attempts
        state = "dead" if dead else "failed"
        values = {"last_error": error[:500], "next_attempt_at": None if dead else at + backoff * (2 ** row.attempts)}
    conn.execute(update(notices).where(notices.c.id == notice_id).values(state=state, attempts=row.attempts + 1, **values))
    return state
