"""The `backup` and `restore` commands (campaign_app/usecases/backup.py), registered at the top level in cli.py.

    campaign backup OUT.tar.gz      one archive of the database and the file store, while `serve` runs
    campaign restore IN.tar.gz      into an empty database and file store ($CAMPAIGN_HOME, $CAMPAIGN_DB_URL)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .cli_common import ByOpt, JsonOpt, emit

backup_app = typer.Typer(add_completion=False, help="备份与恢复 (backup and restore)")

BACKUP_ACTOR = "backup"
RESTORE_ACTOR = "restore"


@backup_app.command("backup")
def backup(out: Annotated[Path, typer.Argument(help="备份文件，如 campaignflow-2026-05-01.tar.gz (the archive to write)")],
           by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """备份数据库和文件库到一个归档（服务运行时也可），附哈希清单与审计链头
    (back up the database and the file store into one archive, with a manifest of hashes and the audit head;
    safe while the service runs)."""
    from .cli_common import actor, services
    from .usecases import backup as uc

    doc = uc.backup(services(), out, actor(by, system=BACKUP_ACTOR))
    emit(doc, as_json, lambda d: (
        f"已备份 (backed up): {d['archive']}\n"
        f"  数据库 (database) {d['database']}, 结构版本 (schema) {d['schema_revision']}, "
        f"文件 (files) {d['files']}, {d['size']:,} 字节 (bytes)\n"
        f"  审计链头 (audit head) #{d['audit_head']['seq']} {d['audit_head']['hash']}\n"
        f"  归档 sha256 (archive sha256) {d['sha256']}"))


@backup_app.command("restore")
def restore(archive: Annotated[Path, typer.Argument(help="备份文件 (the archive to restore)")],
            by: ByOpt = None, as_json: JsonOpt = False) -> None:
    """从备份恢复到空的数据库和文件库；归档有任何损坏则拒绝且不写入
    (restore an archive into an empty database and file store; a damaged archive is refused, nothing written)."""
    from campaign_model.store.db import make_engine

    from .cli_common import actor, settings
    from .usecases import backup as uc
    from .usecases.services import Services

    s = settings()
    doc = uc.restore(Services(s, make_engine(s.db_url)), archive, actor(by, system=RESTORE_ACTOR))
    emit(doc, as_json, lambda d: (
        f"已恢复 (restored): {d['archive']}（备份于 (made at) {d['created_at']}）\n"
        f"  审计链 (audit chain): {'完整 (intact)' if d['audit_ok'] else '被破坏 (broken): ' + str(d['audit_reason'])}, "
        f"{d['events']} 个事件 (events), 链头 (head) #{d['audit_head']['seq']}\n"
        f"  文件 (files): {d['files']}, "
        + ("哈希全部相符 (all hashes match)" if d["files_ok"] else "哈希不符 (mismatch): " + ", ".join(d["bad_files"]))))
    if not (doc["audit_ok"] and doc["files_ok"]):
        raise typer.Exit(1)
