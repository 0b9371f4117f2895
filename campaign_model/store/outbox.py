"""The reminder outbox in SQL: plan (one row per reminder, planned once), cancel, claim, mark sent.

Planning works per requirement: every obligation of a requirement shares its due instant, so the
slot is computed once (pure rules) and applied with one INSERT ... SELECT and one UPDATE.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..reminders import latest_slot, next_slot
from .tables import obligations, outbox, requirements, units

OPEN = ("pending", "rejected")


def _insert(conn: Connection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(outbox)


def plan_reminders(conn: Connection, ctx: Any, phase_id: int, at: dt.datetime, channel: str = "file") -> int:
    """Plan the reminders that fell due by `at` in one phase; returns how many rows were planned."""
    due_reqs = conn.execute(
        select(requirements.c.id, requirements.c.due_at).where(requirements.c.id.in_(
            select(obligations.c.requirement_id).where(
                obligations.c.phase_id == phase_id, obligations.c.next_remind_at <= at).distinct()))).all()
    planned = 0
    for req_id, due_at in due_reqs:
        slot = latest_slot(due_at, ctx.policy, ctx.calendar, ctx.tz, at)
        following = next_slot(due_at, ctx.policy, ctx.calendar, ctx.tz, at)
        selected = (
            select(obligations.c.campaign_id, obligations.c.id, literal(slot.kind), literal(slot.day),
                   literal(slot.at, outbox.c.planned_for.type), literal("planned"), units.c.key, literal(channel),
                   literal(0))
            .join(units, units.c.id == obligations.c.unit_id)
            .where(obligations.c.requirement_id == req_id, obligations.c.next_remind_at <= at,
                   obligations.c.state.in_(OPEN))
        ) if slot else None
        if selected is not None:
            stmt = _insert(conn).from_select(
                ["campaign_id", "obligation_id", "kind", "slot_day", "planned_for", "state", "recipient", "channel",
                 "attempts"], selected).on_conflict_do_nothing().returning(outbox.c.id)
            # counted from RETURNING: drivers differ on rowcount for INSERT ... SELECT (psycopg gives -1)
            planned += len(conn.execute(stmt).all())
        conn.execute(update(obligations).where(
            obligations.c.requirement_id == req_id, obligations.c.next_remind_at <= at)
            .values(next_remind_at=following.at if following else None))
    return planned


def cancel_for_closed(conn: Connection, campaign_id: int, obligation_id: int | None = None) -> int:
    """Planned reminders of obligations filed or waived since: cancelled, never sent."""
    closed = select(obligations.c.id).where(obligations.c.id == outbox.c.obligation_id,
                                            obligations.c.state.not_in(OPEN)).exists()
    stmt = update(outbox).where(outbox.c.campaign_id == campaign_id, outbox.c.state == "planned", closed)
    if obligation_id is not None:
        stmt = stmt.where(outbox.c.obligation_id == obligation_id)
    return conn.execute(stmt.values(state="cancelled")).rowcount


def due_rows(conn: Connection, campaign_id: int, at: dt.datetime) -> list[Any]:
    """Planned reminders whose instant has come, with what a message needs, grouped by recipient."""
    return list(conn.execute(
        select(outbox.c.id, outbox.c.kind, outbox.c.recipient, outbox.c.planned_for, units.c.name.label("unit_name"),
               units.c.contacts, obligations.c.artifact, obligations.c.due_at, obligations.c.state,
               requirements.c.step_title)
        .join(obligations, obligations.c.id == outbox.c.obligation_id)
        .join(units, units.c.id == obligations.c.unit_id)
        .join(requirements, requirements.c.id == obligations.c.requirement_id)
        .where(outbox.c.campaign_id == campaign_id, outbox.c.state == "planned", outbox.c.planned_for <= at)
        .order_by(outbox.c.recipient, obligations.c.due_at, outbox.c.id)).all())


def mark_sent(conn: Connection, ids: list[int], at: dt.datetime, message_id: str) -> None:
    conn.execute(update(outbox).where(outbox.c.id.in_(ids), outbox.c.state == "planned")
                 .values(state="sent", sent_at=at, attempts=outbox.c.attempts + 1, message_id=message_id))


def listing(conn: Connection, campaign_id: int, state: str | None = None, unit: str | None = None) -> list[Any]:
    q = (select(outbox, obligations.c.artifact, obligations.c.due_at)
         .join(obligations, obligations.c.id == outbox.c.obligation_id)
         .where(outbox.c.campaign_id == campaign_id).order_by(outbox.c.planned_for, outbox.c.id))
    if state:
        q = q.where(outbox.c.state == state)
    if unit:
        q = q.where(outbox.c.recipient == unit)
    return list(conn.execute(q).all())


def counts(conn: Connection, campaign_id: int) -> dict[str, int]:
    rows = conn.execute(select(outbox.c.state, func.count()).where(outbox.c.campaign_id == campaign_id)
                        .group_by(outbox.c.state)).all()
    return {state: n for state, n in rows}



