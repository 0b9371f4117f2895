"""`campaign validate FILE` as a real process: exit 0, or exit 2 with every problem as
`FILE:LINE: path.to.field: message` (Chinese first, English in brackets), never a traceback.

The spec checker works in two passes: pydantic checks the structure (types, expressions, time
zones) first, and the cross-references (artifact kinds, units, phase order, due dates) are checked
only once the structure is valid. The "several problems at once" tests therefore use one spec per
pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "campaign_model" / "templates" / "zuofeng-2023.yaml"
TEMPLATE_TEXT = TEMPLATE.read_text(encoding="utf-8")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
CLI = "import sys; from campaign_app.cli import main; sys.argv[0]='campaign'; main()"

# A small valid spec (2023, covered by the `cn` calendar data) that the tests break one way at a time.
MINI = textwrap.dedent("""\
    version: 1
    key: demo-2023
    title: 2023年测试活动
    timezone: Asia/Shanghai
    calendar: cn
    organizer: bureau
    units:
      - {key: bureau, name: 局机关}
      - {key: school-1, name: 第一中学, parent: bureau}
      - {key: school-2, name: 第二中学, parent: bureau}
    artifacts:
      plan:
        title: 实施方案
      issue_list:
        title: 问题清单
        rows:
          problem: {title: 问题, type: text, required: true}
          deadline:
            title: 整改时限
            type: date
    phases:
      - key: mobilization
        title: 学习发动
        kind: mobilization
        start: 2023-02-14
        end: 2023-03-05
        steps:
          - key: plan
            title: 制定方案
            due: start + 10 workdays
            requires:
              - artifact: plan
                from: all
      - key: self_check
        title: 自查自纠
        kind: self_check
        start: 2023-03-06
        end: 2023-03-31
        steps:
          - key: issues
            title: 形成问题清单
            due: end
            requires:
              - artifact: issue_list
                from: all
    """)


# --- helpers -------------------------------------------------------------------------------------


Run = Callable[..., subprocess.CompletedProcess[str]]
Write = Callable[..., Path]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """run(*args) -> CompletedProcess: the `campaign` CLI as a subprocess, its data under tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("CAMPAIGN_DEBUG", "CAMPAIGN_DB_URL")}
    env.update(PYTHONPATH=str(ROOT), CAMPAIGN_HOME=str(tmp_path / "home"), PYTHONIOENCODING="utf-8")

    def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-c", CLI, *map(str, args)], cwd=ROOT, env=env,
                                capture_output=True, text=True, encoding="utf-8", timeout=120)
        assert "Traceback" not in result.stderr, result.stderr
        assert "Traceback" not in result.stdout, result.stdout
        return result

    return _run


@pytest.fixture
def write_spec(tmp_path: Path) -> Write:
    """write_spec(content, name=...) -> Path: a dict is dumped as YAML, a str written as is."""

    def _write(content: str | dict[str, Any] | list[Any], name: str = "spec.yaml") -> Path:
        if not isinstance(content, str):
            content = yaml.safe_dump(content, allow_unicode=True, sort_keys=False)
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        return path

    return _write


def patched(text: str, *replacements: tuple[str, str]) -> str:
    """`text` with each (old, new) replaced; each `old` must occur exactly once."""
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """The 1-based number of the `nth` line of the file that contains `needle`."""
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} found {len(hits)} times in {path}"
    return hits[nth - 1]


def lines(stream: str) -> list[str]:
    return [line for line in stream.splitlines() if line.strip()]


def find_problem(stderr: str, file: Path | str, line: int | None, path: str, fragment: str,
                 warning: bool = False) -> str:
    """The one stderr line `FILE:LINE: path: [warning: ]message` whose message contains `fragment`."""
    where = f"{file}:{line}" if line else f"{file}"
    prefix = f"{where}: {path}: " if path else f"{where}: "
    if warning:
        prefix += "warning: "
    hits = [ln for ln in lines(stderr) if ln.startswith(prefix) and fragment in ln]
    assert len(hits) == 1, f"expected one line starting {prefix!r} containing {fragment!r}; stderr:\n{stderr}"
    if not warning:
        assert not hits[0][len(prefix):].startswith("warning:"), hits[0]
    return hits[0]


