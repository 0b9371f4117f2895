"""The README's first steps, run as a newcomer runs them: the commands of its 快速上手 block, in order,
from a fresh data directory, with the two sample files it names, each step's output checked.

The commands are read from the README itself, so the README cannot drift from what works: a command
added there without an expectation here fails the test, and so does an expectation whose command is
gone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def first_steps() -> list[list[str]]:
    """The commands of the README's first-steps block as argument lists: continuation lines joined,
    comments dropped (as the shell reads them)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## 快速上手 \(first steps\).*?```sh\n(.*?)```", text, re.S)
    assert block, "the README has no 快速上手 (first steps) block"
    joined = block.group(1).replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def _out(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# Each step of the README, by the start of its command line, and what a newcomer must see.
EXPECT = {
    "export CAMPAIGN_ACTOR=": lambda r, home: None,
    "campaign template list": lambda r, home: _all_in(_out(r), "zuofeng-2023", "作风整顿"),
    "campaign init zuofeng-2023 --year 2026": lambda r, home: _spec_redated(home / "spec.yaml"),
    "campaign validate spec.yaml": lambda r, home: _all_in(_out(r), "有效 (valid)", "zuofeng-2026"),
    "campaign create spec.yaml --units examples/units.csv": lambda r, home: _all_in(
        _out(r), "已创建活动 zuofeng-2026", "16 个单位", "98 项应报材料"),
    "campaign units list zuofeng-2026": lambda r, home: _all_in(_out(r), "城关学区", "城关第一小学", "school-1"),
    "campaign status zuofeng-2026 --at 2026-02-20": lambda r, home: _all_in(_out(r), "逾期 (overdue) 0"),
    "campaign tick zuofeng-2026 --at 2026-03-16T10:00": lambda r, home: _first_tick(_out(r), home),
    "campaign template workbook zuofeng-2026 issue_list": lambda r, home: _blank_workbook(home / "问题清单.xlsx"),
    "campaign file zuofeng-2026 --unit 城关第一小学": lambda r, home: _all_in(
        _out(r), "已报送 (filed)", "第 1 版", "3 条整改台账"),
    "campaign ledger zuofeng-2026 --unit 城关第一小学": lambda r, home: _ledger(_out(r)),
    "campaign notice zuofeng-2026": lambda r, home: _notice(_out(r)),
    "campaign status zuofeng-2026 --at 2026-03-23T09:00": lambda r, home: _all_in(
        _out(r), "已报送 (filed) 1", "逾期 (overdue) 46", "mobilization     已逾期 (overdue)",
        "注意 (note): 阶段 学习动员 已过计划结束日期", "campaign advance zuofeng-2026 --force --reason"),
    "campaign audit verify": lambda r, home: _all_in(_out(r), "审计链完整"),
}


def _all_in(text: str, *parts: str) -> None:
    for part in parts:
        assert part in text, f"{part!r} not in:\n{text}"


def _spec_redated(spec: Path) -> None:
    import datetime as dt

    import chinese_calendar
    import yaml

    text = spec.read_text(encoding="utf-8")
    assert "zuofeng-2023" in text.splitlines()[0], text.splitlines()[0]  # the header says where it came from
    doc = yaml.safe_load(text)
    assert doc["key"] == "zuofeng-2026"
    first = dt.date.fromisoformat(str(doc["phases"][0]["start"]))
    assert first.year == 2026 and chinese_calendar.is_workday(first), first  # not in the Spring Festival


def _first_tick(text: str, home: Path) -> None:
    # no channel is configured: the reminders are written to the outbox file, and the tick says so
    # 自查自纠 opens on its date (opens: on_date) while 学习动员, past its window, still waits for its filings
    _all_in(text, "逾期 (overdue) +46", "已写入发件箱文件", "mobilization=overdue", "self_check=active")
    written = (home / ".campaignflow" / "outbox" / "zuofeng-2026.jsonl").read_text(encoding="utf-8").splitlines()
    assert written, "nothing in the outbox file"
    message = json.loads(written[0])
    assert "campaign file" not in json.dumps(message, ensure_ascii=False)  # words for a clerk, not a command line


def _blank_workbook(path: Path) -> None:
    book = load_workbook(path)
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "问题整改清单"  # the title row; the header below the stamp-and-signature line
    headers = [c.value for c in sheet[3]]
    assert headers[:3] == ["序号", "存在问题", "问题类别"] and headers[-1] == "长效机制", headers
    assert sheet.data_validations.dataValidation, "no drop-down in the blank workbook"


def _ledger(text: str) -> None:
    lines = [line for line in text.splitlines() if line.startswith("#")]
    assert len(lines) == 3 and all("未整改" in line and "逾期" not in line for line in lines), text


def _notice(text: str) -> None:
    _all_in(text, "通报", "城关第一小学", "实施方案")
    assert "问题整改清单" not in text, text  # the self-check phase has not opened: its artifacts are late for no one
    assert not re.search(r"\([A-Za-z][A-Za-z ]+\)", text), text  # the campaign's language only


def test_every_first_step_of_the_readme_runs_from_a_fresh_data_directory(tmp_path):
    steps = first_steps()
    assert steps[0] == [".", ".venv/bin/activate"], steps[0]
    lines = [" ".join(words) for words in steps[1:]]
    matched = {prefix: [line for line in lines if line.startswith(prefix)] for prefix in EXPECT}
    assert all(len(m) == 1 for m in matched.values()), {p: m for p, m in matched.items() if len(m) != 1}
    assert len(lines) == len(EXPECT), [line for line in lines if not any(line.startswith(p) for p in EXPECT)]

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")}
    env.update({"CAMPAIGN_HOME": str(tmp_path / ".campaignflow"), "PATH": f"{BIN}{os.pathsep}{env['PATH']}",
                "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(tmp_path / "prefect"))})
    for words, line in zip(steps[1:], lines, strict=True):
        check = EXPECT[next(p for p in EXPECT if line.startswith(p))]
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        redirect = None
        if ">" in words:
            words, redirect = words[:words.index(">")], words[words.index(">") + 1]
        result = subprocess.run(words, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        assert "Traceback" not in result.stderr, (line, result.stderr)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        if redirect:
            (tmp_path / redirect).write_text(result.stdout, encoding="utf-8")
        check(result, tmp_path)
