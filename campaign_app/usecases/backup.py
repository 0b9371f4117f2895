"""Backup and restore: one archive of the database and the file store, checked by its manifest.

The archive is a gzip'd tar: `manifest.json` first, then the database snapshot (`database/campaign.sqlite`
or `database/campaign.pgdump`), then each stored file as `files/ab/abcdef…`. The manifest records the
format, the schema revision, when it was made and by whom, the audit chain's head in the snapshot (seq and
hash), and the sha256 and size of the snapshot and of every file. A backup is taken while the service runs
(campaign_model.store.backup: SQLite's online backup, PostgreSQL's pg_dump on an exported snapshot), is
written aside and renamed into place, is recorded in the audit log, and anchors the head it captured in the
data directory's `audit-anchors.jsonl` (a later truncation of the log below that head is then caught).

A restore goes only into an empty database with an empty file store. It reads the whole archive into a
staging directory first and checks every member against the manifest (hash and size, nothing missing,
nothing unexpected, not truncated); only then does it write. Afterwards the audit chain is verified
against the manifest's head, every restored file is hashed again, the restore is recorded in the audit
log, and the head is anchored in the new data directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from campaign_model.errors import InvalidInput

from .services import Services

FORMAT = "campaignflow-backup"
VERSION = 1
MANIFEST = "manifest.json"
DUMPS = {"sqlite": "database/campaign.sqlite", "postgresql": "database/campaign.pgdump"}
CHUNK = 1024 * 1024


def _sha256(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _file_path(sha: str) -> str:
    return f"files/{sha[:2]}/{sha}"


def _damaged(what: str) -> InvalidInput:
    return InvalidInput(f"备份文件已损坏，未写入任何内容：{what} (damaged archive, nothing written: {what})", field="archive")


# --- backup


def backup(svc: Services, out: Path, by: str) -> dict[str, Any]:
    """Write the archive to `out` (refused if it exists); returns the manifest's summary."""
    from campaign_model.store import backup as store

    out = Path(out)
    if out.exists():
        raise InvalidInput(f"{out} 已存在，不覆盖 (already exists; not overwritten)", field="out")
    if not out.parent.is_dir():
        raise InvalidInput(f"目录不存在 (no such directory): {out.parent}", field="out")
    kind = svc.engine.dialect.name
    if kind not in DUMPS:
        raise InvalidInput(f"不支持的数据库 (unsupported database): {kind}", field="db")
    created = svc.now()
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".backup-") as staging:
        dump = Path(staging) / Path(DUMPS[kind]).name
        facts = store.snapshot_sqlite(svc.engine, dump) if kind == "sqlite" else store.snapshot_postgresql(svc.engine, dump)
        dump_sha, dump_size = _sha256(dump)
        files: list[dict[str, Any]] = []
        for sha, size in facts.files:  # each file the snapshot names, checked before it is archived
            path = svc.blobs.path(sha)
            if not path.is_file():
                raise InvalidInput(f"文件库缺少文件 {sha}（数据库中有记录）(the file store lacks {sha}, which the "
                                   "database records): 未写入备份 (no backup written)", field="files")
            actual, actual_size = _sha256(path)
            if actual != sha or actual_size != size:
                raise InvalidInput(f"文件库中的文件 {sha} 内容与其哈希不符 (the stored file {sha} does not match its "
                                   "hash): 未写入备份 (no backup written)", field="files")
            files.append({"path": _file_path(sha), "sha256": sha, "size": size})
        manifest = {
            "format": FORMAT, "version": VERSION, "created_at": created.isoformat(), "created_by": by,
            "schema_revision": facts.revision, "audit_head": {"seq": facts.head[0], "hash": facts.head[1]},
            "database": {"kind": kind, "path": DUMPS[kind], "sha256": dump_sha, "size": dump_size},
            "files": files,
        }
        body = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
        partial = out.with_name(out.name + ".partial")
        try:
            with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
                _add_bytes(tar, MANIFEST, body, created)
                _add_file(tar, DUMPS[kind], dump, dump_sha, created)
                for f in files:
                    _add_file(tar, f["path"], svc.blobs.path(f["sha256"]), f["sha256"], created)
            with open(partial, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
    archive_sha, archive_size = _sha256(out)
    summary = {"archive": str(out), "sha256": archive_sha, "size": archive_size, "created_at": created.isoformat(),
               "schema_revision": facts.revision, "audit_head": manifest["audit_head"], "database": kind,
               "files": len(files), "bytes": sum(f["size"] for f in files) + dump_size}
    with svc.write() as conn:
        store.record(conn, svc.act(by), "backup", out.name, {k: summary[k] for k in (
            "sha256", "size", "schema_revision", "audit_head", "files")})
    from .audit import anchor_head

    anchor_head(svc, facts.head, "backup")
    return summary


class _Hashing(io.RawIOBase):
    """A file read for the archive, hashed on the way: a file changed since it was checked is caught."""

    def __init__(self, fh: IO[bytes]):
        self.fh, self.h = fh, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.fh.read(len(buffer))
        self.h.update(data)
        buffer[:len(data)] = data
        return len(data)


def _info(name: str, size: int, at: dt.datetime) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(at.timestamp()), 0o640
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, at: dt.datetime) -> None:
    tar.addfile(_info(name, len(data), at), io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path, sha: str, at: dt.datetime) -> None:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        reader = _Hashing(fh)
        tar.addfile(_info(name, size, at), reader)
    if reader.h.hexdigest() != sha:
        raise InvalidInput(f"文件 {name} 在备份时被改动 (changed while being archived): 未写入备份 (no backup written)",
                           field="files")


