"""Which channels a recipient's messages go to: email where the unit has an address, group robots and
webhooks for the units they cover, and the JSON-lines file when nothing else would take them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteEntry:
    name: str
    kind: str  # email | dingtalk | wecom | feishu | webhook | file
    units: str | tuple[str, ...] = "all"


class Router:
    def __init__(self, entries: Sequence[RouteEntry], fallback: str = "file"):
        self.entries = list(entries)
        self.fallback = fallback

    def __call__(self, unit: str, contacts: list[dict[str, Any]]) -> list[str]:
        names = []
        for e in self.entries:
            if e.kind == "email":
                if any(c.get("email") for c in contacts):
                    names.append(e.name)
            elif e.units == "all" or unit in e.units:
                names.append(e.name)
        return names or [self.fallback]
