"""The audit chain's anchors outside the database: `audit-anchors.jsonl` in the data directory.

Each line is one JSON object `{"seq", "hash", "at", "source", "database"}`: the chain's head as it was
seen by a verification that passed (`verify`) or printed on a report (`report:KIND`). The file is only
appended to. Someone who can write the database but not the data directory cannot make the chain end
before the latest anchor, nor change an anchored event, without `audit verify` saying so.

`database` is the database's address without its password: a data directory pointed at another
database (a test, a copy) applies only the anchors taken of that database.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from ..audit import Anchor

ANCHOR_FILE = "audit-anchors.jsonl"


def database_name(url: str) -> str:
    """The database's address, password hidden: the key an anchor is kept under."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable address is still a name
        return url


class AnchorFile:
    def __init__(self, home: Path, database: str):
        self.path = Path(home) / ANCHOR_FILE
        self.database = database_name(database)

    def latest(self) -> Anchor | None:
        """The anchor of this database with the highest sequence; unreadable lines are passed over."""
        best: Anchor | None = None
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            anchor = _parse(line, self.database)
            if anchor is not None and (best is None or anchor.seq > best.seq):
                best = anchor
        return best

    def append(self, seq: int, digest: str, at: str, source: str) -> None:
        """Add one anchor, flushed to disk (O_APPEND: lines from concurrent writers do not interleave)."""
        if seq <= 0:
            return  # an empty chain anchors nothing
        line = json.dumps({"seq": seq, "hash": digest, "at": at, "source": source, "database": self.database},
                          ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _parse(line: str, database: str) -> Anchor | None:
    try:
        doc: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("database") != database:
        return None
    seq, digest = doc.get("seq"), doc.get("hash")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= 0 or not isinstance(digest, str) or not digest:
        return None
    return Anchor(seq, digest, str(doc.get("at", "")), str(doc.get("source", "")))
