"""The installation's own settings as a user may see them: the delivery channels, secrets masked, and a
test message through one of them to learn whether it works."""

from __future__ import annotations

import re
import uuid
from typing import Any

from campaign_model.store.audit import Act

from .services import Services

# one plain address: no display name, list or header injection (the form's "to" field of an email channel)
_ADDRESS = re.compile(r"[^@\s,;<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def channels(svc: Services) -> dict[str, Any]:
    """The channels file in use and its channels (passwords, tokens and secret URL parts as ***)."""
    from notifications.setup import channel_configs

    delivery = svc.settings.delivery
    return {"file": delivery.channels_file, "channels": [c.safe_dict() for c in channel_configs(delivery)]}


def send_test_message(svc: Services, act: Act, name: str, *, to: str | None = None,
                 campaign: str | None = None) -> dict[str, Any]:
    """Send a test message through the configured channel `name` now and say whether it arrived; audited.

    An email channel needs the address `to` send it to; a robot or webhook posts to its group or endpoint.
    The result's `error` is the channel's own words (which never repeat its secrets)."""
    from campaign_model.errors import InvalidInput, NotFound
    from campaign_model.store import audit
    from notifications.channels.base import DeliveryError, Message
    from notifications.setup import channel_configs

    configs = {c.name: c for c in channel_configs(svc.settings.delivery)}
    config = configs.get(name)
    if config is None:
        raise NotFound(f"channel: 没有名为 '{name}' 的渠道 (no channel named '{name}')", field="channel")
    to = (to or "").strip()
    if config.type == "email" and not _ADDRESS.fullmatch(to):
        raise InvalidInput("to: 请填写一个收件邮箱地址，如 office@example.cn (give one email address to send the test to)",
                           field="to")
    at = act.at.isoformat()
    text = (f"这是一条测试消息，用于确认催办渠道“{name}”可以送达。无需回复。\n"
            f"This is a test message: the reminder channel '{name}' works. No reply is needed.\n{at}")
    message = Message(message_id=f"test-{uuid.uuid4().hex[:16]}", campaign=campaign or "", recipient="channel-test",
                      recipient_name="渠道测试 (channel test)", emails=[to] if config.type == "email" else [],
                      phones=[], subject=f"【测试】催办渠道测试消息 (test message: channel {name})",
                      text=text, markdown=text.replace("\n", "\n\n"), at_iso=at)
    ok, error = True, None
    channel = config.build()
    try:
        channel.send(message)
    except DeliveryError as exc:
        ok, error = False, str(exc)
    except Exception as exc:  # noqa: BLE001 - a library's own error may quote a secret: its kind only
        ok, error = False, f"发送失败 (sending failed: {type(exc).__name__})"
    finally:
        channel.close()
    with svc.write() as conn:
        audit.append(conn, act, "channel.tested", campaign, f"channel:{name}", None,
                     {"kind": config.type, "ok": ok, "error": error, **({"to": to} if to else {})})
    return {"channel": name, "kind": config.type, "ok": ok, "error": error, "to": to or None}