def assert_rejected(result: subprocess.CompletedProcess[str], count: int | None = None) -> list[str]:
    """Exit 2, nothing on stdout, every stderr line bilingual; `count` error lines if given."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    errors = [ln for ln in lines(result.stderr) if ": warning: " not in ln]
    assert errors, "exit 2 without a message"
    for ln in lines(result.stderr):
        assert CHINESE.search(ln), f"message without Chinese: {ln!r}"
    if count is not None:
        assert len(errors) == count, result.stderr
    return errors


# --- valid specs ---------------------------------------------------------------------------------


def test_mini_spec_is_valid_and_silent(run: Run, write_spec: Write) -> None:
    path = write_spec(MINI)
    result = run("validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"{path}: 有效 (valid) — demo-2023: 2 个阶段 (phases), 3 个单位 (units)" in result.stdout


def test_template_is_valid_and_warns_about_the_seed_due_after_its_phase(run: Run, write_spec: Write) -> None:
    path = write_spec(TEMPLATE_TEXT, "zuofeng-2023.yaml")
    result = run("validate", path)
    assert result.returncode == 0, result.stderr
    assert "有效 (valid)" in result.stdout and "zuofeng-2023" in result.stdout
    line = line_of(path, "due: 2023-04-05")  # the issue list's step (seed 002: 4月5日前), wherever comments put it
    assert "due: 2023-04-05" in Path(path).read_text(encoding="utf-8").splitlines()[line - 1]
    warning = find_problem(result.stderr, path, line, "phases[1].steps[0].due", "due after its phase ends", warning=True)
    assert "2023-04-05" in warning and "2023-03-31" in warning and CHINESE.search(warning)
    assert lines(result.stderr) == [warning]


def test_a_2027_spec_from_init_is_valid_with_a_calendar_warning_naming_2027(run: Run, tmp_path: Path) -> None:
    init = run("init", "zuofeng-2023", "--year", "2027")
    assert init.returncode == 0, init.stderr
    # 2027-02-14 is a Sunday: the kick-off (a Tuesday in 2023) moves to the Monday, with a note
    assert "start: 2027-02-15  # 改期：2027-02-14 是周日" in init.stdout and "2023-" not in init.stdout
    path = tmp_path / "zuofeng-2027.yaml"
    path.write_text(init.stdout, encoding="utf-8")
    result = run("validate", path)
    assert result.returncode == 0, result.stderr
    assert "zuofeng-2027" in result.stdout
    warning = find_problem(result.stderr, path, line_of(path, "calendar: cn"), "calendar", "2027", warning=True)
    assert "no official holiday data for 2027" in warning and "2027 年" in warning
    # the seed's due date after its phase's end moves with the year and stays a warning
    find_problem(result.stderr, path, line_of(path, "due: 2027-04-05"), "phases[1].steps[0].due",
                 "due after its phase ends", warning=True)
    assert len(lines(result.stderr)) == 2


# --- several problems at once --------------------------------------------------------------------


def test_structural_problems_are_all_reported_each_on_its_own_line(run: Run, write_spec: Write) -> None:
    """First pass (pydantic): unknown time zone, bad due expressions, bad column type, unknown field."""
    path = write_spec(patched(
        MINI,
        ("timezone: Asia/Shanghai", "timezone: Mars/Olympus_Mons"),
        ("due: start + 10 workdays", "due: start + ten days"),
        ("due: end\n", "due: whenever\n"),
        ("    type: date", "    type: datetime"),
        ("calendar: cn", "calendar: cn\nowner: 张三"),
    ))
    result = run("validate", path)
    errors = assert_rejected(result, count=5)
    got = [
        find_problem(result.stderr, path, line_of(path, "timezone:"), "timezone", "Mars/Olympus_Mons"),
        find_problem(result.stderr, path, line_of(path, "due: start + ten days"), "phases[0].steps[0].due", "ten days"),
        find_problem(result.stderr, path, line_of(path, "due: whenever"), "phases[1].steps[0].due", "whenever"),
        find_problem(result.stderr, path, line_of(path, "type: datetime"), "artifacts.issue_list.rows.deadline.type",
                     "取值不在允许范围内"),
        find_problem(result.stderr, path, line_of(path, "owner:"), "owner", "unknown field"),
    ]
    assert sorted(got) == sorted(errors)
    assert "unknown time zone" in got[0] and "未知时区" in got[0]


def test_cross_reference_problems_are_all_reported_each_on_its_own_line(run: Run, write_spec: Write) -> None:
    """Second pass: unknown artifact kinds, unknown units in `from`, end before start, unknown gate kind."""
    path = write_spec(patched(
        MINI,
        ("          - artifact: plan\n            from: all\n",
         "          - artifact: plann\n            from: all\n"
         "          - artifact: plan\n            from:\n              - school-1\n              - school-9\n"),
        ("end: 2023-03-31", "end: 2023-03-01\n    gate:\n      artifacts: [plan, minutes]"),
    ))
    result = run("validate", path)
    errors = assert_rejected(result, count=4)
    got = [
        find_problem(result.stderr, path, line_of(path, "artifact: plann"), "phases[0].steps[0].requires[0].artifact",
                     "unknown artifact kind"),
        find_problem(result.stderr, path, line_of(path, "- school-9"), "phases[0].steps[0].requires[1].from[1]",
                     "'school-9'"),
        find_problem(result.stderr, path, line_of(path, "end: 2023-03-01"), "phases[1].end", "end is before start"),
        find_problem(result.stderr, path, line_of(path, "artifacts: [plan, minutes]"), "phases[1].gate.artifacts[1]",
                     "'minutes'"),
    ]
    assert sorted(got) == sorted(errors)
    assert "未定义的材料类型 'plann'" in got[0]
    assert "未知单位" in got[1] and "unknown unit" in got[1]
    assert "2023-03-01" in got[2] and "2023-03-06" in got[2]


# --- one problem at a time -----------------------------------------------------------------------


def test_phases_out_of_order(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("start: 2023-03-06", "start: 2023-02-01"), ("end: 2023-03-31", "end: 2023-02-10")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    line = find_problem(result.stderr, path, line_of(path, "start: 2023-02-01"), "phases[1].start", "phases out of order")
    assert "阶段顺序错误" in line and "mobilization" in line


def test_due_date_before_its_phase_starts(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("due: start + 10 workdays", "due: 2023-02-01")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    line = find_problem(result.stderr, path, line_of(path, "due: 2023-02-01"), "phases[0].steps[0].due",
                        "due before its phase starts")
    assert "2023-02-01" in line and "2023-02-14" in line


def test_due_date_after_its_phase_ends_is_only_a_warning(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("due: end\n", "due: end + 3 days\n")))
    result = run("validate", path)
    assert result.returncode == 0, result.stderr
    find_problem(result.stderr, path, line_of(path, "due: end + 3 days"), "phases[1].steps[0].due",
                 "due after its phase ends", warning=True)


def test_duplicate_phase_key(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("- key: self_check", "- key: mobilization")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    find_problem(result.stderr, path, line_of(path, "- key: mobilization", nth=2), "phases[1].key", "duplicate phase key")


def test_duplicate_unit_key(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("{key: school-2,", "{key: school-1,")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    line = find_problem(result.stderr, path, line_of(path, "name: 第二中学"), "units[2].key", "duplicate unit key")
    assert "单位代码重复 'school-1'" in line


def test_duplicate_step_key(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("      - key: issues\n",
                                     "      - key: issues\n        title: 第一次\n        due: start + 3 days\n"
                                     "      - key: issues\n")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    find_problem(result.stderr, path, line_of(path, "- key: issues", nth=2), "phases[1].steps[1].key", "duplicate step key")


def test_duplicate_yaml_mapping_keys_are_all_reported(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("calendar: cn\n", "calendar: cn\ntimezone: Asia/Urumqi\n"),
                              ("    title: 自查自纠\n", "    title: 自查自纠\n    title: 重复的标题\n")))
    result = run("validate", path)
    assert_rejected(result, count=2)
    find_problem(result.stderr, path, line_of(path, "timezone:", nth=2), "timezone", "duplicate key")
    line = find_problem(result.stderr, path, line_of(path, "title: 重复的标题"), "phases[1].title", "duplicate key")
    assert "重复的键" in line


def test_children_of_an_unknown_unit(run: Run, write_spec: Write) -> None:
    path = write_spec(MINI.replace("            from: all\n", "            from: children:nobody\n", 1))
    result = run("validate", path)
    assert_rejected(result, count=1)
    line = find_problem(result.stderr, path, line_of(path, "from: children:nobody"), "phases[0].steps[0].requires[0].from",
                        "unknown unit")
    assert "'nobody'" in line


@pytest.mark.parametrize(("old", "new", "needle", "path", "fragment"), [
    ("  type: date", "  type: timestamp", "type: timestamp", "artifacts.issue_list.rows.deadline.type",
     "'text', 'date', 'number', 'integer' or 'choice'"),
    ("  type: date", "  type: date\n        format: YYYY-MM-DD", "format:", "artifacts.issue_list.rows.deadline.format",
     "未知字段 (unknown field)"),
    ("required: true}", "required: maybe}", "required: maybe", "artifacts.issue_list.rows.problem.required",
     "true or false"),
    ("problem: {title", "bad key!: {title", "bad key!", "artifacts.issue_list.rows.bad key!", "代码只能包含"),
], ids=["column-type", "column-unknown-field", "column-required-not-bool", "column-bad-key"])
def test_rows_schema_problems(run: Run, write_spec: Write, old: str, new: str, needle: str, path: str,
                              fragment: str) -> None:
    spec = write_spec(patched(MINI, (old, new)))
    result = run("validate", spec)
    assert_rejected(result, count=1)
    find_problem(result.stderr, spec, line_of(spec, needle), path, fragment)


def test_rows_column_named_date_keeps_its_name_in_the_path(run: Run, write_spec: Write) -> None:
    """A column may be called `date`; its problems must still point at that column."""
    spec = write_spec(patched(MINI, ("      deadline:\n", "      date:\n")))
    ok = run("validate", spec)
    assert ok.returncode == 0, ok.stderr
    spec = write_spec(patched(MINI, ("      deadline:\n", "      date:\n"), ("  type: date", "  type: day")))
    result = run("validate", spec)
    assert_rejected(result, count=1)
    find_problem(result.stderr, spec, line_of(spec, "type: day"), "artifacts.issue_list.rows.date.type", "取值不在允许范围内")


def test_an_invalid_key_in_a_from_list_is_one_problem_at_its_item(run: Run, write_spec: Write) -> None:
    spec = write_spec(MINI.replace("            from: all\n", "            from:\n              - school-1\n"
                                                                "              - 'bad key!'\n", 1))
    result = run("validate", spec)
    assert_rejected(result, count=1)
    find_problem(result.stderr, spec, line_of(spec, "- 'bad key!'"), "phases[0].steps[0].requires[0].from[1]", "代码只能包含")


def test_unknown_top_level_field(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("organizer: bureau\n", "organizer: bureau\ndeadline_policy: strict\n")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    find_problem(result.stderr, path, line_of(path, "deadline_policy:"), "deadline_policy", "未知字段 (unknown field)")


# --- files that are not specs at all -------------------------------------------------------------


def test_yaml_syntax_error_reports_its_line(run: Run, write_spec: Write) -> None:
    path = write_spec(patched(MINI, ("    title: 自查自纠\n", "    title: 自查自纠: 第二阶段\n")))
    result = run("validate", path)
    assert_rejected(result, count=1)
    line = find_problem(result.stderr, path, line_of(path, "自查自纠: 第二阶段"), "", "YAML 语法错误")
    assert "YAML syntax error" in line


@pytest.mark.parametrize("content", ["", "\n\n", "# 只有注释 (comments only)\n"],
                         ids=["empty", "blank-lines", "comments-only"])
def test_empty_file(run: Run, write_spec: Write, content: str) -> None:
    path = write_spec(content)
    result = run("validate", path)
    assert_rejected(result, count=1)
    assert lines(result.stderr) == [f"{path}: 文件为空 (the file is empty)"]


def test_missing_file(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "no-such-spec.yaml"
    result = run("validate", path)
    assert_rejected(result, count=1)
    assert lines(result.stderr) == [f"{path}: 文件不存在 (file not found)"]


def test_directory_and_non_utf8_file(run: Run, tmp_path: Path) -> None:
    result = run("validate", tmp_path)
    assert_rejected(result, count=1)
    assert lines(result.stderr)[0].startswith(f"{tmp_path}: 无法读取文件")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(MINI.encode("gbk"))
    result = run("validate", gbk)
    assert_rejected(result, count=1)
    assert lines(result.stderr)[0].startswith(f"{gbk}: 无法读取文件")


@pytest.mark.parametrize(("content", "line"), [
    (["version", "key", "title"], 1),
    ("# 规格 (spec)\n- version: 1\n- key: demo\n", 2),
    ("just some text\n", 1),
], ids=["list", "list-after-a-comment", "scalar"])
def test_a_document_that_is_not_a_mapping(run: Run, write_spec: Write, content: str | list[str], line: int) -> None:
    path = write_spec(content)
    result = run("validate", path)
    assert_rejected(result, count=1)
    assert lines(result.stderr) == [f"{path}:{line}: 规格文件应为映射 (a spec is a mapping of fields)"]


def test_a_spec_written_from_a_dict_is_checked_like_any_other(run: Run, write_spec: Write) -> None:
    data = yaml.safe_load(MINI)
    data["phases"][1]["kind"] = "celebration"
    path = write_spec(data)
    result = run("validate", path)
    assert_rejected(result, count=1)
    find_problem(result.stderr, path, line_of(path, "kind: celebration"), "phases[1].kind", "取值不在允许范围内")


# --- bad input must be exit 2 with a line, never an internal error -------------------------------


@pytest.mark.parametrize(("old", "new", "needle", "path"), [
    ("end: 2023-03-05", "end: 2023-02-30", "end: 2023-02-30", "phases[0].end"),
    ("end: 2023-03-05", "end: !date 2023-03-05", "end: !date", "phases[0].end"),
    ("timezone: Asia/Shanghai", "timezone: America", "timezone: America", "timezone"),
], ids=["impossible-calendar-date", "unknown-yaml-tag", "time-zone-that-is-a-region"])
def test_bad_values_are_reported_not_crashed_on(run: Run, write_spec: Write, old: str, new: str, needle: str,
                                               path: str) -> None:
    spec = write_spec(patched(MINI, (old, new)))
    result = run("validate", spec)
    assert "内部错误" not in result.stderr, result.stderr
    assert_rejected(result, count=1)
    find_problem(result.stderr, spec, line_of(spec, needle), path, "")


def test_a_complex_yaml_key_is_reported_not_crashed_on(run: Run, write_spec: Write) -> None:
    spec = write_spec(MINI + "? [a, b]\n: 1\n")
    result = run("validate", spec)
    assert "内部错误" not in result.stderr, result.stderr
    assert_rejected(result, count=1)
    assert lines(result.stderr)[0].startswith(f"{spec}:{line_of(spec, '? [a, b]')}: ")


# --- the bilingual rule --------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "needle", "path"), [
    ("- key: plan\n", f"- key: {'p' * 65}\n", "p" * 65, "phases[0].steps[0].key"),
    ("start: 2023-02-14", "start: 20230214", "start: 20230214", "phases[0].start"),
    ("calendar: cn\n", "calendar: cn\nholidays: [2023-10-01 10:00]\n", "holidays:", "holidays[0]"),
    ("version: 1", "version: 2", "version: 2", "version"),
    ("kind: mobilization", "kind: 7", "kind: 7", "phases[0].kind"),
    ("title: 2023年测试活动", "title: [a, b]", "title: [a, b]", "title"),
    ("organizer: bureau", "organizer: [bureau]", "organizer: [bureau]", "organizer"),
], ids=["key-too-long", "date-as-number", "holiday-with-time", "version", "kind-number", "title-list", "key-list"])
def test_every_structural_message_is_bilingual(run: Run, write_spec: Write, old: str, new: str, needle: str,
                                               path: str) -> None:
    spec = write_spec(patched(MINI, (old, new)))
    result = run("validate", spec)
    errors = assert_rejected(result)  # asserts Chinese in every line
    line = find_problem(result.stderr, spec, line_of(spec, needle), path, "")
    assert line in errors


# --- templates -----------------------------------------------------------------------------------


def test_template_list_json_has_the_four_templates(run: Run) -> None:
    result = run("template", "list", "--json")
    assert result.returncode == 0, result.stderr
    docs = json.loads(result.stdout)
    assert [d["name"] for d in docs] == ["baxiangguiding-pinggu", "qunzhongluxian-2014", "xuexishijian", "zuofeng-2023"]
    by_name = {d["name"]: d for d in docs}
    assert by_name["zuofeng-2023"]["year"] == 2023
    assert by_name["zuofeng-2023"]["phases"] == ["mobilization", "self_check", "rectification", "summary"]
    assert all(CHINESE.search(d["title"]) and d["key"] and d["phases"] for d in docs)


def test_template_show_prints_the_yaml_and_an_unknown_name_exits_2(run: Run) -> None:
    ok = run("template", "show", "zuofeng-2023")
    assert ok.returncode == 0 and ok.stdout == TEMPLATE_TEXT
    result = run("template", "show", "nope")
    assert_rejected(result, count=1)
    assert "'nope'" in result.stderr and "zuofeng-2023" in result.stderr


@pytest.mark.parametrize(("args", "fragment"), [
    (["validate"], "'file'"),
    (["validate", "--strict", "spec.yaml"], "--strict"),
    (["valdate", "spec.yaml"], "valdate"),
    ([], "validate"),  # no_args_is_help: the help, then exit 2
], ids=["missing-file-argument", "unknown-option", "unknown-command", "no-arguments"])
def test_usage_errors_exit_2_with_clicks_message_not_an_internal_error(run: Run, args: list[str], fragment: str) -> None:
    result = run(*args)
    assert "内部错误" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr + result.stdout
