"""Files stored once by content hash under the data directory (files/ab/abcdef...)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import InvalidInput
from .tables import blobs


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # write aside and rename: a crash never leaves a half file under its hash
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        return sha, len(data)

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def store_files(conn: Connection, store: BlobStore, paths: Sequence[Path | tuple[Path | bytes, str]],
                at: dt.datetime) -> list[dict[str, Any]]:
    """Store files by content hash (each content once) and record them; returns {name, sha256, size} each.

    A file is a path, or (path or content, name) when the name to keep is not the path's (an upload keeps
    its sender's name, which is never used as a path)."""
    stored = put_files(store, paths)
    record_blobs(conn, stored, at)
    return stored


def put_files(store: BlobStore, paths: Sequence[Path | tuple[Path | bytes, str]]) -> list[dict[str, Any]]:
    """The files' contents on disk by hash (no database): {name, sha256, size} each."""
    stored = []
    for entry in paths:
        source, name = entry if isinstance(entry, tuple) else (entry, Path(entry).name)
        try:
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
        except OSError as exc:
            raise InvalidInput(f"无法读取文件 '{name}' (cannot read file: {exc.strerror})", field="file") from None
        sha, size = store.put_bytes(data)
        stored.append({"name": name, "sha256": sha, "size": size})
    return stored


def record_blobs(conn: Connection, stored: Sequence[dict[str, Any]], at: dt.datetime) -> None:
    """A row for each content not yet recorded. Two filings of the same content at once (PostgreSQL: both
    see no row) both insert it: the second waits on the first and then does nothing, instead of failing."""
    fresh = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(blobs).on_conflict_do_nothing()
    for f in stored:
        if conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == f["sha256"])).first() is None:
            conn.execute(fresh.values(sha256=f["sha256"], size=f["size"], created_at=at))
