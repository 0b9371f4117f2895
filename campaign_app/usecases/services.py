"""What every entry point is wired to, in one object: the database, the file store, the clock, the limits.

The web application builds one `Services` in `create_app` (routes take it as a dependency), the command
line one per process (`cli_common.services`); the use cases take it as their first argument. The clock
is injected so that a test (or `make run`'s demo) decides what "now" is; a client never does.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore

from ..settings import Settings

Clock = Callable[[], dt.datetime]


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class UploadLimits:
    """Uploads: each file at most `file_bytes`, a request at most `request_bytes`, `files` files, these types."""

    file_bytes: int = 20 * 1024 * 1024
    request_bytes: int = 64 * 1024 * 1024
    files: int = 20
    # scans, office documents, images and the row formats; the content must look like its type too
    suffixes: frozenset[str] = frozenset({".pdf", ".ofd", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx",
                                          ".wps", ".et", ".csv", ".txt", ".json", ".zip"})
    rows_suffixes: frozenset[str] = frozenset({".csv", ".xlsx", ".json"})


@dataclass
class Services:
    settings: Settings
    engine: Engine
    clock: Clock = wall_clock
    limits: UploadLimits = field(default_factory=UploadLimits)
    # called after reminders were planned by "remind now" (in `serve`: run the campaign's tick job now)
    on_remind: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        self.blobs = BlobStore(self.settings.files_dir)
        # SQLite has one writer: writers queue here instead of spinning on the busy timeout — threads on a
        # lock, and the processes of `serve --workers N` on a file lock beside the database
        sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock: Any = threading.Lock() if sqlite else None
        database = self.engine.url.database if sqlite else None
        self._lock_file = Path(f"{database}.writer-lock") if database and database != ":memory:" else None
        self._lock_fd: int | None = None

    @property
    def secure_cookies(self) -> bool:
        return self.settings.secure_cookies

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the writer lock at BEGIN (IMMEDIATE), where the busy
        timeout applies: a deferred transaction that reads, then writes after another writer committed,
        fails at once (SQLITE_BUSY_SNAPSHOT) instead of waiting."""
        with self._write_lock or nullcontext(), self._process_lock():
            with self.engine.connect() as conn:
                if self._write_lock is not None:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self._lock_file is None:
            yield
            return
        import fcntl

        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # wakes as soon as the holder lets go (no polling)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def now(self) -> dt.datetime:
        return self.clock().astimezone(dt.UTC)

    def act(self, actor: str) -> Act:
        return Act(self.now(), actor, wall_clock())  # recorded_at is always the real clock
