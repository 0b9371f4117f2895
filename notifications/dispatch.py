"""Send what the outbox holds for now: one message per recipient and channel, each recorded on its own.

A crash between a send and its record repeats at most that one message; nothing planned is lost.
A failed delivery is retried with back-off, and is dead (visible, never silently dropped) after the
last attempt. Messages go out only inside the campaign's send window on working days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from campaign_model.reminders import in_send_window
from campaign_model.store import audit, outbox
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx

from .channels.base import Channel, DeliveryError
from .render import group_rows, render

Route = Callable[[str, list[dict[str, Any]]], list[str]]


@dataclass
class Delivery:
    """The channels by name, how a recipient is routed to them, and the retry policy."""

    channels: dict[str, Channel]
    route: Route
    max_attempts: int = 5
    backoff: dt.timedelta = dt.timedelta(minutes=5)
    base_url: str | None = None


@dataclass
class SendResult:
    sent: int = 0  # reminders (outbox rows) delivered
    messages: int = 0
    failed: int = 0
    dead: int = 0
    held: bool = False  # outside the send window: nothing sent, all kept for the next window
    errors: list[str] = field(default_factory=list)


def send_due(engine: Engine, campaign: str, act: Act, delivery: Delivery) -> SendResult:
    result = SendResult()
    with engine.begin() as conn:
        ctx = load_ctx(conn, campaign)
        if not in_send_window(act.at, ctx.policy, ctx.calendar, ctx.tz):
            result.held = True  # outside the window nothing is read: what is due waits for the next window
            return result
        outbox.cancel_for_closed(conn, ctx.id)
        rows = outbox.due_rows(conn, ctx.id, act.at)
    if not rows:
        return result
    titles = {k: v["title"] for k, v in ctx.artifacts.items()}
    for (recipient, channel_name), group in group_rows(rows):
        message = render(campaign, ctx.title, recipient, group[0].recipient_name, group[0].contacts, group, act.at, ctx.tz,
                         titles=titles, messages=ctx.messages, base_url=delivery.base_url, salt=channel_name)
        ids = [r.id for r in group]
        channel = delivery.channels.get(channel_name)
        try:
            if channel is None:
                raise DeliveryError(f"渠道 '{channel_name}' 未配置 (channel '{channel_name}' is not configured)")
            channel.send(message)
        except DeliveryError as exc:
            with engine.begin() as conn:
                state = outbox.mark_failed(conn, ids, act.at, str(exc), exc.retryable, min(r.attempts for r in group),
                                           delivery.max_attempts, delivery.backoff)
            result.dead += len(ids) if state == "dead" else 0
            result.failed += len(ids) if state == "failed" else 0
            result.errors.append(f"{recipient}/{channel_name}: {exc}")
            continue
        with engine.begin() as conn:
            outbox.mark_sent(conn, ids, act.at, message.message_id)
        result.sent += len(ids)
        result.messages += 1
    with engine.begin() as conn:
        audit.append(conn, act, "reminders.sent", campaign, f"campaign:{campaign}", None,
                     {"reminders": result.sent, "messages": result.messages, "failed": result.failed,
                      "dead": result.dead, "errors": result.errors[:20]})
    return result
