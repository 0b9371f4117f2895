"""The `campaign` command end to end, as an administrator runs it: real processes, a real database,
ticks as real Prefect flow runs, and the JSON documents other tools rely on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "campaign_model" / "templates" / "zuofeng-2023.yaml"


@pytest.fixture
def campaign(tmp_path, request):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home")}
    env.pop("CAMPAIGN_DB_URL", None)
    if "postgres" in request.fixturenames:
        env["CAMPAIGN_DB_URL"] = request.getfixturevalue("postgres").new_database()

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=300)
        assert "Traceback" not in result.stderr, result.stderr
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")


def test_create_file_tick_and_status_from_the_command_line(campaign, tmp_path):
    created = json.loads(campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00", "--json").stdout)
    assert created == {"campaign": "zuofeng-2023", "units": 4, "obligations": 26,
                       "units_from": {"spec": 4, "file": 0, "both": 0}}

    tick = json.loads(campaign("tick", "zuofeng-2023", "--at", "2023-02-14T09:30", "--json").stdout)
    assert set(tick) == {"at", "advanced", "overdue_marked", "reminders_planned", "reminders_sent", "reminders_written",
                         "deliveries", "phases"}
    assert tick["at"] == "2023-02-14T09:30:00+08:00"
    assert tick["phases"] == {"mobilization": "active", "self_check": "pending", "rectification": "pending",
                              "summary": "pending"}

    scan = tmp_path / "plan-signed.pdf"
    scan.write_bytes(b"%PDF-1.4 signed and stamped")
    refused = campaign("file", "zuofeng-2023", "--unit", "school-1", "--artifact", "implementation_plan",
                       "--file", str(scan), "--at", "2023-02-20T10:00", ok=False)
    assert refused.returncode == 2 and "--signed-by" in refused.stderr
    filed = json.loads(campaign("file", "zuofeng-2023", "--unit", "school-1", "--artifact", "implementation_plan",
                                "--file", str(scan), "--signed-by", "李校长", "--by", "李明",
                                "--at", "2023-02-20T10:00", "--json").stdout)
    assert (filed["version"], filed["late"], filed["signed_by"]) == (1, False, "李校长")
    stored = tmp_path / "home" / "files" / filed["files"][0]["sha256"][:2] / filed["files"][0]["sha256"]
    assert stored.read_bytes() == scan.read_bytes()

    status = json.loads(campaign("status", "zuofeng-2023", "--at", "2023-03-10T10:00", "--json").stdout)
    assert set(status) == {"campaign", "at", "current_phase", "running_phases", "phases", "obligations",
                           "obligations_legend"}
    assert status["current_phase"] == "mobilization" and status["at"] == "2023-03-10T10:00:00+08:00"
    phase = status["phases"][0]
    assert {"key", "state", "start", "end", "gate"} <= set(phase) and ISO.match(phase["start"])
    assert phase["state"] == "overdue" and phase["gate"]["met"] is False
    missing = {(m["unit"], m["artifact"]) for m in phase["gate"]["missing"]}
    assert ("school-1", "implementation_plan") not in missing and ("school-2", "implementation_plan") in missing
    assert all(set(m) == {"unit", "artifact", "due", "state"} and ISO.match(m["due"]) for m in phase["gate"]["missing"])
    assert status["obligations"]["total"] == 26 and status["obligations"]["filed"] == 1

    forced = campaign("advance", "zuofeng-2023", "--force", "--at", "2023-03-10T11:00", ok=False)
    assert forced.returncode == 2 and "--reason" in forced.stderr
    campaign("advance", "zuofeng-2023", "--force", "--reason", "督导组同意转段", "--by", "局办公室", "--at", "2023-03-10T11:00")
    status = json.loads(campaign("status", "zuofeng-2023", "--at", "2023-03-10T11:00", "--json").stdout)
    assert status["current_phase"] == "self_check" and status["phases"][0]["forced"] is True

    log = json.loads(campaign("audit", "log", "zuofeng-2023", "--json").stdout)
    forced_event = next(e for e in log if e["action"] == "phase.forced")
    assert forced_event["actor"] == "局办公室" and forced_event["after"]["reason"] == "督导组同意转段"
    assert forced_event["at"] == "2023-03-10T11:00:00+08:00"  # the --at instant, shown in the campaign's zone
    filing_event = next(e for e in log if e["action"] == "filing.created")
    assert filing_event["actor"] == "李明"
    assert campaign("audit", "verify").returncode == 0


def test_bad_input_names_what_is_wrong_and_changes_nothing(campaign, tmp_path):
    campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00")
    again = campaign("create", str(TEMPLATE), ok=False)
    assert again.returncode == 2 and "已存在" in again.stderr and "already exists" in again.stderr
    for args, words in [
        (("status", "nope"), "nope"),
        (("file", "zuofeng-2023", "--unit", "school-9", "--artifact", "study_record"), "school-9"),
        (("file", "zuofeng-2023", "--unit", "school-1", "--artifact", "poem"), "poem"),
        (("status", "zuofeng-2023", "--at", "next tuesday"), "--at"),
        (("review", "zuofeng-2023", "--unit", "school-1", "--artifact", "issue_list", "--accept"), "filed"),
        (("waive", "zuofeng-2023", "--unit", "school-1", "--artifact", "study_record", "--reason", " "), "--reason"),
    ]:
        result = campaign(*args, ok=False)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr and re.search(r"[\u4e00-\u9fff]", result.stderr), (args, result.stderr)
    log = json.loads(campaign("audit", "log", "--json").stdout)
    assert [e["action"] for e in log] == ["campaign.created"]


def test_units_file_with_a_bad_row_imports_nothing(campaign, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("key,name,parent,tags,contact name,email\nbureau,教育局,,机关,王主任,wang@example.cn\n"
                     "s1,第一小学,bureau,学校,张校长,not-an-email\n", encoding="utf-8")
    result = campaign("create", str(TEMPLATE), "--units", str(units), ok=False)
    assert result.returncode == 2 and "units.csv:3" in result.stderr
    assert json.loads(campaign("list", "--json").stdout) == []


def test_template_init_redates_to_another_year(campaign, tmp_path):
    spec = campaign("init", "zuofeng-2023", "--year", "2027").stdout
    assert "2027-04-05" in spec and "2023-04-05" not in spec
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    result = campaign("validate", str(path))
    assert "2027" in result.stderr  # no official holiday data yet: weekdays stand in, with a warning


def test_demo_runs_the_seed_campaign_over_a_year(campaign, tmp_path):
    result = campaign("demo")
    out = result.stdout
    assert "特批转段 (forced advance): mobilization" in out and "免报 (waived)" in out
    assert "其中 4 个逾期 (late)" in out  # the late implementation plans
    assert re.search(r"summary\s+completed", out) and "审计链 (audit chain): 完整 (intact)" in out
    assert (tmp_path / "home" / "demo" / "demo.db").exists()


def test_the_command_line_runs_on_postgresql(postgres, campaign):
    created = json.loads(campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00", "--json").stdout)
    assert created["obligations"] == 26
    tick = json.loads(campaign("tick", "zuofeng-2023", "--at", "2023-03-06T09:30", "--json").stdout)
    assert tick["phases"]["mobilization"] == "overdue" and tick["overdue_marked"] == 10
    # no channel configured: the reminders are written to the outbox file, and not counted as sent
    assert tick["reminders_planned"] == 10 and (tick["reminders_written"], tick["reminders_sent"]) == (10, 0)
    status = json.loads(campaign("status", "zuofeng-2023", "--at", "2023-03-06T09:30", "--json").stdout)
    assert status["obligations"]["overdue"] == 10 and status["current_phase"] == "mobilization"
    assert campaign("audit", "verify").returncode == 0


def test_tick_until_runs_successive_ticks_from_the_last_one(campaign):
    campaign("create", str(TEMPLATE), "--at", "2023-02-01T09:00")
    first = json.loads(campaign("tick", "zuofeng-2023", "--at", "2023-02-14T09:00", "--until", "2023-02-16T09:00",
                                "--every", "1d", "--json").stdout)
    assert [r["at"] for r in first] == ["2023-02-14T09:00:00+08:00", "2023-02-15T09:00:00+08:00",
                                        "2023-02-16T09:00:00+08:00"]
    assert first[0]["phases"]["mobilization"] == "active"
    more = json.loads(campaign("tick", "zuofeng-2023", "--until", "2023-02-18T09:00", "--every", "1d", "--json").stdout)
    assert [r["at"] for r in more] == ["2023-02-17T09:00:00+08:00", "2023-02-18T09:00:00+08:00"]
    past = campaign("tick", "zuofeng-2023", "--at", "2023-02-10T09:00", ok=False)
    assert past.returncode == 2 and "before the last tick" in past.stderr


def test_channels_are_listed_without_their_secrets(campaign, tmp_path):
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "channels.yaml").write_text(
        "channels:\n"
        "  - {name: mail, type: email, host: 127.0.0.1, port: 2525, security: none, sender: robot@example.cn,"
        " username: robot, password: hunter2-secret}\n"
        "  - {name: group, type: dingtalk, url: 'https://oapi.dingtalk.com/robot/send?access_token=tok-secret',"
        " secret: SEC-secret}\n", encoding="utf-8")
    result = campaign("channels", "--json")
    doc = json.loads(result.stdout)
    assert [c["name"] for c in doc["channels"]] == ["mail", "group"]
    assert "secret" not in result.stdout.replace('"secret": "***"', "")
    assert "hunter2" not in result.stdout and "tok-" not in result.stdout


# --- units: the spec's and a list's merged, names wherever a key is expected (issue 10, defects 2 and 7) ---

NEW_UNITS = ("单位代码,单位名称,上级单位,标签,联系人,邮箱\n"
             "chengdong,城东学区,县教文广新体局,学区,,\n"  # the parent by the name the spec gives it
             "chengdong-xiaoxue,城东小学,城东学区,学校,刘校长,liu@example.cn\n"  # by a name in this file
             "school-2,第二中学,bureau,学校,,\n")  # in the spec too, listed the same: one unit


def test_create_with_a_units_file_keeps_the_units_written_in_the_spec(campaign, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text(NEW_UNITS, encoding="utf-8")
    said = campaign("create", str(TEMPLATE), "--units", str(units), "--by", "局办公室", "--at", "2023-02-01T09:00").stdout
    assert "6 个单位" in said and "规格中 4 个 (from the spec)" in said and "名单中另有 2 个 (from the list)" in said
    assert "1 个两处都有 (in both)" in said
    listed = json.loads(campaign("units", "list", "zuofeng-2023", "--json").stdout)
    assert [(u["key"], u["parent"], u["depth"]) for u in listed] == [
        ("bureau", None, 0), ("school-1", "bureau", 1), ("school-2", "bureau", 1), ("culture-center", "bureau", 1),
        ("chengdong", "bureau", 1), ("chengdong-xiaoxue", "chengdong", 2)]
    assert listed[-1] == {"key": "chengdong-xiaoxue", "name": "城东小学", "parent": "chengdong", "parent_name": "城东学区",
                          "depth": 2, "tags": ["学校"], "active": True, "contacts": 1, "removed_reason": None}
    # the README's next step: the template's own school-1 is still there
    scan = tmp_path / "record.pdf"
    scan.write_bytes(b"%PDF-1.4 study record")
    campaign("file", "zuofeng-2023", "--unit", "school-1", "--artifact", "leading_group", "--file", str(scan),
             "--by", "局办公室", "--at", "2023-02-20T10:00")
    human = campaign("units", "list", "zuofeng-2023").stdout
    assert "6 个单位 (units)" in human and "    chengdong-xiaoxue  城东小学  上级 (parent): chengdong 城东学区" in human
    assert "liu@example.cn" not in human  # contacts are counted, not shown


def test_create_refuses_a_unit_listed_differently_in_the_spec_and_the_file(campaign, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text(NEW_UNITS + "school-1,一中,bureau,学校,,\n", encoding="utf-8")
    refused = campaign("create", str(TEMPLATE), "--units", str(units), "--by", "局办公室", ok=False)
    assert refused.returncode == 2
    assert "单位 'school-1'" in refused.stderr and "name: 规格 (spec) '第一中学'，名单 (list) '一中'" in refused.stderr
    assert "edit one of the two" in refused.stderr and "school-2" not in refused.stderr
    assert json.loads(campaign("list", "--json").stdout) == []


def test_units_import_accepts_a_parent_given_by_name(campaign, tmp_path):
    campaign("create", str(TEMPLATE), "--by", "局办公室", "--at", "2023-02-01T09:00")
    units = tmp_path / "all-units.csv"
    units.write_text("单位代码,单位名称,上级单位,标签\nbureau,县教文广新体局,,机关\nschool-1,第一中学,县教文广新体局,学校\n"
                     "school-2,第二中学,县教文广新体局,学校\nculture-center,县文化馆,县教文广新体局,文体下属单位\n"
                     "school-3,第三中学,县教文广新体局,学校\n", encoding="utf-8")
    done = json.loads(campaign("units", "import", "zuofeng-2023", str(units), "--by", "局办公室", "--at", "2023-02-10T09:00",
                                 "--json").stdout)
    assert (done["added"], done["updated"], done["removed"]) == (["school-3"], [], [])


def test_unit_and_artifact_by_name_on_the_command_line_and_suggestions_when_unknown(campaign, tmp_path):
    campaign("create", str(TEMPLATE), "--by", "局办公室", "--at", "2023-02-01T09:00")
    scan = tmp_path / "record.pdf"
    scan.write_bytes(b"%PDF-1.4 kickoff record")
    filed = json.loads(campaign("file", "zuofeng-2023", "--unit", "第一中学", "--artifact", "成立领导机构文件",
                                "--file", str(scan), "--by", "局办公室", "--at", "2023-02-20T10:00", "--json").stdout)
    assert (filed["unit"], filed["artifact"]) == ("school-1", "leading_group")
    unit = campaign("file", "zuofeng-2023", "--unit", "第一中", "--artifact", "leading_group", "--by", "局办公室",
                    ok=False)
    assert unit.returncode == 2
    assert "没有单位 '第一中' (no such unit" in unit.stderr and "是否指 (did you mean): school-1 第一中学" in unit.stderr
    kind = campaign("file", "zuofeng-2023", "--unit", "school-1", "--artifact", "issue_lst", "--by", "局办公室", ok=False)
    assert kind.returncode == 2 and "did you mean): issue_list 问题整改清单" in kind.stderr
    assert "kickoff_record 动员大会记录" in kind.stderr  # every kind, by key and title
    assert "Traceback" not in unit.stderr + kind.stderr