# --- restore


def restore(svc: Services, archive: Path, by: str) -> dict[str, Any]:
    """Restore `archive` into `svc`'s database and file store, both empty (the engine is not migrated:
    the archive brings its schema). Refused, with nothing written, if either is not empty or the archive
    is damaged."""
    from campaign_model.store import backup as store

    archive = Path(archive)
    kind = svc.engine.dialect.name
    _refuse_non_empty(svc, kind)
    if not archive.is_file():
        raise InvalidInput(f"找不到备份文件 (no such archive): {archive}", field="archive")
    with tempfile.TemporaryDirectory(prefix="campaignflow-restore-") as staging_dir:
        staging = Path(staging_dir)
        manifest = _unpack(archive, staging)
        db = manifest["database"]
        if db["kind"] != kind:
            raise InvalidInput(f"备份的数据库是 {db['kind']}，目标是 {kind}，无法直接恢复 (the archive holds a {db['kind']} "
                               f"database, the target is {kind})", field="archive")
        # the archive checked in full: now write
        svc.engine.dispose()
        dump = staging / DUMPS[kind]
        if kind == "sqlite":
            path = store.sqlite_path(svc.engine.url.render_as_string(hide_password=False))
            assert path is not None
            store.restore_sqlite(dump, path)
        else:
            store.restore_postgresql(svc.engine, dump)
        for f in manifest["files"]:
            target = svc.blobs.path(f["sha256"])
            target.parent.mkdir(parents=True, exist_ok=True)
            aside = target.with_name(".incoming-" + target.name)
            shutil.copyfile(staging / f["path"], aside)
            with open(aside, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(aside, target)
    return _after_restore(svc, manifest, archive, by)


def _after_restore(svc: Services, manifest: dict[str, Any], archive: Path, by: str) -> dict[str, Any]:
    from campaign_model.audit import Anchor
    from campaign_model.store import audit
    from campaign_model.store import backup as store
    from campaign_model.store.db import upgrade

    revision = upgrade(svc.engine)  # an archive of an older schema is brought up to date
    head = manifest["audit_head"]
    with svc.read() as conn:
        verdict, _ = audit.full_check(conn, [Anchor(int(head["seq"]), str(head["hash"]), manifest["created_at"], "backup")])
        restored_head = audit.head(conn)
    bad_files = [f["sha256"] for f in manifest["files"]
                 if _sha256(svc.blobs.path(f["sha256"])) != (f["sha256"], f["size"])]
    summary = {"archive": str(archive), "created_at": manifest["created_at"], "schema_revision": revision,
               "archived_revision": manifest["schema_revision"], "audit_head": head,
               "audit_ok": verdict.ok and restored_head == (head["seq"], head["hash"]),
               "audit_reason": verdict.reason or None, "events": verdict.count, "files": len(manifest["files"]),
               "files_ok": not bad_files, "bad_files": bad_files}
    with svc.write() as conn:
        store.record(conn, svc.act(by), "restore", archive.name, {
            "created_at": manifest["created_at"], "audit_head": head, "files": len(manifest["files"]),
            "audit_ok": summary["audit_ok"], "files_ok": summary["files_ok"]})
    if summary["audit_ok"]:
        from .audit import anchor_head

        anchor_head(svc, (int(head["seq"]), str(head["hash"])), "restore")
    return summary


def _refuse_non_empty(svc: Services, kind: str) -> None:
    from campaign_model.store import backup as store

    path = store.sqlite_path(svc.engine.url.render_as_string(hide_password=False)) if kind == "sqlite" else None
    if kind != "sqlite" or (path is not None and path.exists() and path.stat().st_size > 0):
        tables = store.tables_in(svc.engine)
        if tables:
            raise InvalidInput(f"目标数据库不为空（已有 {len(tables)} 张表），未写入任何内容 (the target database is not "
                               f"empty: {len(tables)} tables; nothing written)", field="db")
    files = svc.settings.files_dir
    if files.is_dir() and any(p.is_file() for p in files.rglob("*")):
        raise InvalidInput(f"目标文件库不为空，未写入任何内容 (the target file store {files} is not empty; nothing written)",
                           field="home")


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    try:
        yield from tar
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise _damaged(f"归档被截断或无法读取 (truncated or unreadable archive: {exc})") from None


def _unpack(archive: Path, staging: Path) -> dict[str, Any]:
    """Every member into `staging`, checked against the manifest; the manifest, once all is well."""
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise _damaged(f"不是可读的备份归档 (not a readable archive: {exc})") from None
    with tar:
        members = _members(tar)
        first = next(members, None)
        if first is None or first.name != MANIFEST or not first.isfile():
            raise _damaged(f"开头没有 {MANIFEST} (no {MANIFEST} at the start)")
        manifest = _manifest(_read_member(tar, first, limit=64 * 1024 * 1024))
        expected = {manifest["database"]["path"]: manifest["database"],
                    **{f["path"]: f for f in manifest["files"]}}
        seen: set[str] = set()
        for member in members:
            entry = expected.get(member.name)
            if entry is None or member.name in seen or not member.isfile():
                raise _damaged(f"意外的成员 {member.name!r} (unexpected member)")
            seen.add(member.name)
            target = staging / entry["path"]  # the manifest's own path, checked to be one of ours
            target.parent.mkdir(parents=True, exist_ok=True)
            h, size = hashlib.sha256(), 0
            source = tar.extractfile(member)
            assert source is not None
            try:
                with open(target, "wb") as out:
                    while chunk := source.read(CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                raise _damaged(f"{member.name} 被截断 (truncated: {exc})") from None
            if size != entry["size"] or h.hexdigest() != entry["sha256"]:
                raise _damaged(f"{member.name} 的哈希或大小与清单不符 (hash or size differs from the manifest)")
        missing = [p for p in expected if p not in seen]
        if missing:
            more = f" 等 {len(missing)} 个 (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise _damaged(f"缺少 {missing[0]}{more} (missing from the archive)")
    return manifest


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    if member.size > limit:
        raise _damaged(f"{member.name} 过大 (too large)")
    source = tar.extractfile(member)
    assert source is not None
    try:
        return source.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise _damaged(f"{member.name} 被截断 (truncated: {exc})") from None


def _manifest(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _damaged(f"{MANIFEST} 不是有效的 JSON (not valid JSON)") from None
    ok = (isinstance(doc, dict) and doc.get("format") == FORMAT and isinstance(doc.get("database"), dict)
          and isinstance(doc.get("files"), list) and isinstance(doc.get("audit_head"), dict))
    if not ok:
        raise _damaged(f"{MANIFEST} 不是 campaignflow 的备份清单 (not a campaignflow backup manifest)")
    if doc.get("version") != VERSION:
        raise _damaged(f"{MANIFEST} 的版本 {doc.get('version')!r} 无法识别 (unknown manifest version)")
    db = doc["database"]
    if db.get("kind") not in DUMPS or db.get("path") != DUMPS[db.get("kind")] or not _digest_entry(db):
        raise _damaged(f"{MANIFEST}: database 项不完整 (incomplete database entry)")
    for f in doc["files"]:
        if not (isinstance(f, dict) and _digest_entry(f) and f.get("path") == _file_path(f["sha256"])):
            raise _damaged(f"{MANIFEST}: files 中有无效项 (an invalid files entry)")
    head = doc["audit_head"]
    if not (isinstance(head.get("seq"), int) and isinstance(head.get("hash"), str)):
        raise _damaged(f"{MANIFEST}: audit_head 不完整 (incomplete audit head)")
    return doc


def _digest_entry(entry: dict[str, Any]) -> bool:
    sha, size = entry.get("sha256"), entry.get("size")
    return (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
            and isinstance(size, int) and not isinstance(size, bool) and size >= 0)
