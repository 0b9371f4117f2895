"""Build the delivery (channels, routing, retry policy) from settings: the environment and the
channels file, never the campaign spec. Secrets stay in the environment or that file."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .channels.file import JsonLinesChannel
from .dispatch import Delivery
from .routing import RouteEntry, Router


def _entries(configs: list[Any]) -> list[RouteEntry]:
    entries = []
    for c in configs:
        units = getattr(c, "units", None)
        entries.append(RouteEntry(c.name, c.type, "all" if units in (None, "all") else tuple(units)))
    return entries


def delivery_from_env(outbox_file: Path, env: Mapping[str, str] | None = None) -> Delivery:
    """Every configured channel, plus the JSON-lines file for recipients no other channel takes."""
    from .config import build_channels, load_channels

    env = os.environ if env is None else env
    configs = load_channels(None, env)
    channels = {c.name: c for c in build_channels(configs)}
    channels.setdefault("file", JsonLinesChannel(outbox_file))
    return Delivery(
        channels=channels, route=Router(_entries(configs)),
        max_attempts=int(env.get("CAMPAIGN_DELIVERY_MAX_ATTEMPTS", "5")),
        backoff=dt.timedelta(seconds=int(env.get("CAMPAIGN_DELIVERY_BACKOFF_SECONDS", "300"))),
        base_url=env.get("CAMPAIGN_PUBLIC_URL") or None)


def router_from_env(env: Mapping[str, str] | None = None) -> Router:
    from .config import load_channels

    env = os.environ if env is None else env
    return Router(_entries(load_channels(None, env)))
