"""The reminder outbox in SQL: plan (one row per reminder, planned once), cancel, claim, mark sent.

Planning works per requirement: every obligation of a requirement shares its due instant, so the
slot is computed once (pure rules) and applied with one INSERT ... SELECT and one UPDATE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..people import Directory
from ..reminders import ReminderSlot, escalation_slot, latest_slot, next_slot
from . import audit
from . import people as people_store
from .predicates import ledger_item_overdue, ledger_item_owed
from .tables import UTCDateTime, ledger_items, obligations, outbox, requirements, reviews, units
from .unit_lookup import resolve_unit

OPEN = ("pending", "rejected")
# the "step" of a ledger item's deadline in a digest row; the digest names it in the campaign's
# language (notifications.render.ITEM_STEP), so no English gloss here
ITEM_STEP = "整改台账"


def _insert(conn: Connection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(outbox)


Route = Callable[[str, list[dict[str, Any]]], list[str]]


def only_file(unit: str, contacts: list[dict[str, Any]]) -> list[str]:
    return ["file"]


def plan_reminders(conn: Connection, ctx: Any, phase_id: int, at: dt.datetime, route: Route = only_file) -> int:
    """Plan the reminders that fell due by `at` in one phase; returns how many rows were planned.

    Each reminder is one row per channel its recipient is routed to; the unique key (obligation, kind,
    day, channel) makes planning it twice a no-op. After downtime only the latest slot is planned.
    """
    # grouped by requirement and the obligation's own due instant: an obligation extended (延期) is
    # reminded on its own plan, the others of its requirement on theirs
    due_reqs = conn.execute(
        select(obligations.c.requirement_id, obligations.c.due_at)
        .where(obligations.c.phase_id == phase_id, obligations.c.next_remind_at <= at).distinct()
        .order_by(obligations.c.requirement_id, obligations.c.due_at)).tuples().all()
    overrides = dict(conn.execute(select(requirements.c.id, requirements.c.policy).where(
        requirements.c.id.in_({r for r, _ in due_reqs}))).tuples().all()) if due_reqs else {}
    # a step led by an office (牵头股室): the office hears of its late units with the escalation (督办)
    people = people_store.directory(conn, ctx.id) if due_reqs else Directory()
    leads = people_store.requirement_leads(conn, people, overrides)
    planned = 0
    for req_id, due_at in due_reqs:
        override = overrides[req_id]
        policy = ctx.policy_for(override)
        slot = latest_slot(due_at, policy, ctx.calendar, ctx.tz, at)
        escalation = escalation_slot(due_at, policy, ctx.calendar, ctx.tz)
        escalation = escalation if escalation and escalation.at <= at else None
        following = next_slot(due_at, policy, ctx.calendar, ctx.tz, at)
        obs = conn.execute(
            select(obligations.c.id, units.c.key, units.c.contacts, units.c.parent_key)
            .join(units, units.c.id == obligations.c.unit_id)
            .where(obligations.c.requirement_id == req_id, obligations.c.due_at == due_at,
                   obligations.c.next_remind_at <= at, obligations.c.state.in_(OPEN))).all()
        rows: list[dict[str, Any]] = []
        for ob in obs:
            if slot:
                rows += [_row(ctx, ob.id, slot, ob.key, ch) for ch in route(ob.key, ob.contacts)]
        if escalation and obs:
            targets = {ob.id: _escalation_target(ctx, policy.escalate_to, ob.key, ob.parent_key) for ob in obs}
            contacts = dict(conn.execute(select(units.c.key, units.c.contacts).where(
                units.c.campaign_id == ctx.id, units.c.key.in_(set(targets.values()) - {None}))).tuples().all())
            for oid, target in targets.items():
                if target is not None and target in contacts:
                    rows += [_row(ctx, oid, escalation, target, ch) for ch in route(target, contacts[target])]
            for ob in obs if req_id in leads else ():
                rows += _people_rows(ctx, people, ob.id, escalation, leads[req_id], route)
        if slot and obs:
            # a reminder still waiting (held outside the window, or failed) gives way to this newer one:
            # one obligation is one item in a message
            conn.execute(update(outbox).where(
                outbox.c.obligation_id.in_(select(obligations.c.id).where(obligations.c.requirement_id == req_id,
                                                                          obligations.c.due_at == due_at)),
                outbox.c.kind != "escalation", outbox.c.state.in_(("planned", "failed")), outbox.c.slot_day < slot.day)
                .values(state="cancelled", next_attempt_at=None,
                        last_error="由后一次提醒取代 (superseded by a later reminder)"))
        if rows:
            # executemany with RETURNING (batched by SQLAlchemy): counts only the rows not planned before
            planned += len(conn.execute(_insert(conn).on_conflict_do_nothing().returning(outbox.c.id), rows).all())
        conn.execute(update(obligations).where(
            obligations.c.requirement_id == req_id, obligations.c.due_at == due_at, obligations.c.next_remind_at <= at)
            .values(next_remind_at=following.at if following else None))
    return planned


def _people_rows(ctx: Any, people: Directory, obligation_id: int | None, slot: ReminderSlot, recipients: list[str],
                 route: Route, item_id: int | None = None) -> list[dict[str, Any]]:
    """A slot's rows to people and offices (a lead office, a responsible leader, the leading group's office),
    one per channel each is routed to by their contacts, as a unit's."""
    rows: list[dict[str, Any]] = []
    for recipient in dict.fromkeys(recipients):
        found = people.recipient(recipient)
        if found is not None:
            rows += [_row(ctx, obligation_id, slot, recipient, ch, item_id) for ch in route(recipient, found[1])]
    return rows


