"""The database side of a backup and a restore: a consistent snapshot, what it holds, and loading it back.

A snapshot is taken with the database's own means: SQLite's online backup API (`sqlite3.Connection.backup`,
a copy of one committed state while writers go on), PostgreSQL's `pg_dump` in the custom format, run on a
snapshot exported by a REPEATABLE READ transaction that also reads the facts the manifest records (schema
revision, audit head, the stored files), so that the dump and the facts are of the same instant.

Files are written to the file store before the row that names them is committed (blobs.put_files, then
record_blobs), so every file a snapshot names is on disk when the snapshot is taken.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

from ..errors import CampaignError
from . import audit
from .audit import Act
from .tables import blobs


class BackupError(CampaignError):
    """A backup or restore that cannot be done; the message says why, nothing was written."""


@dataclass(frozen=True)
class Facts:
    """What a snapshot holds, as the manifest records it."""

    revision: str | None
    head: tuple[int, str]
    files: list[tuple[str, int]]  # (sha256, size) of every stored file, by hash


def facts(conn: Connection) -> Facts:
    from alembic.runtime.migration import MigrationContext

    revision = MigrationContext.configure(conn).get_current_revision()
    files = [(str(r.sha256), int(r.size)) for r in conn.execute(select(blobs.c.sha256, blobs.c.size).order_by(blobs.c.sha256))]
    return Facts(revision, audit.head(conn), files)


def record(conn: Connection, act: Act, action: str, subject: str, after: dict[str, Any]) -> int:
    """The backup or the restore in the audit log (action `backup` or `restore`)."""
    return audit.append(conn, act, action, None, subject, None, after)


# --- SQLite


def snapshot_sqlite(engine: Engine, dest: Path) -> Facts:
    """Copy one committed state of the database to `dest` (online: readers and writers go on) and read
    its facts from the copy."""
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        target = sqlite3.connect(dest)
        try:
            source.backup(target)  # all pages in one step: one consistent state
        finally:
            target.close()
    finally:
        raw.close()
    copy = create_engine(f"sqlite:///{dest}")
    try:
        with copy.connect() as conn:
            return facts(conn)
    finally:
        copy.dispose()


def restore_sqlite(dump: Path, database: Path) -> None:
    """The snapshot in place of the (absent) database file: written aside, flushed, renamed."""
    database.parent.mkdir(parents=True, exist_ok=True)
    aside = database.with_name(database.name + ".restoring")
    shutil.copyfile(dump, aside)
    with open(aside, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(aside, database)


# --- PostgreSQL


def pg_tool(conn: Connection, name: str) -> Path:
    """`pg_dump` or `pg_restore` of the server's major version (or the nearest newer one installed)."""
    number = int(conn.execute(text("SHOW server_version_num")).scalar_one())
    major = number // 10000
    found = {}
    for path in glob.glob(f"/usr/lib/postgresql/*/bin/{name}"):
        m = re.search(r"/postgresql/(\d+)/bin/", path)
        if m and int(m.group(1)) >= major:
            found[int(m.group(1))] = Path(path)
    if not found:
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
        raise BackupError(f"找不到 PostgreSQL {major} 的 {name}（应在 /usr/lib/postgresql/{major}/bin/）"
                          f"(no {name} for PostgreSQL {major} found under /usr/lib/postgresql/{major}/bin)")
    return found[min(found)]


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq address of a SQLAlchemy URL, its password in the environment (never on a command line)."""
    u = make_url(url)
    env = {**os.environ}
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} 失败 (failed, exit {done.returncode}): {done.stderr.strip()[-500:]}")


def snapshot_postgresql(engine: Engine, dest: Path) -> Facts:
    """`pg_dump -Fc` of the snapshot this transaction exported, and the facts read in that transaction."""
    address, env = _libpq(engine.url.render_as_string(hide_password=False))
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            found = facts(conn)
            tool = pg_tool(conn, "pg_dump")
            # the exporting transaction stays open while pg_dump reads its snapshot
            _run([str(tool), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  "--file", str(dest), "--dbname", address], env, "pg_dump")
    return found


def restore_postgresql(engine: Engine, dump: Path) -> None:
    address, env = _libpq(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        tool = pg_tool(conn, "pg_restore")
    _run([str(tool), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          "--dbname", address, str(dump)], env, "pg_restore")


# --- the target of a restore


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    return Path(u.database or "").expanduser()


def tables_in(engine: Engine) -> list[str]:
    """The tables of the database (an empty list: an empty database)."""
    return sorted(inspect(engine).get_table_names())
