"""Send the weekly notice (通报) of laggards to the organizer's administrators, once a week per channel."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, select

from campaign_model.reminders import in_send_window
from campaign_model.store import audit
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.notice_query import overdue_by_parent
from campaign_model.store.notices import due_notices, mark_notice, plan_notice
from campaign_model.store.tables import units

from .channels.base import DeliveryError, Message
from .dispatch import Delivery
from .notice import notice_message


def send_weekly_notice(engine: Engine, campaign: str, act: Act, delivery: Delivery) -> int:
    """Returns how many notices were delivered."""
    with engine.begin() as conn:
        ctx = load_ctx(conn, campaign)
        plan_notice(conn, ctx, act.at, delivery.route)
        rows = due_notices(conn, ctx.id, act.at)
        if not rows or not in_send_window(act.at, ctx.policy, ctx.calendar, ctx.tz):
            return 0
        data = overdue_by_parent(conn, campaign, act.at)
        head = audit.head(conn)  # printed on the notice: an anchor of the chain held by its readers
        organizer = conn.execute(select(units.c.name, units.c.contacts).where(
            units.c.campaign_id == ctx.id, units.c.key == ctx.organizer)).one()
    subject, text, markdown = notice_message(data, ctx.messages.get("language", "zh"), head)  # the campaign's language only
    sent = 0
    for row in rows:
        message_id = hashlib.sha256(f"{campaign}|notice|{row.week}|{row.channel}".encode()).hexdigest()[:24]
        message = Message(message_id, campaign, ctx.organizer or "", organizer.name,
                          [c["email"] for c in organizer.contacts if c.get("email")],
                          [str(c["phone"]) for c in organizer.contacts if c.get("phone")],
                          subject, text, markdown, None, act.at.astimezone(ctx.tz).isoformat(),
                          [{"unit": i.unit_key, "artifact": i.artifact, "days_overdue": i.days_overdue} for i in data.items])
        channel = delivery.channels.get(row.channel)
        try:
            if channel is None:
                raise DeliveryError(f"渠道 '{row.channel}' 未配置 (channel '{row.channel}' is not configured)")
            channel.send(message)
        except DeliveryError as exc:
            with engine.begin() as conn:
                mark_notice(conn, row.id, act.at, error=str(exc), retryable=exc.retryable,
                            max_attempts=delivery.max_attempts, backoff=delivery.backoff)
            continue
        with engine.begin() as conn:
            mark_notice(conn, row.id, act.at, message_id=message_id)
            audit.append(conn, act, "notice.sent", campaign, f"notice:{row.week}", None,
                         {"channel": row.channel, "units_overdue": data.units_overdue, "items_overdue": data.items_overdue})
        sent += 1
    return sent