def _row(ctx: Any, obligation_id: int | None, slot: ReminderSlot, recipient: str, channel: str,
         item_id: int | None = None) -> dict[str, Any]:
    return {"campaign_id": ctx.id, "obligation_id": obligation_id, "ledger_item_id": item_id, "kind": slot.kind,
            "slot_day": slot.day, "planned_for": slot.at, "state": "planned", "recipient": recipient,
            "channel": channel, "attempts": 0}


# --- ledger items: an item's deadline is an obligation like any other ---

def _item_owed() -> Any:
    """A current item the unit still owes work on, with a deadline: reminded, and overdue once past it."""
    return and_(ledger_items.c.current.is_(True), ledger_item_owed())


def plan_item_reminders(conn: Connection, ctx: Any, at: dt.datetime, route: Route = only_file) -> int:
    """Plan the reminders of ledger items' deadlines that fell due by `at`; returns how many rows were planned.

    As for obligations (`plan_reminders`), under the campaign's reminder policy: per distinct due
    instant the slot is computed once; only the latest slot is planned after downtime; the escalation
    goes to the unit's parent (or as `escalate_to` says); `next_remind_at` moves to the next slot.
    Items no longer owed (rectified, closed, long-term, replaced) just lose their `next_remind_at`.
    """
    i = ledger_items.c
    waiting = and_(i.campaign_id == ctx.id, i.next_remind_at <= at)
    conn.execute(update(ledger_items).where(waiting, not_(_item_owed())).values(next_remind_at=None))
    dues = conn.execute(select(i.due_at).where(waiting, _item_owed()).distinct()).scalars().all()
    policy = ctx.policy
    # the item's 牵头股室 is reminded with its unit; its 责任领导 (and, if the spec says so, the leading
    # group's office) hear of it when it is escalated (督办): names that resolve to nobody stay free text
    people = people_store.directory(conn, ctx.id) if dues else Directory()
    planned = 0
    for due_at in dues:
        slot = latest_slot(due_at, policy, ctx.calendar, ctx.tz, at)
        escalation = escalation_slot(due_at, policy, ctx.calendar, ctx.tz)
        escalation = escalation if escalation and escalation.at <= at else None
        following = next_slot(due_at, policy, ctx.calendar, ctx.tz, at)
        group = and_(waiting, _item_owed(), i.due_at == due_at)
        items = conn.execute(select(i.id, i.leader, i.office, units.c.key, units.c.contacts, units.c.parent_key,
                                    people_store.organizers_item(ctx.organizer).label("organizers"))
                             .join(units, units.c.id == i.unit_id).where(group)).all()
        named = {it.id: people.item_recipients(it.leader, it.office, bool(it.organizers)) for it in items} if people else {}
        rows: list[dict[str, Any]] = []
        if slot:
            for it in items:
                rows += [_row(ctx, None, slot, it.key, ch, it.id) for ch in route(it.key, it.contacts)]
                if it.id in named:
                    rows += _people_rows(ctx, people, None, slot, named[it.id][0], route, it.id)
        if escalation and items:
            targets = {it.id: _escalation_target(ctx, policy.escalate_to, it.key, it.parent_key) for it in items}
            contacts = dict(conn.execute(select(units.c.key, units.c.contacts).where(
                units.c.campaign_id == ctx.id, units.c.key.in_(set(targets.values()) - {None}))).tuples().all())
            for item_id, target in targets.items():
                if target is not None and target in contacts:
                    rows += [_row(ctx, None, escalation, target, ch, item_id) for ch in route(target, contacts[target])]
            group_office = people.group_recipient() if people.escalations_to_group() else None
            for item_id, (offices, leaders) in named.items():
                # the group's office with the people an item names; an item naming nobody listed: as before
                told = leaders + ([group_office] if group_office and (offices or leaders) else [])
                rows += _people_rows(ctx, people, None, escalation, told, route, item_id)
        if slot and items:
            # a reminder still waiting gives way to this newer one: one item is one line in a message
            conn.execute(update(outbox).where(
                outbox.c.ledger_item_id.in_([it.id for it in items]), outbox.c.kind != "escalation",
                outbox.c.state.in_(("planned", "failed")), outbox.c.slot_day < slot.day)
                .values(state="cancelled", next_attempt_at=None,
                        last_error="由后一次提醒取代 (superseded by a later reminder)"))
        if rows:
            planned += len(conn.execute(_insert(conn).on_conflict_do_nothing().returning(outbox.c.id), rows).all())
        conn.execute(update(ledger_items).where(group).values(next_remind_at=following.at if following else None))
    return planned


