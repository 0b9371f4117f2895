"""The notice (通报): overdue units by parent unit at an instant, as Markdown, Excel and from the command line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from campaign_model.spec import UnitSpec
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import import_units
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.notice_query import (
    NO_PARENT,
    NoticeData,
    NoticeGroup,
    NoticeItem,
    overdue_by_parent,
)
from flows.tick import tick_direct
from notifications.notice import HEADER, notice_message, render_markdown, write_xlsx

from .conftest import SMALL_SPEC, local

ROOT = Path(__file__).resolve().parent.parent
TITLE = "# 关于2023年作风整顿（测试）材料报送情况的通报"
S2_PLAN = NoticeItem("s2", "第二小学", "plan", "实施方案", "制定实施方案", local("2023-02-28T23:59:59"), 1, False)


class Driver:
    def __init__(self, engine, url: str, tmp: Path):
        self.engine, self.url, self.tmp = engine, url, tmp
        self.blobs = BlobStore(tmp / "files")

    def act(self, who: str, when: str) -> Act:
        return Act(local(when), who, local(when))

    def tick(self, when: str) -> None:
        tick_direct(self.url, "small-2023", self.act("tick", when), str(self.tmp / "outbox.jsonl"))

    def file(self, unit: str, artifact: str, when: str) -> None:
        kw: dict = {}
        if artifact == "plan":
            scan = self.tmp / f"{unit}-plan.pdf"
            scan.write_bytes(f"signed plan of {unit}".encode())
            kw = {"files": [scan], "signed_by": "校长"}
        if artifact == "issue_list":
            rows = self.tmp / f"{unit}-issues.csv"
            rows.write_text("problem,category,deadline\n会议多落实少,慢,2023-06-30\n", encoding="utf-8")
            kw = {"rows_file": rows}
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, "small-2023", unit, artifact, self.act(unit, when), **kw)

    def review(self, unit: str, accept: bool, when: str) -> None:
        with self.engine.begin() as conn:
            review(conn, "small-2023", unit, "issue_list", accept, None if accept else "整改措施不具体",
                   self.act("督导组", when))

    def notice(self, when: str) -> NoticeData:
        with self.engine.connect() as conn:
            return overdue_by_parent(conn, "small-2023", local(when))

    def s1_on_time_s2_not(self) -> None:
        self.tick("2023-02-14T08:00")
        self.file("s1", "plan", "2023-02-20T10:00")
        self.tick("2023-03-01T10:00")


def test_the_unit_that_did_not_file_is_listed_under_its_parent(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)
    d.s1_on_time_s2_not()
    assert d.notice("2023-02-28T23:00").groups == []  # not due yet
    n = d.notice("2023-03-01T10:00")
    assert n.groups == [NoticeGroup("d1", "城关学区", [S2_PLAN])]
    assert n.at == local("2023-03-01T10:00") and n.at.utcoffset() == dt.timedelta(hours=8)
    assert (n.units_overdue, n.items_overdue, n.due_total, n.filed_on_time, n.filed_late, n.waived) == (1, 1, 2, 1, 0, 0)
    assert n.title == "2023年作风整顿（测试）" and n.organizer_name == "教育局"
    assert d.notice("2023-03-10T10:00").groups[0].items[0].days_overdue == 10


def test_a_rejected_list_is_overdue_after_its_due_and_filed_or_waived_are_not(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)
    d.s1_on_time_s2_not()
    d.file("s2", "plan", "2023-03-02T10:00")
    d.tick("2023-03-06T00:30")
    d.file("s1", "issue_list", "2023-04-03T16:00")
    d.review("s1", True, "2023-04-03T17:00")
    d.file("s2", "issue_list", "2023-04-03T18:00")
    d.review("s2", False, "2023-04-04T09:00")
    assert d.notice("2023-04-04T18:00").groups == []  # rejected, but due 04-05: not yet overdue
    n = d.notice("2023-04-06T10:00")
    [item] = n.items
    assert (item.unit_key, item.artifact, item.artifact_title, item.step_title) == ("s2", "issue_list", "问题清单", "问题清单")
    assert (item.due, item.days_overdue, item.rejected) == (local("2023-04-05T23:59:59"), 1, True)
    assert (n.due_total, n.filed_on_time, n.filed_late, n.rejected_overdue) == (4, 2, 1, 1)
    assert "| 第二小学 | 问题清单 | 2023-04-05 23:59 | 1 | 退回未重报 |" in render_markdown(n)

    with engine.begin() as conn:
        waive(conn, "small-2023", "s2", "issue_list", "学校撤并", d.act("admin", "2023-04-07T09:00"))
    n = d.notice("2023-04-08T10:00")
    assert n.groups == [] and (n.waived, n.due_total) == (1, 4)
    # the organizer's own summary report, past due once its phase has started: the organizer answers to no one
    d.tick("2023-05-02T09:00")  # self_check's gate is met: it completes and summary starts
    [group] = d.notice("2023-05-02T10:00").groups
    assert (group.parent_key, group.parent_name, [i.unit_key for i in group.items]) == (None, NO_PARENT, ["bureau"])


def test_a_top_level_unit_answers_to_the_organizer(engine, db_url, small, tmp_path):
    from campaign_model.specfile import load_spec_text

    units = load_spec_text(SMALL_SPEC, "small.yaml").units + [UnitSpec(key="x1", name="县实验小学", tags=["学校"])]
    with engine.begin() as conn:
        import_units(conn, "small-2023", units, Act(local("2023-02-10T09:00"), "admin", local("2023-02-10T09:00")), None)
    d = Driver(engine, db_url, tmp_path)
    d.s1_on_time_s2_not()
    groups = d.notice("2023-03-01T10:00").groups
    assert [(g.parent_key, g.parent_name, [i.unit_key for i in g.items]) for g in groups] == [
        ("bureau", "教育局", ["x1"]), ("d1", "城关学区", ["s2"])]


def test_markdown_and_xlsx_of_the_notice(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)
    d.s1_on_time_s2_not()
    n = d.notice("2023-03-01T10:00")
    md = render_markdown(n)
    assert md.startswith(TITLE + "\n")
    assert "截至2023年3月1日 10:00" in md and "1 个单位的 1 项材料逾期未报" in md
    assert "## 一、城关学区（1 个单位，1 项）" in md
    assert "| 单位 | 材料 | 截止时间 | 逾期天数 | 状态 |" in md
    assert "| 第二小学 | 实施方案 | 2023-02-28 23:59 | 1 | 逾期未报 |" in md
    en = render_markdown(n, lang="en")
    assert "## 1. 城关学区 (1 unit(s), 1 item(s))" in en and "| 第二小学 | 实施方案 | 2023-02-28 23:59 | 1 | not filed |" in en

    path = tmp_path / "notice.xlsx"
    write_xlsx(n, path)
    ws = load_workbook(path)["通报"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0][0].startswith("关于2023年作风整顿（测试）材料报送情况的通报")
    assert rows[1] == HEADER == ["序号", "上级单位", "单位", "材料", "步骤", "截止时间", "逾期天数", "状态"]
    assert rows[2:] == [[1, "城关学区", "第二小学", "实施方案", "制定实施方案", dt.datetime(2023, 2, 28, 23, 59, 59), 1, "逾期未报"]]
    assert ws.freeze_panes == "A3" and all(c.font.b for c in ws[2])
    assert ws.column_dimensions["C"].width >= 10

    subject, text, markdown = notice_message(n)
    assert "1 个单位 1 项逾期未报" in subject and "第二小学：实施方案" in text and markdown == md


def test_rendering_without_overdue_units_and_with_awkward_names():
    at = local("2023-03-01T10:00")
    empty = NoticeData("c", "活动", None, None, at, [], 3, 3, 0, 0)
    assert "无逾期未报单位" in render_markdown(empty) and "##" not in render_markdown(empty)
    item = NoticeItem("u", "一|二", "plan", "方案", "步骤", at - dt.timedelta(days=3), 3, False)
    data = NoticeData("c", "活动", "Campaign", "局", at, [NoticeGroup(f"p{k}", f"学区{k}", [item]) for k in range(12)], 12, 0, 0, 0)
    md = render_markdown(data)
    assert "| 一\\|二 |" in md and "## 十二、学区11" in md and md.rstrip().endswith("局\n2023年3月1日")
    assert render_markdown(data, "en").startswith("# Notice on the filing of materials: Campaign")


@pytest.fixture
def sqlite_small(tmp_path):
    """The small campaign in a SQLite file that a command-line process can open, s2's plan overdue."""
    from campaign_model.specfile import load_spec_text
    from campaign_model.store.campaigns import create_campaign
    from campaign_model.store.db import open_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    eng = open_engine(url)
    with eng.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"),
                        Act(local("2023-02-01T09:00"), "admin", local("2023-02-01T09:00")))
    Driver(eng, url, tmp_path).s1_on_time_s2_not()
    eng.dispose()
    return url


