"""One tick of a campaign at a time, across processes and machines: the campaign's tick lock.

Two ticks of the same campaign started at once (a scheduled tick in `campaign serve` and an operator's
`campaign tick`, two Prefect workers picking up the same deployment) would each read the same due reminders
and each send them: planning is idempotent (the outbox's unique key), sending is not. A tick therefore holds
its campaign's lock from its first step to its last; the second tick waits, then finds the work done (nothing
left to plan or send) and says so.

- PostgreSQL: a session-level advisory lock (`pg_advisory_lock`) on a connection of its own, keyed by the
  campaign's key. It is held by the server, not by a file: ticks on several machines exclude each other, and
  a tick that dies (SIGKILL, a lost machine) frees it when its connection closes. Ticks of different
  campaigns take different keys and do not wait on each other.
- SQLite (one machine by nature): an exclusive `flock` on a small file per campaign beside the database
  file, freed by the kernel when the process dies. An in-memory database is one process: no lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

_NAMESPACE = "campaignflow-tick:"


def lock_key(campaign: str) -> int:
    """The campaign's advisory lock key: a signed 64-bit number from its key (a collision only makes two
    campaigns' ticks take turns)."""
    return int.from_bytes(hashlib.sha256((_NAMESPACE + campaign).encode()).digest()[:8], "big", signed=True)


@contextmanager
def tick_lock(engine: Engine, campaign: str) -> Iterator[None]:
    """Hold the campaign's tick lock for the block, waiting for a tick of the same campaign that holds it."""
    if engine.dialect.name == "postgresql":
        with _advisory(engine, lock_key(campaign)):
            yield
        return
    path = _lock_file(engine, campaign)
    if path is None:
        yield
        return
    with _flock(path):
        yield


@contextmanager
def _advisory(engine: Engine, key: int) -> Iterator[None]:
    # autocommit: the lock belongs to the session, and the connection must not sit idle in a transaction
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            except Exception:
                conn.invalidate()  # closing the session frees its locks; never back to the pool still holding one
                raise


def _lock_file(engine: Engine, campaign: str) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    digest = hashlib.sha256(campaign.encode()).hexdigest()[:16]
    return Path(database).resolve().parent / ".tick-locks" / f"{digest}.lock"


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # flock, not lockf: two threads of one process exclude each other too
        yield
    finally:
        os.close(fd)  # closing the file frees the lock
