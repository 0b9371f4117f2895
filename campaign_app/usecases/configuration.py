"""The installation's own settings as a user may see them: the delivery channels, secrets masked."""

from __future__ import annotations

from typing import Any

from .services import Services


def channels(svc: Services) -> dict[str, Any]:
    """The channels file in use and its channels (passwords, tokens and secret URL parts as ***)."""
    from notifications.setup import channel_configs

    delivery = svc.settings.delivery
    return {"file": delivery.channels_file, "channels": [c.safe_dict() for c in channel_configs(delivery)]}