def mark_items_overdue(conn: Connection, ctx: Any, act: Any) -> int:
    """Items the unit still owes work on, past their deadline, get their overdue mark (once); one audit event.

    Long-term items (长期坚持) are never overdue; rectified items wait on the supervisor, not the unit.
    """
    i = ledger_items.c
    marked = conn.execute(update(ledger_items).where(
        i.campaign_id == ctx.id, i.current.is_(True), ledger_item_overdue(act.at), i.overdue_at.is_(None))
        .values(overdue_at=i.due_at).returning(i.id)).scalars().all()
    if marked:
        audit.append(conn, act, "ledger.overdue", ctx.key, f"campaign:{ctx.key}", None,
                     {"count": len(marked), "items": sorted(marked)[:200]})
    return len(marked)


def _escalation_target(ctx: Any, escalate_to: str, unit: str, parent: str | None) -> str | None:
    """Who hears of a unit that stays overdue (督办): its parent, the organizer, or a named unit."""
    organizer: str | None = ctx.organizer
    if escalate_to == "parent":
        return parent or organizer
    if escalate_to == "organizer":
        return organizer
    return escalate_to


def cancel_for_closed(conn: Connection, campaign_id: int, obligation_id: int | None = None,
                      item_id: int | None = None) -> int:
    """Planned reminders of obligations filed or waived since, or of ledger items no longer owed
    (rectified, closed, long-term, replaced by a newer issue list): cancelled, never sent."""
    params = {"cancel_campaign": campaign_id}
    if obligation_id is not None:
        params["cancel_obligation"] = obligation_id
    if item_id is not None:
        params["cancel_item"] = item_id
    return conn.execute(_cancel_statement(obligation_id is not None, item_id is not None), params).rowcount


@cache
def _cancel_statement(by_obligation: bool, by_item: bool) -> Any:
    """cancel_for_closed's UPDATE, built once per shape: building it anew (and its cache key) took several
    times longer than running it, on every filing and review. The ids come as bound parameters."""
    closed = select(obligations.c.id).where(obligations.c.id == outbox.c.obligation_id,
                                            obligations.c.state.not_in(OPEN)).exists()
    item_done = select(ledger_items.c.id).where(ledger_items.c.id == outbox.c.ledger_item_id,
                                                not_(_item_owed())).exists()
    stmt = update(outbox).where(outbox.c.campaign_id == bindparam("cancel_campaign"),
                                outbox.c.state.in_(("planned", "failed")), or_(closed, item_done))
    if by_obligation:
        stmt = stmt.where(outbox.c.obligation_id == bindparam("cancel_obligation"))
    if by_item:
        stmt = stmt.where(outbox.c.ledger_item_id == bindparam("cancel_item"))
    return stmt.values(state="cancelled", next_attempt_at=None)


def _subject_columns() -> list[Any]:
    """What an outbox row reminds of, for an obligation's row and a ledger item's alike (both LEFT JOINed)."""
    return [
        func.coalesce(obligations.c.artifact, literal("ledger:") + cast(ledger_items.c.id, String)).label("artifact"),
        func.coalesce(obligations.c.due_at, ledger_items.c.due_at, type_=UTCDateTime).label("due_at"),
        ledger_items.c.id.label("item_id"), ledger_items.c.problem,
    ]


