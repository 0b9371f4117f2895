"""`campaign amend`, `campaign extend` and `campaign versions`, run as an administrator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from campaign_app.settings import Settings
from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from flows.tick import tick_direct

from .conftest import SMALL_SPEC, local

ROOT = Path(__file__).resolve().parent.parent


def test_amend_dry_run_amend_extend_and_versions_from_the_command_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home")}
    env.pop("CAMPAIGN_DB_URL", None)

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-c", "from campaign_app.cli import main; main()", *args],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == code, done.stdout + done.stderr
        return done

    settings = Settings(tmp_path / "home")
    engine = open_engine(settings.db_url)
    with engine.begin() as conn:  # created and started in process: the commands under test run as processes
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), Act(local("2023-02-01T09:00"), "t", local("2023-02-01T09:00")))
    engine.dispose()
    tick_direct(settings.db_url, "small-2023", Act(local("2023-02-14T08:00"), "t", local("2023-02-14T08:00")),
                str(tmp_path / "outbox.jsonl"))
    (tmp_path / "moved.yaml").write_text(SMALL_SPEC.replace("due: start + 10 workdays", "due: 2023-03-03"),
                                         encoding="utf-8")

    preview = json.loads(run("amend", "small-2023", "moved.yaml", "--reason", "推迟", "--dry-run",
                             "--at", "2023-02-20T10:00", "--json").stdout)
    assert preview["conflicts"] == [] and preview["recomputed"] == 2 and preview["version"] == 2
    late = run("amend", "small-2023", "moved.yaml", "--reason", "推迟", "--at", "2023-03-01T10:00", code=2)
    assert "2023-02-28" in late.stderr and "延期" in late.stderr
    done = run("amend", "small-2023", "moved.yaml", "--reason", "上级通知推迟", "--at", "2023-02-20T10:00", "--by", "王主任")
    assert "已保存第 2 版" in done.stdout and "2023-02-28 → 2023-03-03" in done.stdout

    ext = run("extend", "small-2023", "--step", "plan", "--unit", "第一小学", "--to", "2023-03-10T17:00",
              "--reason", "校长外出", "--at", "2023-02-20T10:00", "--by", "王主任")
    assert "s1" in ext.stdout and "2023-03-03 → 2023-03-10 17:00" in ext.stdout and "2023-03-07 09:00" in ext.stdout
    bad = run("extend", "small-2023", "--step", "plan", "--to", "2023-02-01", "--reason", "x",
              "--at", "2023-02-20T10:00", code=2)
    assert "--to: " in bad.stderr and "已过" in bad.stderr

    versions = json.loads(run("versions", "small-2023", "--json").stdout)
    assert [(v["version"], v["author"], v["reason"]) for v in versions] == [(2, "王主任", "上级通知推迟"), (1, None, None)]
