"""`campaign backup` and `campaign restore`: one archive of the database and the file store, taken while a
real `campaign serve --workers 2` takes concurrent uploads; restored into an empty database and file store,
where the audit chain verifies, every stored file's hash matches, and the restored service answers with the
same campaign. A damaged archive (a changed file, a changed database, a missing member, a truncated archive,
no manifest, an unexpected member, not an archive) and a target that is not empty are refused, naming what is
wrong, with nothing written. On SQLite and PostgreSQL (the concurrent round trip); the damage on SQLite.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from campaign_app.settings import Settings
from campaign_app.usecases import backup as uc
from campaign_app.usecases.services import Services
from campaign_model.errors import InvalidInput
from campaign_model.store.db import make_engine, open_engine
from campaign_model.store.tables import audit_events, blobs, filings

from .crash_support import KEY, Filers, environment, new_campaign, run, serve
from .web_support import HTTPX_WARNING

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

SCHOOLS = 60


def empty_target(request, tmp_path: Path, kind: str, name: str) -> tuple[Path, str]:
    """A new data directory and an empty database (PostgreSQL: created from template0, no schema)."""
    home = tmp_path / name
    if kind == "sqlite":
        return home, f"sqlite:///{home / 'campaign.db'}"
    pg = request.getfixturevalue("postgres")
    pg.created += 1
    db = f"r{pg.created}"
    pg.sql(f"CREATE DATABASE {db} TEMPLATE template0")
    return home, pg.url(db)


def file_hashes(home: Path, url: str) -> dict[str, str]:
    """sha256 recorded → sha256 of the file on disk, for every stored file."""
    engine = create_engine(url)
    with engine.connect() as conn:
        recorded = list(conn.execute(select(blobs.c.sha256)).scalars())
    engine.dispose()
    found = {}
    for sha in recorded:
        path = home / "files" / sha[:2] / sha
        found[sha] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "missing"
    return found


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_during_concurrent_filings_then_restore(request, tmp_path, kind):
    if kind == "sqlite":
        home, url = tmp_path / "live", f"sqlite:///{tmp_path / 'live' / 'campaign.db'}"
    else:
        home, url = tmp_path / "live", request.getfixturevalue("postgres").new_database()
    env = environment(home, url)
    token = new_campaign(env, home, SCHOOLS)
    archive = tmp_path / "backup.tar.gz"
    with serve(env, workers=2) as (address, _proc):
        filers = Filers(address, token, list(range(1, SCHOOLS + 1))).start()
        filers.wait_acked(15)  # the backup starts while uploads are streaming in
        began = time.monotonic()
        done = run(env, "backup", str(archive), "--json")
        ended = time.monotonic()
        filers.join()
    assert not filers.errors, filers.errors[:5]
    summary = json.loads(done.stdout)
    acked_before = {fid for _, fid, t in filers.acked if t < began}
    acked_after = {fid for _, fid, t in filers.acked if t > ended}
    assert len(acked_before) >= 15 and len(filers.acked) == SCHOOLS

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json" and manifest["database"]["kind"] == kind
    assert manifest["audit_head"] == summary["audit_head"] and manifest["schema_revision"]
    assert len(manifest["files"]) == summary["files"] and len(names) == 2 + summary["files"]
    anchors = [json.loads(x) for x in (home / "audit-anchors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {"seq": summary["audit_head"]["seq"], "source": "backup"} in [
        {"seq": a["seq"], "source": a["source"]} for a in anchors]

    target_home, target_url = empty_target(request, tmp_path, kind, "restored")
    target = environment(target_home, target_url)
    restored = json.loads(run(target, "restore", str(archive), "--json").stdout)
    assert restored["audit_ok"] and restored["files_ok"], restored
    verify = run(target, "audit", "verify")
    assert "审计链完整 (audit chain intact)" in verify.stdout and "restore" in verify.stdout

    engine = create_engine(target_url)
    with engine.connect() as conn:
        ids = set(conn.execute(select(blobs.c.sha256)).scalars())
        count = conn.execute(select(func.count()).select_from(filings)).scalar()
        actions = list(conn.execute(select(audit_events.c.action).order_by(audit_events.c.seq)).scalars())
    engine.dispose()
    assert acked_before <= ids  # every write acknowledged before the backup began is in it
    assert not (acked_after & ids)  # and nothing acknowledged after it ended: one instant, not a smear
    assert count == len(ids) == summary["files"] and actions[-1] == "restore" and "backup" not in actions
    hashes = file_hashes(target_home, target_url)
    assert len(hashes) == len(ids) and all(k == v for k, v in hashes.items())

    # the restored service serves the same campaign, to the same token
    from campaign_app.web.app import create_app

    from .web_support import client_for

    restored_engine = open_engine(target_url)
    client = client_for(create_app(Services(Settings(target_home, target_url), restored_engine)))
    answer = client.get(f"/api/v1/campaigns/{KEY}/obligations", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert sum(o["state"] == "filed" for o in answer.json()) == len(ids)
    listed = client.get(f"/api/v1/campaigns/{KEY}/filings", headers={"Authorization": f"Bearer {token}"}).json()
    assert {f["files"][0]["sha256"] for f in listed} == ids
    got = client.get(f"/api/v1/campaigns/{KEY}/filings/{listed[0]['id']}/files/0", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200 and got.content.startswith(b"%PDF-1.4 report")
    restored_engine.dispose()


# --- damage: one small archive, altered in each way; nothing is written


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, Path]:
    """A live data directory (a campaign, three filings with files) and its backup, made in process."""
    from .web_support import account, bearer
    from .web_support import new_campaign as small_campaign
    from .web_support import serve as test_site

    root = tmp_path_factory.mktemp("backup-source")
    home, url = root / "home", f"sqlite:///{root / 'home' / 'campaign.db'}"
    engine = open_engine(url)
    small_campaign(engine)
    headers = bearer(account(engine, "s1.clerk", "unit", "s1"))
    client = test_site(engine, home)
    for n in range(3):
        r = client.post("/api/v1/campaigns/small-2023/filings", headers=headers,
                        data={"unit": "s1", "artifact": "plan", "signed_by": "张校长"},
                        files=[("files", (f"plan{n}.pdf", b"%%PDF-1.4 plan %d" % n + bytes(500), "application/pdf"))])
        assert r.status_code == 201, r.text
    archive = root / "good.tar.gz"
    summary = uc.backup(Services(Settings(home, url), engine), archive, "备份员")
    assert summary["files"] == 3
    engine.dispose()
    return archive, home


def members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive) as tar:
        return [(m, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def rewrite(path: Path, items: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in items:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def damaged(kind: str, good: Path, out: Path) -> Path:
    items = members(good)
    if kind == "file-changed":
        items = [(m, flip(d) if m.name.startswith("files/") and i == 2 else d) for i, (m, d) in enumerate(items)]
    elif kind == "database-changed":
        items = [(m, flip(d) if m.name.startswith("database/") else d) for m, d in items]
    elif kind == "file-missing":
        items = items[:-1]
    elif kind == "manifest-missing":
        items = items[1:]
    elif kind == "unexpected-member":
        items = [*items, (tarfile.TarInfo("../../etc/cron.d/evil"), b"* * * * * root true\n")]
    elif kind == "truncated":
        out.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
        return out
    elif kind == "not-an-archive":
        out.write_bytes(b"%PDF-1.4 not a backup at all" * 10)
        return out
    return rewrite(out, items)


DAMAGE = {"file-changed": "哈希或大小与清单不符", "database-changed": "database/campaign.sqlite 的哈希或大小与清单不符",
          "file-missing": "缺少 files/", "manifest-missing": "开头没有 manifest.json",
          "unexpected-member": "意外的成员 '../../etc/cron.d/evil'", "truncated": "截断",
          "not-an-archive": "不是可读的备份归档"}


def target_services(home: Path) -> Services:
    url = f"sqlite:///{home / 'campaign.db'}"
    return Services(Settings(home, url), make_engine(url))


def written(home: Path) -> list[str]:
    """What exists under the target data directory (the writer's lock file aside)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if not p.name.endswith(".writer-lock")) \
        if home.exists() else []


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_archive_is_refused_and_nothing_is_written(source, tmp_path, kind):
    good, _ = source
    bad = damaged(kind, good, tmp_path / f"{kind}.tar.gz")
    home = tmp_path / "target"
    with pytest.raises(InvalidInput) as refused:
        uc.restore(target_services(home), bad, "恢复员")
    message = str(refused.value)
    assert "备份文件已损坏，未写入任何内容" in message and "nothing written" in message
    assert DAMAGE[kind] in message, message
    if kind in ("file-changed", "file-missing"):
        assert "files/" in message  # names the file
    assert written(home) == [] or written(home) == ["files"] and not any((home / "files").iterdir())
    assert not (home / "campaign.db").exists()


def test_the_command_line_names_the_damage_and_exits_2(source, tmp_path):
    good, _ = source
    bad = damaged("truncated", good, tmp_path / "cut.tar.gz")
    home = tmp_path / "target"
    env = environment(home, f"sqlite:///{home / 'campaign.db'}")
    done = run(env, "restore", str(bad), ok=False)
    assert done.returncode == 2 and "截断" in done.stderr and "truncated" in done.stderr
    assert "Traceback" not in done.stderr and not (home / "campaign.db").exists()


def test_a_target_that_is_not_empty_is_refused(source, tmp_path):
    good, live_home = source
    # the live data directory itself: its database has tables
    with pytest.raises(InvalidInput, match="目标数据库不为空"):
        uc.restore(target_services(live_home), good, "恢复员")
    # an empty database but files in the file store
    home = tmp_path / "target"
    (home / "files" / "ab").mkdir(parents=True)
    (home / "files" / "ab" / "abc").write_bytes(b"x")
    with pytest.raises(InvalidInput, match="目标文件库不为空"):
        uc.restore(target_services(home), good, "恢复员")
    assert not (home / "campaign.db").exists()


def test_round_trip_keeps_every_row_and_file(source, tmp_path):
    good, live_home = source
    home = tmp_path / "target"
    svc = target_services(home)
    result = uc.restore(svc, good, "恢复员")
    assert result["audit_ok"] and result["files_ok"] and result["files"] == 3
    live = create_engine(f"sqlite:///{live_home / 'campaign.db'}")
    from campaign_model.store.tables import metadata

    with live.connect() as a, svc.engine.connect() as b:
        for table in metadata.sorted_tables:
            if table.name in ("audit_events", "audit_head", "audit_checks"):
                continue
            assert a.execute(select(func.count()).select_from(table)).scalar() == \
                b.execute(select(func.count()).select_from(table)).scalar(), table.name
        # the live log has one more event (the backup) than the archive; the restored one adds the restore
        head = result["audit_head"]["seq"]
        assert b.execute(select(audit_events.c.action).where(audit_events.c.seq == head + 1)).scalar() == "restore"
        assert a.execute(select(audit_events.c.action).where(audit_events.c.seq == head + 1)).scalar() == "backup"
        assert [r.hash for r in a.execute(select(audit_events.c.hash).where(audit_events.c.seq <= head))] == \
            [r.hash for r in b.execute(select(audit_events.c.hash).where(audit_events.c.seq <= head))]
    live.dispose()
    assert all(k == v for k, v in file_hashes(home, f"sqlite:///{home / 'campaign.db'}").items())
    svc.engine.dispose()


def test_backup_refuses_to_overwrite_and_names_a_missing_stored_file(source, tmp_path):
    good, live_home = source
    url = f"sqlite:///{live_home / 'campaign.db'}"
    svc = Services(Settings(live_home, url), open_engine(url))
    with pytest.raises(InvalidInput, match="已存在，不覆盖"):
        uc.backup(svc, good, "备份员")
    victim = next(p for p in (live_home / "files").rglob("*") if p.is_file())
    moved = victim.with_name("moved-away")
    victim.rename(moved)
    try:
        with pytest.raises(InvalidInput, match=f"文件库缺少文件 {victim.name}"):
            uc.backup(svc, tmp_path / "b.tar.gz", "备份员")
        assert not (tmp_path / "b.tar.gz").exists() and list(tmp_path.glob("*.partial")) == []
    finally:
        moved.rename(victim)
        svc.engine.dispose()
