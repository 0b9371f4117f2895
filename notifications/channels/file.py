"""Delivery channels. This issue ships the JSON-lines file channel; each line is one delivered message."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

from .messages import Digest


class Channel(Protocol):
    name: str

    def send(self, digest: Digest, at_iso: str) -> None: ...


class JsonLinesChannel:
    """Appends each message as one JSON line and syncs it to disk before it counts as sent."""

    name = "file"

    def __init__(self, path: Path):
        self.path = path

    def send(self, digest: Digest, at_iso: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"message_id": digest.message_id, "at": at_iso, "campaign": digest.campaign,
                           "unit": digest.recipient, "unit_name": digest.unit_name, "to": digest.to,
                           "subject": digest.subject, "text": digest.text, "items": digest.items},
                          ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