def _subject_joins(q: Any) -> Any:
    return (q.outerjoin(obligations, obligations.c.id == outbox.c.obligation_id)
            .outerjoin(ledger_items, ledger_items.c.id == outbox.c.ledger_item_id)
            .join(units, units.c.id == func.coalesce(obligations.c.unit_id, ledger_items.c.unit_id)))


def _rejection_comment() -> Any:
    """The reviewer's comment on a returned filing, while the obligation stays returned: its reminders quote it."""
    return (select(reviews.c.comment)
            .where(reviews.c.obligation_id == obligations.c.id, reviews.c.decision == "rejected",
                   obligations.c.state == "rejected")
            .order_by(reviews.c.at.desc(), reviews.c.id.desc()).limit(1).scalar_subquery())


def due_rows(conn: Connection, campaign_id: int, at: dt.datetime) -> list[Any]:
    """Reminders to send now (planned and come, or failed and due for a retry), ordered by recipient."""
    recipient = units.alias("recipient_unit")
    subject = _subject_columns()
    q = _subject_joins(
        select(outbox.c.id, outbox.c.kind, outbox.c.recipient, outbox.c.channel, outbox.c.attempts,
               outbox.c.planned_for, recipient.c.name.label("recipient_name"), recipient.c.contacts,
               units.c.key.label("unit"), units.c.name.label("unit_name"), *subject,
               func.coalesce(obligations.c.state, ledger_items.c.state).label("state"),
               func.coalesce(requirements.c.step_title, literal(ITEM_STEP)).label("step_title"),
               _rejection_comment().label("review_comment"))
        .select_from(outbox))
    return list(conn.execute(
        # a person or office recipient (office:…, leader:…) is no unit: its name and contacts come from the
        # campaign's people (notifications.dispatch)
        q.outerjoin(recipient, (recipient.c.campaign_id == outbox.c.campaign_id) & (recipient.c.key == outbox.c.recipient))
        .outerjoin(requirements, requirements.c.id == obligations.c.requirement_id)
        .where(outbox.c.campaign_id == campaign_id,
               ((outbox.c.state == "planned") & (outbox.c.planned_for <= at))
               | ((outbox.c.state == "failed") & (outbox.c.next_attempt_at <= at)))
        .order_by(outbox.c.recipient, outbox.c.channel, subject[1], outbox.c.id)).all())


def mark_sent(conn: Connection, ids: list[int], at: dt.datetime, message_id: str) -> None:
    conn.execute(_MARK_SENT, {"mark_ids": ids, "mark_at": at, "mark_message_id": message_id})


# built once (one per message sent): the ids as an expanding parameter
_MARK_SENT = (update(outbox).where(outbox.c.id.in_(bindparam("mark_ids", expanding=True)),
                                   outbox.c.state.in_(("planned", "failed")))
              .values(state="sent", sent_at=bindparam("mark_at", type_=UTCDateTime), attempts=outbox.c.attempts + 1,
                      message_id=bindparam("mark_message_id"), next_attempt_at=None))


def mark_failed(conn: Connection, ids: list[int], at: dt.datetime, error: str, retryable: bool,
                attempts: int, max_attempts: int, backoff: dt.timedelta) -> str:
    """Record a failed delivery: retried later with back-off, or dead after the last attempt; returns the state."""
    dead = not retryable or attempts + 1 >= max_attempts
    state = "dead" if dead else "failed"
    conn.execute(update(outbox).where(outbox.c.id.in_(ids)).values(
        state=state, attempts=outbox.c.attempts + 1, last_error=error[:500],
        next_attempt_at=None if dead else at + backoff * (2 ** attempts)))
    return state


def listing(conn: Connection, campaign_id: int, state: str | None = None, unit: str | None = None) -> list[Any]:
    """The outbox, one row per reminder of one obligation (or ledger item) and channel; `unit` is the
    obligation's (or item's) unit; an item's row has `artifact` "ledger:<id>" and its `item_id`."""
    q = (_subject_joins(select(outbox, *_subject_columns(), units.c.key.label("unit")).select_from(outbox))
         .where(outbox.c.campaign_id == campaign_id).order_by(outbox.c.planned_for, outbox.c.id))
    if state:
        q = q.where(outbox.c.state == state)
    if unit:
        q = q.where(units.c.key == unit)
    return list(conn.execute(q).all())


