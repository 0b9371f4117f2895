"""`campaign user` and `campaign token` as an administrator runs them: real processes, a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def campaign(tmp_path, request):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home")}
    env.pop("CAMPAIGN_DB_URL", None)
    if "postgres" in request.fixturenames:
        env["CAMPAIGN_DB_URL"] = request.getfixturevalue("postgres").new_database()

    def run(*args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=300, input=stdin if stdin is not None else "")
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    run.db_url = env.get("CAMPAIGN_DB_URL") or f"sqlite:///{tmp_path / 'home' / 'campaign.db'}"
    return run


def test_an_administrator_adds_users_and_a_second_of_the_same_name_is_refused(campaign):
    added = campaign("user", "add", "张校长", "--role", "unit", "--unit", "school-1", "--display-name", "张伟",
                     "--password-stdin", "--by", "局办公室", stdin="qingfeng-2024\n")
    assert "已添加用户 张校长" in added.stdout and "(user added)" in added.stdout
    campaign("user", "add", "importer", "--role", "admin", "--no-password")

    again = campaign("user", "add", "张校长", "--role", "viewer", "--password-stdin", stdin="qingfeng-2024\n", ok=False)
    assert again.returncode == 2 and "已存在" in again.stderr and "already exists" in again.stderr

    listed = json.loads(campaign("user", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["unit"], u["display_name"], u["password"]) for u in listed] == [
        ("importer", "admin", None, None, False), ("张校长", "unit", "school-1", "张伟", True)]
    log = json.loads(campaign("audit", "log", "--json").stdout)
    assert [(e["action"], e["actor"], e["subject"]) for e in log][0] == ("user.added", "局办公室", "user:张校长")
    assert "qingfeng-2024" not in json.dumps(log, ensure_ascii=False)


def test_bad_roles_units_and_passwords_exit_2_with_the_reason(campaign):
    role = campaign("user", "add", "li.ming", "--role", "root", ok=False)
    assert role.returncode == 2 and "admin、supervisor、unit、viewer" in role.stderr
    unit = campaign("user", "add", "li.ming", "--role", "unit", "--password-stdin", stdin="qingfeng-2024\n", ok=False)
    assert unit.returncode == 2 and "--unit" in unit.stderr
    short = campaign("user", "add", "li.ming", "--role", "viewer", "--password-stdin", stdin="short\n", ok=False)
    assert short.returncode == 2 and "至少 10 个字符" in short.stderr
    assert json.loads(campaign("user", "list", "--json").stdout) == []
    unknown = campaign("user", "passwd", "nobody", "--password-stdin", stdin="qingfeng-2024\n", ok=False)
    assert unknown.returncode == 2 and "nobody" in unknown.stderr


def test_a_token_is_printed_once_never_listed_and_stops_working_when_revoked(campaign):
    from campaign_model.store.accounts import principal_for_token
    from campaign_model.store.db import open_engine

    from .conftest import local

    campaign("user", "add", "importer", "--role", "admin", "--no-password")
    created = campaign("token", "create", "importer", "--expires", "30", "--label", "导入脚本", "--by", "局办公室")
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("cf_") and "不会再次显示" in created.stderr and "not be shown again" in created.stderr

    as_json = json.loads(campaign("token", "create", "importer", "--json").stdout)
    assert as_json["token"].startswith("cf_") and as_json["user"] == "importer" and as_json["expires_at"] is None

    listing = campaign("token", "list").stdout + campaign("token", "list", "importer", "--json").stdout
    assert token not in listing and as_json["token"] not in listing
    tokens = json.loads(campaign("token", "list", "importer", "--json").stdout)
    assert [(t["prefix"], t["label"], t["state"]) for t in tokens] == [
        (token[:12], "导入脚本", "active"), (as_json["token"][:12], None, "active")]

    engine = open_engine(campaign.db_url)
    try:
        with engine.begin() as conn:
            assert principal_for_token(conn, token, local("2024-03-01T09:00")) is not None
        revoked = campaign("token", "revoke", str(tokens[0]["id"]))
        assert f"#{tokens[0]['id']}" in revoked.stdout
        with engine.begin() as conn:
            assert principal_for_token(conn, token, local("2024-03-01T09:00")) is None
    finally:
        engine.dispose()
    assert json.loads(campaign("token", "list", "--json").stdout)[0]["state"] == "revoked"
    twice = campaign("token", "revoke", str(tokens[0]["id"]), ok=False)
    assert twice.returncode == 2 and "already revoked" in twice.stderr
    missing = campaign("token", "revoke", "999", ok=False)
    assert missing.returncode == 2 and "#999" in missing.stderr
    zero = campaign("token", "create", "importer", "--expires", "0", ok=False)
    assert zero.returncode == 2 and "至少 1 天" in zero.stderr


def test_disable_enable_and_passwd_on_postgresql(campaign, postgres):
    campaign("user", "add", "li.ming", "--role", "supervisor", "--password-stdin", stdin="qingfeng-2024\n")
    campaign("user", "disable", "li.ming", "--by", "局办公室")
    assert json.loads(campaign("user", "list", "--json").stdout)[0]["disabled"] is True
    campaign("user", "enable", "li.ming")
    changed = campaign("user", "passwd", "li.ming", "--password-stdin", stdin="mingjing-2025\n")
    assert "已修改 li.ming 的密码" in changed.stdout
    log = json.loads(campaign("audit", "log", "--json").stdout)
    assert [e["action"] for e in log] == ["user.added", "user.disabled", "user.enabled", "user.password_changed"]
    assert "审计链完整" in campaign("audit", "verify").stdout


def test_without_password_stdin_the_password_is_typed_twice_hidden(tmp_path, monkeypatch):
    # in-process: the hidden prompt wants a terminal, which the test runner stands in for
    from typer.testing import CliRunner

    from campaign_app.cli import app

    monkeypatch.setenv("CAMPAIGN_DB_URL", f"sqlite:///{tmp_path / 'campaign.db'}")
    runner = CliRunner()
    typo = runner.invoke(app, ["user", "add", "li.ming", "--role", "viewer"],
                         input="qingfeng-2024\nqingfeng-2042\nqingfeng-2024\nqingfeng-2024\n")
    assert typo.exit_code == 0, typo.output
    assert "qingfeng" not in typo.output and "已添加用户 li.ming" in typo.output
    assert typo.output.count("再输入一次 (repeat)") == 2  # asked again after the two did not match
