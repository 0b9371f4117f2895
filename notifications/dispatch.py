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

from campaign_model.people import Directory, is_person
from campaign_model.reminders import in_send_window
from campaign_model.store import audit, outbox
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.people import directory
from campaign_model.store.unit_lookup import unit_rows

from .channels.base import Channel, DeliveryError
from .render import artifact_titles, group_rows, render

Route = Callable[[str, list[dict[str, Any]]], list[str]]


@dataclass
class Delivery:
    """The channels by name, how a recipient is routed to them, and the retry policy."""

    channels: dict[str, Channel]
    route: Route
    max_attempts: int = 5
    backoff: dt.timedelta = dt.timedelta(minutes=5)
    base_url: str | None = None


FILE_KIND = "file"  # the JSON-lines outbox file: written on this machine, sent to nobody
# a channel's kind as the campaign's documents and the CLI name it
CHANNEL_LABEL = {
    "zh": {"email": "邮件", "dingtalk": "钉钉", "wecom": "企业微信", "feishu": "飞书", "webhook": "接口推送",
           "http": "接口推送", "file": "发件箱文件"},
    "en": {"email": "email", "dingtalk": "DingTalk", "wecom": "WeCom", "feishu": "Feishu", "webhook": "webhook",
           "http": "webhook", "file": "outbox file"},
}


@dataclass
class SendResult:
    """What one send did, per channel: a reminder written to the outbox file has not left the machine."""

    delivered: dict[str, int] = field(default_factory=dict)  # reminders (outbox rows) by channel name
    kinds: dict[str, str] = field(default_factory=dict)  # channel name -> kind (email, dingtalk, ..., file)
    messages: int = 0
    failed: int = 0
    dead: int = 0
    held: bool = False  # outside the send window: nothing sent, all kept for the next window
    errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Reminders handed to a real channel (email, a robot, a webhook)."""
        return sum(n for name, n in self.delivered.items() if self.kinds.get(name) != FILE_KIND)

    @property
    def written(self) -> int:
        """Reminders only written to the outbox file (no channel took their recipient)."""
        return sum(n for name, n in self.delivered.items() if self.kinds.get(name) == FILE_KIND)

    def channels(self) -> dict[str, dict[str, Any]]:
        return {name: {"kind": self.kinds.get(name, ""), "reminders": n} for name, n in sorted(self.delivered.items())}


def send_due(engine: Engine, campaign: str, act: Act, delivery: Delivery) -> SendResult:
    result = SendResult()
    with engine.begin() as conn:
        ctx = load_ctx(conn, campaign)
        if not in_send_window(act.at, ctx.policy, ctx.calendar, ctx.tz):
            result.held = True  # outside the window nothing is read: what is due waits for the next window
            return result
        outbox.cancel_for_closed(conn, ctx.id)
        rows = outbox.due_rows(conn, ctx.id, act.at)
        # without an address to link to, the message names whom to ask: read only then (one query a send)
        organizer = None if delivery.base_url or not rows else next(
            (u.name for u in unit_rows(conn, ctx) if u.key == ctx.organizer), None)
        # a lead office, a responsible leader, the leading group's office: named from the campaign's people
        people = directory(conn, ctx.id) if any(is_person(r.recipient) for r in rows) else Directory()
    if not rows:
        return result
    lang = ctx.messages.get("language", "zh")
    titles = artifact_titles(ctx.artifacts, lang)
    for (recipient, channel_name), group in group_rows(rows):
        name, contacts = group[0].recipient_name, group[0].contacts
        person = is_person(recipient)
        if person:
            name, contacts = people.recipient(recipient, lang) or (recipient, [])
        message = render(campaign, ctx.title, recipient, name, contacts or [], group, act.at, ctx.tz,
                         titles=titles, messages=ctx.messages, base_url=delivery.base_url, salt=channel_name,
                         organizer_name=organizer, person=person)
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
        result.delivered[channel_name] = result.delivered.get(channel_name, 0) + len(ids)
        result.kinds[channel_name] = channel.kind
        result.messages += 1
    with engine.begin() as conn:
        # "sent" counts what left the machine; "written" what only reached the outbox file
        audit.append(conn, act, "reminders.sent", campaign, f"campaign:{campaign}", None,
                     {"sent": result.sent, "written_to_file": result.written, "channels": result.channels(),
                      "messages": result.messages, "failed": result.failed, "dead": result.dead,
                      "errors": result.errors[:20]})
    return result