def delivered_by_channel(conn: Connection, campaign_id: int, phase_keys: list[str] | None = None,
                         until: dt.datetime | None = None) -> dict[str, int]:
    """Reminders of obligations delivered (state sent) by `until`, counted by channel name, for the phases
    given (default all): a report tells those that left the machine from those written to the outbox file."""
    from .tables import phases

    q = (select(outbox.c.channel, func.count()).join(obligations, obligations.c.id == outbox.c.obligation_id)
         .where(outbox.c.campaign_id == campaign_id, outbox.c.state == "sent"))
    if phase_keys is not None:
        q = q.join(phases, phases.c.id == obligations.c.phase_id).where(phases.c.key.in_(phase_keys))
    if until is not None:
        q = q.where(outbox.c.sent_at <= until)
    return {channel: n for channel, n in conn.execute(q.group_by(outbox.c.channel)).all()}


def counts(conn: Connection, campaign_id: int) -> dict[str, int]:
    rows = conn.execute(select(outbox.c.state, func.count()).where(outbox.c.campaign_id == campaign_id)
                        .group_by(outbox.c.state)).all()
    return {state: n for state, n in rows}





# --- "remind now": an organizer's reminder for chosen obligations, outside the policy's slots ---

def remind_now(conn: Connection, ctx: Any, obligation_ids: list[int], act: Any, route: Route = only_file) -> dict[str, Any]:
    """Plan a `manual` reminder for each chosen open obligation, at `act.at`; sent by the next send (a tick).

    The unique key (obligation, kind, local day, channel) keeps it to one per obligation per day, however
    often the button is pressed. Obligations already done, of a phase not yet started (nothing is reminded
    before its phase opens: `not_started`) or not of this campaign are reported, not planned.
    """
    from .predicates import phase_started

    day = act.at.astimezone(ctx.tz).date()
    obs = conn.execute(
        select(obligations.c.id, obligations.c.state, units.c.key, units.c.contacts,
               phase_started(act.at).label("started"))
        .join(units, units.c.id == obligations.c.unit_id)
        .where(obligations.c.campaign_id == ctx.id, obligations.c.id.in_(obligation_ids))).all()
    found = {ob.id for ob in obs}
    open_obs = [ob for ob in obs if ob.state in OPEN and ob.started]
    slot = ReminderSlot(kind="manual", day=day, at=act.at)
    rows = [_row(ctx, ob.id, slot, ob.key, ch) for ob in open_obs for ch in route(ob.key, ob.contacts)]
    planned = len(conn.execute(_insert(conn).on_conflict_do_nothing().returning(outbox.c.id), rows).all()) if rows else 0
    if planned:
        audit.append(conn, act, "reminders.manual", ctx.key, "obligations:" + ",".join(map(str, sorted(ob.id for ob in open_obs))),
                     None, {"planned": planned, "units": sorted({ob.key for ob in open_obs})})
    return {"planned": planned, "obligations": sorted(ob.id for ob in open_obs),
            "not_open": sorted(ob.id for ob in obs if ob.state not in OPEN),
            "not_started": sorted(ob.id for ob in obs if ob.state in OPEN and not ob.started),
            "unknown": sorted(set(obligation_ids) - found)}