# registers the command the way cli.py does, unless cli.py already has it
RUN = ("import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import app, main; "
       "from campaign_app.cli_notice import notice_app; "
       "[app.registered_commands.append(c) for c in notice_app.registered_commands "
       " if c.name not in {x.name for x in app.registered_commands}]; main()")


def test_the_notice_from_the_command_line(sqlite_small, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home"), "CAMPAIGN_DB_URL": sqlite_small}

    def run(*args: str, campaign: str = "small-2023") -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-c", RUN, "notice", campaign, *args], check=False,
                                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    shown = run("--at", "2023-03-01T10:00")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(TITLE) and "| 第二小学 | 实施方案 | 2023-02-28 23:59 | 1 | 逾期未报 |" in shown.stdout
    assert "not filed" in run("--at", "2023-03-01T10:00", "--lang", "en").stdout

    out = tmp_path / "out" / "通报.xlsx"
    out.parent.mkdir()
    written = run("--at", "2023-03-01T10:00", "--format", "xlsx", "--out", str(out))
    assert written.returncode == 0 and str(out) in written.stdout, written.stderr
    rows = list(load_workbook(out)["通报"].iter_rows(min_row=3, values_only=True))
    assert [r[1:4] for r in rows] == [("城关学区", "第二小学", "实施方案")]

    for args, words in [(("--format", "pdf"), "--format"), (("--format", "xlsx"), "--out"),
                        (("--lang", "fr"), "--lang"), (("--at", "next week"), "--at")]:
        bad = run(*args)
        assert bad.returncode == 2 and words in bad.stderr and "错误" in bad.stderr, (args, bad.stderr)
    missing = run(campaign="nope")
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_a_unit_name_that_looks_like_a_formula_stays_text_in_the_workbook(tmp_path):
    import datetime as dt

    from openpyxl import load_workbook

    from campaign_model.store.notice_query import NoticeData, NoticeGroup, NoticeItem
    from notifications.notice import write_xlsx

    at = dt.datetime(2023, 3, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    item = NoticeItem("s9", '=HYPERLINK("http://x","y")', "plan", "实施方案", "制定实施方案",
                      at - dt.timedelta(days=3), 3, False)
    data = NoticeData("k", "活动", None, "教育局", at, [NoticeGroup("d1", "城关学区", [item])], 1, 0, 0, 0)
    path = tmp_path / "notice.xlsx"
    write_xlsx(data, path)
    cell = load_workbook(path).active["C3"]
    assert cell.value == '=HYPERLINK("http://x","y")' and cell.data_type == "s"
