"""Each shipped template walked through its seed's own dates: what the bureau's document says happens on those
days happens in the campaign (issue 13).

One campaign per template, created at the seed's year, ticked in this process (flows.tick.tick_direct) at the
seed's dates, with filings in between; each test asserts what the seed says of those dates. The seeds are in
../shared/seeds/ (000: 群众路线 2014, 001: 八项规定评估, 002: 作风整顿 2023, 004: 学习实践 2023).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaign_app.demo import pdf_document
from campaign_model.catalog import template_text
from campaign_model.specfile import load_spec_text
from campaign_model.store import queries
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.notice_query import overdue_by_parent
from campaign_model.store.tables import obligations, phases, requirements, units
from flows.tick import tick_direct
from notifications.notice import render_markdown

from .conftest import local


class Walk:
    """One template's campaign on a fresh SQLite file: tick at a local instant, file, look at the status."""

    def __init__(self, template: str, tmp: Path):
        self.loaded = load_spec_text(template_text(template), f"{template}.yaml")
        self.spec = self.loaded.spec
        self.key = self.spec.key
        self.url = f"sqlite:///{tmp / 'walk.db'}"
        self.engine = open_engine(self.url)
        self.blobs = BlobStore(tmp / "files")
        self.tmp = tmp
        self.outbox = str(tmp / "outbox.jsonl")
        created = dt.datetime.combine(self.spec.phases[0].start - dt.timedelta(days=7), dt.time(9), tzinfo=self.spec.tz)
        with self.engine.begin() as conn:
            create_campaign(conn, self.loaded, Act(created, "admin", created))

    def act(self, when: str, actor: str) -> Act:
        return Act(local(when), actor, local(when))

    def tick(self, when: str) -> dict[str, Any]:
        at = local(when)
        return tick_direct(self.url, self.key, Act(at, "tick", at), self.outbox)

    def status(self, when: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            return queries.status(conn, self.key, local(when))

    def phase(self, st: dict[str, Any], key: str) -> dict[str, Any]:
        return next(p for p in st["phases"] if p["key"] == key)

    def owed(self, phase: str, artifact: str | None = None) -> list[tuple[str, str, str]]:
        """(unit, artifact, step) of the phase's open obligations."""
        with self.engine.begin() as conn:
            q = (select(units.c.key, obligations.c.artifact, requirements.c.step_key)
                 .join(units, units.c.id == obligations.c.unit_id)
                 .join(requirements, requirements.c.id == obligations.c.requirement_id)
                 .join(phases, phases.c.id == obligations.c.phase_id)
                 .where(phases.c.key == phase, obligations.c.state.in_(("pending", "rejected")),
                        units.c.campaign_id == phases.c.campaign_id)
                 .order_by(units.c.key, obligations.c.artifact))
            if artifact is not None:
                q = q.where(obligations.c.artifact == artifact)
            return [(u, a, s) for u, a, s in conn.execute(q).tuples().all()]

    def rows(self, artifact: str, unit: str) -> Path:
        """A one-row CSV matching the kind's columns (a tally gets 45 voters, all satisfied, as seed 004's vote)."""
        kind = self.spec.artifacts[artifact]
        assert kind.rows is not None
        year = self.spec.phases[-1].end.year
        values = []
        for name, col in kind.rows.items():
            if col.type == "choice":
                values.append((col.choices or ["x"])[0])
            elif col.type == "date":
                values.append(f"{year}-12-31")
            elif col.type in ("integer", "number"):
                values.append("45" if kind.tally and name in kind.tally.positive else "0")
            else:
                values.append(f"{unit}的{col.title}")
        path = self.tmp / f"{unit}-{artifact}.csv"
        path.write_text(",".join(kind.rows) + "\n" + ",".join(values) + "\n", encoding="utf-8")
        return path

    def file(self, unit: str, artifact: str, when: str, step: str | None = None) -> dict[str, Any]:
        kind = self.spec.artifacts[artifact]
        at = local(when)
        with self.engine.begin() as conn:
            if kind.acknowledge:
                return file_artifact(conn, self.blobs, self.key, unit, artifact, Act(at, unit, at), signed_by="负责人",
                                     step=step)
            return file_artifact(conn, self.blobs, self.key, unit, artifact, Act(at, unit, at),
                                 files=[(pdf_document(kind.title, [unit, when]), f"{artifact}.pdf")],
                                 rows_file=self.rows(artifact, unit) if kind.rows else None, signed_by="负责人", step=step)

    def file_all(self, phase: str, when: str, *, but: set[tuple[str, str]] = frozenset()) -> None:  # type: ignore[assignment]
        for unit, artifact, step in self.owed(phase):
            if (unit, artifact) not in but:
                self.file(unit, artifact, when, step)

    def obligations(self, when: str) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            return queries.obligation_list(conn, self.key, local(when))

    def obligation(self, unit: str, artifact: str, when: str) -> dict[str, Any]:
        return next(o for o in self.obligations(when) if o["unit"] == unit and o["artifact"] == artifact)

    def reviewer(self, artifact: str) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(select(requirements.c.reviewer).where(requirements.c.artifact == artifact)).scalar_one()


@pytest.fixture
def walk(tmp_path: Path):
    return lambda template: Walk(template, tmp_path)


def test_seed_002_rectification_opens_on_04_01_while_issue_lists_are_still_due(walk) -> None:
    """Seed 002: 第二阶段(3月6日—3月31日) … 问题整改清单于4月5日前完成 … 向局办公室报备; 第三阶段(4月1日—10月31日)."""
    w = walk("zuofeng-2023")
    assert [p.title for p in w.spec.phases][0] == "学习动员"
    w.tick("2023-02-14T09:00")
    assert w.status("2023-02-14T09:00")["running_phases"] == ["mobilization"]
    # every mobilization artifact is in but one school's study record
    w.file_all("mobilization", "2023-03-03T16:00", but={("school-2", "study_record")})
    # 03-06: 自查自纠 opens on its date while 学习动员 is still held by the missing study record
    w.tick("2023-03-06T09:30")
    st = w.status("2023-03-06T09:30")
    assert st["running_phases"] == ["mobilization", "self_check"]
    assert w.phase(st, "self_check")["started_at"] == "2023-03-06T00:00:00+08:00"
    assert w.phase(st, "mobilization")["state"] == "overdue" and not w.phase(st, "mobilization")["gate"]["met"]
    # the late study record stays overdue and is reminded while the next phase runs
    assert w.obligation("school-2", "study_record", "2023-03-06T09:30")["state"] == "overdue"
    with w.engine.begin() as conn:
        waive(conn, w.key, "school-2", "study_record", "学校撤并中，学习记录并入邻校 (merged)", w.act("2023-03-10T10:00", "局办公室"))
    w.tick("2023-03-10T10:05")
    st = w.status("2023-03-10T10:05")
    assert w.phase(st, "mobilization")["state"] == "completed" and st["running_phases"] == ["self_check"]

    # issue lists filed (报备) by all but one unit on 04-03: filed is done, no review waits
    w.file_all("self_check", "2023-04-03T16:00", but={("culture-center", "issue_list")})
    # 04-01 .. : 综合整治 opened on 04-01 with the issue lists still due 04-05
    w.tick("2023-04-01T09:30")
    st = w.status("2023-04-01T09:30")
    assert st["running_phases"] == ["self_check", "rectification"]
    assert w.phase(st, "rectification")["started_at"] == "2023-04-01T00:00:00+08:00"
    assert w.phase(st, "rectification")["state"] == "active"
    assert w.obligation("culture-center", "issue_list", "2023-04-04T09:30")["state"] == "pending"  # due 04-05, not late
    w.tick("2023-04-04T09:30")
    st = w.status("2023-04-04T09:30")
    assert w.obligation("school-1", "issue_list", "2023-04-04T09:30")["state"] == "filed"  # 报备: no review
    assert [m["unit"] for m in w.phase(st, "self_check")["gate"]["missing"]] == ["culture-center"]
    # 04-06: the missing list is overdue and named in the notice, while 综合整治 runs
    w.tick("2023-04-06T09:30")
    st = w.status("2023-04-06T09:30")
    assert w.obligation("culture-center", "issue_list", "2023-04-06T09:30")["state"] == "overdue"
    assert st["running_phases"] == ["self_check", "rectification"]
    with w.engine.begin() as conn:
        notice = render_markdown(overdue_by_parent(conn, w.key, local("2023-04-06T09:30")))
    assert "县文化馆" in notice and "问题整改清单" in notice
    assert "县教文广新体系统干部作风整顿领导小组办公室" in notice and "教文广新体作风办〔2023〕" in notice
    # filed late on 04-10: 自查自纠 completes (by its own gate), 综合整治 goes on
    w.file("culture-center", "issue_list", "2023-04-10T11:00")
    result = w.tick("2023-04-10T11:30")
    assert "self_check" in result["advanced"]
    st = w.status("2023-04-10T11:30")
    assert st["running_phases"] == ["rectification"]
    assert w.phase(st, "self_check")["completed_at"] == "2023-04-10T11:00:00+08:00"
    # 11-01: 总结提高 opens on its date (到年底根本结束) while 综合整治 still owes its 三项评议
    for step in ("action_discipline", "action_accountability", "action_benchmarking", "action_capability", "action_efficiency"):
        w.file("bureau", "special_action_report", "2023-09-28T10:00", step=step)  # the five 专项行动, one report each
    w.tick("2023-11-01T09:30")
    st = w.status("2023-11-01T09:30")
    assert st["running_phases"] == ["rectification", "summary"]
    assert w.obligation("bureau", "evaluation_report", "2023-11-01T09:30")["state"] == "overdue"
    # phases complete in order: 综合整治 first, then 总结提高 (no earlier than the one before it)
    w.file("bureau", "evaluation_report", "2023-11-02T10:00")
    w.tick("2023-11-02T10:30")
    st = w.status("2023-11-02T10:30")
    assert w.phase(st, "rectification")["state"] == "completed" and st["running_phases"] == ["summary"]


def test_seed_004_third_phase_waits_for_the_satisfaction_vote(walk) -> None:
    """Seed 004: 6月10日 转段工作会议 (分析检查 after 学习调研); 初稿形成后，送区指导检查组组长批阅;
    6月25日 满意度测评大会 (45人参与 … 满意率达100%) before 进入整改落实阶段."""
    w = walk("xuexishijian")
    assert w.reviewer("analysis_report") == {"zh": "区指导检查组", "en": "District guidance and inspection group"}
    w.tick("2023-04-03T09:00")
    w.file_all("study_research", "2023-06-05T10:00", but={("yizhong", "study_record")})
    # 06-10: 分析检查 waits for 学习调研 (转段): one study record is missing
    w.tick("2023-06-10T09:00")
    st = w.status("2023-06-10T09:00")
    assert st["running_phases"] == ["study_research"] and w.phase(st, "analysis_check")["state"] == "pending"
    w.file("yizhong", "study_record", "2023-06-10T09:30")
    w.tick("2023-06-10T10:00")
    st = w.status("2023-06-10T10:00")
    assert st["running_phases"] == ["analysis_check"]
    assert w.phase(st, "analysis_check")["started_at"] == "2023-06-10T09:30:00+08:00"
    # the report goes to the 区指导检查组 (reviewed) on 06-20; every other paper of the phase is in by 06-30,
    # but not the satisfaction vote
    w.file_all("analysis_check", "2023-06-20T10:00", but={("bureau", "satisfaction_vote")})
    with w.engine.begin() as conn:
        review(conn, w.key, "bureau", "analysis_report", True, None, w.act("2023-06-21T10:00", "区指导检查组"))
    # 07-01: 整改落实's window has opened, but the phase waits for the vote (opens: after_previous)
    w.tick("2023-07-01T09:00")
    st = w.status("2023-07-01T09:00")
    assert st["running_phases"] == ["analysis_check"] and w.phase(st, "rectification")["started_at"] is None
    assert [m["artifact"] for m in w.phase(st, "analysis_check")["gate"]["missing"]] == ["satisfaction_vote"]
    # the vote (45 voters, all satisfied) is filed: 转段, and 整改落实 starts
    w.file("bureau", "satisfaction_vote", "2023-07-03T15:00")
    result = w.tick("2023-07-03T15:30")
    assert result["advanced"] == ["analysis_check"]
    st = w.status("2023-07-03T15:30")
    assert st["running_phases"] == ["rectification"]
    assert w.phase(st, "rectification")["started_at"] == "2023-07-03T15:00:00+08:00"


def test_seed_000_links_follow_one_another_and_the_supervising_group_reviews(walk) -> None:
    """Seed 000: 从2014年3月19日动员会开始; "一环接着一环抓"; 对照检查材料 … 县委督导组 … 审核把关."""
    w = walk("qunzhongluxian-2014")
    assert w.reviewer("check_material") == {"zh": "县委督导组", "en": "County supervising group"}
    w.tick("2014-03-19T09:00")
    assert w.status("2014-03-19T09:00")["running_phases"] == ["study_listen"]
    w.file_all("study_listen", "2014-05-28T10:00", but={("guaier", "study_record")})
    # 06-01: link 2 waits for link 1 (one study record is missing)
    w.tick("2014-06-03T09:00")
    st = w.status("2014-06-03T09:00")
    assert st["running_phases"] == ["study_listen"] and w.phase(st, "check_criticize")["started_at"] is None
    w.file("guaier", "study_record", "2014-06-04T10:00")
    w.tick("2014-06-04T10:30")
    assert w.status("2014-06-04T10:30")["running_phases"] == ["check_criticize"]
    # 06-30: the 对照检查材料 are filed and wait for the supervising group: the link is not done yet
    w.file_all("check_criticize", "2014-06-30T10:00")
    w.tick("2014-09-01T09:00")
    st = w.status("2014-09-01T09:00")
    assert st["running_phases"] == ["check_criticize"]
    assert {m["artifact"] for m in w.phase(st, "check_criticize")["gate"]["missing"]} == {"check_material"}
    waiting = [o["unit"] for o in w.obligations("2014-09-02T10:00") if o["artifact"] == "check_material"]
    assert waiting and all(o["state"] == "filed" for o in w.obligations("2014-09-02T10:00") if o["artifact"] == "check_material")
    for unit in waiting:
        with w.engine.begin() as conn:
            review(conn, w.key, unit, "check_material", True, None, w.act("2014-09-02T10:00", "县委督导组"))
    w.tick("2014-09-02T10:30")
    assert w.status("2014-09-02T10:30")["running_phases"] == ["rectify_build"]


def test_seed_001_four_links_in_order_and_the_board_heading(walk) -> None:
    """Seed 001: 系统推进"学、查、治、评"四个环节，形成了紧密衔接…的闭环链条; 开设"作风整改进行时"专栏."""
    w = walk("baxiangguiding-pinggu")
    w.tick("2025-03-17T09:00")
    assert w.status("2025-03-17T09:00")["running_phases"] == ["study"]
    w.file_all("study", "2025-04-28T10:00")
    w.tick("2025-05-06T09:00")  # after the May Day holiday
    assert w.status("2025-05-06T09:00")["running_phases"] == ["check"]
    w.tick("2025-07-02T09:00")  # 治 waits while 查's papers are owed
    st = w.status("2025-07-02T09:00")
    assert st["running_phases"] == ["check"] and w.phase(st, "fix")["started_at"] is None
    from campaign_model.store.board import public_board

    with w.engine.begin() as conn:
        board = public_board(conn, w.key, local("2025-07-02T09:00"))
    assert board["board_title"] == "作风整改进行时"