def listing_docs(conn: Connection, ctx: Any, state: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
    """The outbox as `campaign reminders --json` and the API show it; a ledger item's deadline has
    unit = the item's unit, artifact = "ledger:<item id>", and "item"."""

    def iso(v: dt.datetime | None) -> str | None:
        return v.astimezone(ctx.tz).isoformat() if v else None

    unit = resolve_unit(conn, ctx, unit) if unit else unit
    return [{"id": r.id, "unit": r.unit, "artifact": r.artifact, **({"item": r.item_id} if r.item_id is not None else {}),
             "kind": r.kind, "due": iso(r.due_at), "planned_for": iso(r.planned_for), "state": r.state,
             "sent_at": iso(r.sent_at), "recipient": r.recipient, "channel": r.channel, "attempts": r.attempts,
             "message": r.message_id, "error": r.last_error, "next_attempt_at": iso(r.next_attempt_at)}
            for r in listing(conn, ctx.id, state, unit)]


# --- the reminders page: the outbox a page at a time, and "send again" for a dead reminder ---

STATES = ("planned", "sent", "failed", "dead", "cancelled")


def _unit_filter(q: Any, unit: str | None) -> Any:
    return q.where(units.c.key == unit) if unit else q


def page(conn: Connection, campaign_id: int, *, state: str | None = None, unit: str | None = None,
         limit: int = 50, offset: int = 0) -> tuple[list[Any], int]:
    """One page of the outbox, newest first, and how many rows match in all: each row with its recipient's
    name and what it reminds of (the obligation's unit and artifact, or the ledger item and its problem)."""
    recipient = units.alias("recipient_unit")
    q = _unit_filter(_subject_joins(
        select(outbox.c.id, outbox.c.kind, outbox.c.state, outbox.c.recipient, outbox.c.channel,
               outbox.c.planned_for, outbox.c.sent_at, outbox.c.attempts, outbox.c.next_attempt_at,
               outbox.c.last_error, outbox.c.message_id, units.c.key.label("unit"), units.c.name.label("unit_name"),
               recipient.c.name.label("recipient_name"), *_subject_columns())
        .select_from(outbox)), unit)
    q = (q.outerjoin(recipient, (recipient.c.campaign_id == outbox.c.campaign_id) & (recipient.c.key == outbox.c.recipient))
         .where(outbox.c.campaign_id == campaign_id))
    if state:
        q = q.where(outbox.c.state == state)
    total = conn.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = conn.execute(q.order_by(outbox.c.planned_for.desc(), outbox.c.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def state_counts(conn: Connection, campaign_id: int, unit: str | None = None) -> dict[str, int]:
    """How many reminders are in each state, of every unit or of one (the unit the reminder is about)."""
    q = _unit_filter(_subject_joins(select(outbox.c.state, func.count()).select_from(outbox)), unit)
    rows = conn.execute(q.where(outbox.c.campaign_id == campaign_id).group_by(outbox.c.state)).all()
    return {state: int(n) for state, n in rows}


def resend(conn: Connection, ctx: Any, outbox_id: int, act: Any) -> dict[str, Any]:
    """Put a dead reminder back to be sent: planned for `act.at`, its attempts counted afresh; audited.

    The same row is sent again (its unique slot key stays), not a copy. Only a dead one: a reminder
    planned, failing (it will be retried anyway), sent or cancelled is refused, and so is one whose
    obligation was filed or waived since, or whose ledger item is no longer owed (nothing to remind of).
    """
    from campaign_model.errors import ConflictError, NotFound

    row = conn.execute(_subject_joins(
        select(outbox.c.id, outbox.c.state, outbox.c.attempts, outbox.c.last_error, outbox.c.kind,
               outbox.c.recipient, outbox.c.channel, outbox.c.obligation_id, outbox.c.ledger_item_id,
               units.c.key.label("unit"), obligations.c.state.label("obligation_state"),
               and_(ledger_items.c.id.is_not(None), _item_owed()).label("item_owed"))
        .select_from(outbox)).where(outbox.c.id == outbox_id, outbox.c.campaign_id == ctx.id)).first()
    if row is None:
        raise NotFound(f"活动 {ctx.key} 没有编号为 {outbox_id} 的催办 (no reminder {outbox_id} in {ctx.key})",
                       field="outbox_id")
    if row.state != "dead":
        raise ConflictError(f"催办 {outbox_id} 的状态是 {row.state}，只有已放弃 (dead) 的催办才能重新发送 "
                            f"(reminder {outbox_id} is {row.state}: only a dead one can be sent again)", field="outbox_id")
    still_owed = row.obligation_state in OPEN if row.obligation_id is not None else bool(row.item_owed)
    if not still_owed:
        raise ConflictError(f"催办 {outbox_id} 所催的事项已办结，无需再发 "
                            f"(what reminder {outbox_id} is about is done: nothing to remind of)", field="outbox_id")
    changed = conn.execute(update(outbox).where(outbox.c.id == outbox_id, outbox.c.state == "dead")
                           .values(state="planned", planned_for=act.at, attempts=0, next_attempt_at=None,
                                   last_error=None, sent_at=None).returning(outbox.c.id)).first()
    if changed is None:  # sent again by someone else between the read and the write
        raise ConflictError(f"催办 {outbox_id} 刚被他人重新发送 (reminder {outbox_id} was just sent again by someone else)",
                            field="outbox_id")
    before = {"state": row.state, "attempts": row.attempts, "last_error": row.last_error}
    after = {"state": "planned", "planned_for": act.at.isoformat(), "attempts": 0, "kind": row.kind,
             "recipient": row.recipient, "channel": row.channel, "unit": row.unit}
    audit.append(conn, act, "reminders.resent", ctx.key, f"outbox:{outbox_id}", before, after)
    return {"id": outbox_id, "state": "planned", "recipient": row.recipient, "channel": row.channel, "unit": row.unit}
