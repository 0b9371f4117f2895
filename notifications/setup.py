"""Build the delivery (channels, routing, retry policy) from settings: the channels file and the retry
policy of `DeliveryConfig`, never the campaign spec. Secrets stay in the environment or that file."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .channels.file import JsonLinesChannel
from .dispatch import Delivery
from .routing import RouteEntry, Router
from .settings import DeliveryConfig, delivery_from_environment

if TYPE_CHECKING:
    from .config import ChannelConfig


def _entries(configs: list[Any]) -> list[RouteEntry]:
    entries = []
    for c in configs:
        units = getattr(c, "units", None)
        entries.append(RouteEntry(c.name, c.type, "all" if units in (None, "all") else tuple(units)))
    return entries


def channel_configs(config: DeliveryConfig) -> list[ChannelConfig]:
    """The channels of the settings' channels file (none without one); `${VAR}` secrets from the environment."""
    from .config import load_channels

    if config.channels_file is None:
        return []
    return load_channels(Path(config.channels_file), os.environ)


def delivery_for(outbox_file: Path, config: DeliveryConfig | None = None) -> Delivery:
    """Every configured channel, plus the JSON-lines file for recipients no other channel takes.
    Without `config`, the settings are read from the environment (an edge that has nothing else)."""
    from .config import build_channels

    config = config or delivery_from_environment()
    configs = channel_configs(config)
    channels = {c.name: c for c in build_channels(configs)}
    channels.setdefault("file", JsonLinesChannel(outbox_file))
    return Delivery(channels=channels, route=Router(_entries(configs)), max_attempts=config.max_attempts,
                    backoff=dt.timedelta(seconds=config.backoff_seconds), base_url=config.public_url)


def router_for(config: DeliveryConfig | None = None) -> Router:
    """Which channel takes which unit's recipients (without `config`: from the environment's settings)."""
    return Router(_entries(channel_configs(config or delivery_from_environment())))


def delivery_from_env(outbox_file: Path) -> Delivery:
    """`delivery_for` with the settings of the environment (tests and benchmarks, which have nothing else)."""
    return delivery_for(outbox_file)


def router_from_env() -> Router:
    """`router_for` with the settings of the environment."""
    return router_for()
