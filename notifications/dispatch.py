"""Send what the outbox holds for now: one digest per recipient, each recorded as sent on its own.

A crash between a send and its record repeats at most that one message; nothing planned is lost.
"""

from __future__ import annotations



from sqlalchemy import Engine

from campaign_model.store import audit, outbox
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import load_ctx

from .channels import Channel
from .messages import build_digests


def send_due(engine: Engine, campaign: str, act: Act, channel: Channel) -> tuple[int, int]:
    """Returns (reminders sent, messages sent)."""
    with engine.begin() as conn:
        ctx = load_ctx(conn, campaign)
        outbox.cancel_for_closed(conn, ctx.id)
        rows = outbox.due_rows(conn, ctx.id, act.at)
    digests = build_digests(campaign, ctx.title, rows, act.at, ctx.tz,
                            {k: v["title"] for k, v in ctx.artifacts.items()})
    sent = 0
    for digest in digests:
        channel.send(digest, act.at.astimezone(ctx.tz).isoformat())
        with engine.begin() as conn:
            outbox.mark_sent(conn, digest.outbox_ids, act.at, digest.message_id)
        sent += len(digest.outbox_ids)
    if digests:
        with engine.begin() as conn:
            audit.append(conn, act, "reminders.sent", campaign, f"campaign:{campaign}", None,
                         {"reminders": sent, "messages": len(digests), "channel": channel.name,
                          "recipients": [d.recipient for d in digests]})
    return sent, len(digests)



