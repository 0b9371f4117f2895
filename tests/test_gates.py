"""Phase gates over the ledger and evaluations, driven by ticks at chosen instants.

Seed 000: the rectification phase may close only when at least two-thirds of the items are closed
(销号) and the rest are in progress; seed 004: a mass satisfaction vote (群众满意度测评) before
moving on, here ≥ 90 % satisfied with ≥ 60 % of those asked responding.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaign_model.errors import ConflictError, SpecInvalid
from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import ledger_gate_met, record_finding, update_item, verify_item
from campaign_model.store.phases import force_advance, phase_rows
from campaign_model.store.queries import status
from flows.tick import tick_direct

from .conftest import local

ROOT = Path(__file__).resolve().parent.parent
KEY = "gates-2014"

SPEC = """\
version: 1
key: gates-2014
title: 群众路线教育实践活动（测试）
organizer: bureau
units:
  - {key: bureau, name: 县教育局}
  - {key: s1, name: 第一中学, parent: bureau, tags: [学校]}
  - {key: s2, name: 第二中学, parent: bureau, tags: [学校]}
artifacts:
  issue_list:
    title: 问题清单
    rows:
      problem: {title: 问题, required: true}
      deadline: {title: 整改时限, type: date, required: true}
      long_term: {title: 长期坚持}
  satisfaction_vote:
    title: 群众满意度测评结果
    rows:
      aspect: {title: 测评项目, required: true}
      satisfied: {title: 满意, type: integer, required: true}
      fair: {title: 基本满意, type: integer, required: true}
      unsatisfied: {title: 不满意, type: integer, required: true}
      eligible: {title: 应参评人数, type: integer, required: true}
    tally: {positive: [satisfied], eligible: eligible}
phases:
  - key: check
    title: 查摆问题
    kind: self_check
    start: 2014-03-03
    end: 2014-03-31
    steps:
      - {key: issues, title: 问题清单, due: 2014-03-28, requires: [{artifact: issue_list, from: tag:学校}]}
  - key: rectify
    title: 整改落实
    kind: rectification
    advance: when_ready
    start: 2014-04-01
    end: 2014-09-30
    gate:
      ledger: LEDGER
  - key: vote
    title: 满意度测评
    kind: summary
    advance: when_ready
    start: 2014-10-01
    end: 2014-10-31
    steps:
      - {key: vote, title: 群众满意度测评, due: 2014-10-20, requires: [{artifact: satisfaction_vote, from: organizer}]}
    gate:
      evaluation: {artifact: satisfaction_vote, min_ratio: 90%, min_response: 60%}
"""

SEED_000 = '{closed_at_least: "2/3", rest_in_progress: true}'


class Campaign:
    def __init__(self, engine, db_url: str, tmp: Path, ledger_gate: str, spec: str = SPEC):
        self.engine, self.url, self.tmp = engine, db_url, tmp
        self.blobs = BlobStore(tmp / "files")
        with engine.begin() as conn:
            create_campaign(conn, load_spec_text(spec.replace("LEDGER", ledger_gate), "gates.yaml"), self.act("2014-03-01T09:00"))

    @staticmethod
    def act(when: str, actor: str = "admin") -> Act:
        return Act(local(when), actor, local(when))

    def tick(self, when: str) -> dict:
        return tick_direct(self.url, KEY, self.act(when, "tick"), str(self.tmp / "outbox.jsonl"))

    def issues(self, unit: str, when: str, *deadlines: str) -> None:
        path = self.tmp / f"{unit}.csv"
        path.write_text("问题,整改时限,长期坚持\n" + "".join(f"问题{n},{d}\n" for n, d in enumerate(deadlines, 1)), encoding="utf-8")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, KEY, unit, "issue_list", self.act(when, unit), rows_file=path)

    def progress(self, item: int, when: str) -> None:
        with self.engine.begin() as conn:
            update_item(conn, self.blobs, item, "in_progress", "正在整改", [], self.act(when, "clerk"))

    def close(self, item: int, when: str) -> None:
        proof = self.tmp / f"proof-{item}.pdf"
        proof.write_bytes(f"proof {item}".encode())
        with self.engine.begin() as conn:
            update_item(conn, self.blobs, item, "rectified", None, [proof], self.act(when, "clerk"))
            verify_item(conn, item, True, "核验通过", self.act(when, "督导组"))

    def gate(self, phase: str, when: str) -> tuple[bool, dict]:
        with self.engine.connect() as conn:
            ctx = load_ctx(conn, KEY)
            return ledger_gate_met(conn, ctx, next(r for r in phase_rows(conn, ctx.id) if r.key == phase), local(when))

    def vote(self, when: str, *rows: tuple[str, int, int, int, int]) -> None:
        path = self.tmp / "vote.csv"
        path.write_text("测评项目,满意,基本满意,不满意,应参评人数\n" + "".join(",".join(map(str, r)) + "\n" for r in rows),
                        encoding="utf-8")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, KEY, "bureau", "satisfaction_vote", self.act(when, "bureau"), rows_file=path)


def test_a_gate_that_waits_for_the_closure_ratio(engine, db_url, tmp_path):
    c = Campaign(engine, db_url, tmp_path, SEED_000)
    c.issues("s1", "2014-03-20T10:00", "2014-06-30", "2014-06-30", "2014-06-30")
    c.issues("s2", "2014-03-21T10:00", "2014-06-30", "2014-06-30", "2014-12-31")
    r = c.tick("2014-04-01T08:00")
    assert r["phases"] == {"check": "completed", "rectify": "active", "vote": "pending"}
    met, detail = c.gate("rectify", "2014-04-01T08:00")
    assert not met and detail["ledger"]["counts"]["open"] == 6 and detail["ledger"]["closed_share"] == "0.0%"

    for item in (1, 2, 3):
        c.close(item, "2014-05-10T10:00")
    c.progress(4, "2014-05-11T10:00")
    r = c.tick("2014-05-12T10:00")  # 3 of 6 closed: half is not two-thirds
    assert r["advanced"] == [] and r["phases"]["rectify"] == "active"
    assert c.gate("rectify", "2014-05-12T10:00")[1]["ledger"]["why"][0].startswith("销号 3/6（50.0%），须不低于 66.7%")
    with engine.connect() as conn:  # status shows the same conditions, and the gate as not met
        gate = status(conn, KEY, local("2014-05-12T10:00"))["phases"][1]["gate"]
    assert gate["met"] is False and gate["missing"] == [] and gate["conditions"]["ledger"]["closed_share"] == "50.0%"
    with engine.begin() as conn, pytest.raises(ConflictError, match="转段条件未满足"):
        force_advance(conn, load_ctx(conn, KEY), "", c.act("2014-05-12T11:00"), force=False)

    c.close(4, "2014-06-01T10:00")
    r = c.tick("2014-06-02T10:00")  # 4 of 6 closed, but two items are not yet in progress
    assert r["advanced"] == []
    assert c.gate("rectify", "2014-06-02T10:00")[1]["ledger"]["why"] == ["2 项尚未开始整改 (2 item(s) not in progress)"]
    c.progress(5, "2014-06-03T10:00")
    c.progress(6, "2014-06-05T16:00")
    r = c.tick("2014-06-06T10:00")  # when_ready: complete at the instant the ratio was reached
    assert r["advanced"] == ["rectify"]
    with engine.connect() as conn:
        st = status(conn, KEY, local("2014-06-06T10:00"))
    assert st["phases"][1]["completed_at"] == "2014-06-05T16:00:00+08:00" and st["phases"][1]["state"] == "completed"
    met, detail = c.gate("rectify", "2014-06-06T10:00")
    assert met and detail["ledger"]["counts"] == {"open": 0, "in_progress": 2, "rectified": 0, "closed": 4,
                                                  "returned": 0, "reopened": 0, "total": 6, "overdue": 0}
    assert detail["ledger"]["closed_share"] == "66.7%"


def test_per_unit_scope_needs_every_unit_to_reach_the_ratio(engine, db_url, tmp_path):
    c = Campaign(engine, db_url, tmp_path, '{closed_at_least: 0.5, scope: unit}')
    c.issues("s1", "2014-03-20T10:00", "2014-06-30", "2014-06-30")
    c.issues("s2", "2014-03-21T10:00", "2014-06-30", "2014-06-30")
    c.tick("2014-04-01T08:00")
    c.close(1, "2014-05-01T10:00")
    c.close(2, "2014-05-01T11:00")
    # campaign-wide 2 of 4 is half, but s2 has closed none
    assert c.tick("2014-05-02T10:00")["advanced"] == []
    met, detail = c.gate("rectify", "2014-05-02T10:00")
    assert not met and detail["ledger"]["failing"] == [
        {"unit": "s2", "why": ["销号 0/2（0.0%），须不低于 50.0% (closed 0 of 2; needs 50.0%)"]}]
    c.close(3, "2014-05-03T10:00")
    assert c.tick("2014-05-04T10:00")["advanced"] == ["rectify"]


def test_no_item_overdue_and_long_term_items_never_are(engine, db_url, tmp_path):
    c = Campaign(engine, db_url, tmp_path, "{none_overdue: true}")
    path = tmp_path / "s1.csv"
    path.write_text("问题,整改时限,长期坚持\n会风,2014-04-15,\n长效机制,2014-04-10,是\n", encoding="utf-8")
    with engine.begin() as conn:
        file_artifact(conn, c.blobs, KEY, "s1", "issue_list", c.act("2014-03-20T10:00", "s1"), rows_file=path)
        record_finding(conn, KEY, "s2", "明查暗访：上班迟到", dt.date(2014, 4, 18), c.act("2014-03-25T10:00", "督导组"))
    c.issues("s2", "2014-03-26T10:00", "2014-06-30")
    # the first tick is after the deadlines: the phase starts and its gate finds items overdue
    r = c.tick("2014-04-20T10:00")
    assert r["advanced"] == ["check"] and r["phases"]["rectify"] == "active"
    met, detail = c.gate("rectify", "2014-04-20T10:00")
    assert not met and detail["ledger"]["counts"]["overdue"] == 2  # not the long-term item
    assert detail["ledger"]["why"] == ["2 项逾期未整改 (2 item(s) overdue)"]
    c.progress(1, "2014-04-21T09:00")
    assert c.tick("2014-04-21T10:00")["advanced"] == []  # in progress is still owed work, still overdue
    c.close(1, "2014-04-22T09:00")
    with engine.begin() as conn:
        update_item(conn, c.blobs, 3, "rectified", "已整改", [], c.act("2014-04-23T09:00"))  # awaits the supervisor
    assert c.tick("2014-04-23T10:00")["advanced"] == ["rectify"]


def test_an_evaluation_gate_shows_the_response_rate_beside_the_ratio(engine, db_url, tmp_path):
    c = Campaign(engine, db_url, tmp_path, "{rest_in_progress: true}")
    c.tick("2014-04-01T08:00")  # the issue lists are late: the check phase waits for them
    c.issues("s1", "2014-04-02T10:00", "2014-06-30")
    c.issues("s2", "2014-04-02T11:00", "2014-06-30")
    c.progress(1, "2014-04-05T10:00")
    c.progress(2, "2014-04-05T10:00")
    r = c.tick("2014-10-01T09:00")
    assert r["phases"] == {"check": "completed", "rectify": "completed", "vote": "active"}

    # 45 of 60 asked should answer: a first count with 28 answers is 96.4 % satisfied but 46.7 % responding
    c.vote("2014-10-10T16:00", ("认识深不深", 27, 1, 0, 60))
    assert c.tick("2014-10-10T17:00")["advanced"] == []
    met, detail = c.gate("vote", "2014-10-10T17:00")
    ev = detail["evaluation"]
    assert not met and (ev["ratio"], ev["response_rate"], ev["responses"], ev["eligible"]) == (0.9643, 0.4667, 28, 60)
    assert ev["why"] == ["参评率 46.7% 低于 60.0% (response rate below 60.0%)"]
    assert "96.4%" in ev["text"] and "46.7%" in ev["text"]

    c.vote("2014-10-15T16:00", ("认识深不深", 43, 2, 0, 60), ("措施可行不可行", 41, 3, 1, 60))
    assert c.tick("2014-10-15T17:00")["advanced"] == ["vote"]
    met, detail = c.gate("vote", "2014-10-15T17:00")
    assert met and (detail["evaluation"]["ratio"], detail["evaluation"]["response_rate"]) == (0.9333, 0.75)
    with engine.connect() as conn:
        assert status(conn, KEY, local("2014-10-15T17:00"))["phases"][2]["completed_at"] == "2014-10-15T16:00:00+08:00"


def test_an_evaluation_per_unit_names_each_unit_short_of_it(engine, db_url, tmp_path):
    spec = SPEC.replace("{artifact: satisfaction_vote, from: organizer}", "{artifact: satisfaction_vote, from: tag:学校}")
    c = Campaign(engine, db_url, tmp_path, SEED_000, spec.replace("min_response: 60%}", "min_response: 60%, scope: unit}"))

    def vote(unit: str, when: str, satisfied: int, fair: int) -> None:
        path = tmp_path / f"{unit}-vote.csv"
        path.write_text(f"测评项目,满意,基本满意,不满意,应参评人数\n总体评价,{satisfied},{fair},0,40\n", encoding="utf-8")
        with engine.begin() as conn:
            file_artifact(conn, c.blobs, KEY, unit, "satisfaction_vote", c.act(when, unit), rows_file=path)

    vote("s1", "2014-10-10T10:00", 38, 1)
    vote("s2", "2014-10-10T11:00", 20, 10)
    met, detail = c.gate("vote", "2014-10-10T12:00")
    ev = detail["evaluation"]
    assert not met and ev["why"] == ["1 个单位未达到 (1 unit(s) short)"]
    assert [(f["unit"], f["ratio"], f["response_rate"]) for f in ev["failing"]] == [("s2", 0.6667, 0.75)]
    assert (ev["responses"], ev["eligible"]) == (69, 80)  # the campaign's total stays beside the units'
    vote("s2", "2014-10-12T11:00", 28, 1)
    assert c.gate("vote", "2014-10-12T12:00")[0]


BAD = [
    ('{closed_at_least: "3/2"}', "gates.yaml:40: phases[1].gate.ledger.closed_at_least: 比例应写作"),
    ("{scope: unit}", "gates.yaml:40: phases[1].gate.ledger: ledger 条件为空"),
]


@pytest.mark.parametrize("ledger_gate, message", BAD)
def test_bad_ledger_conditions_are_refused_with_their_line(ledger_gate, message):
    with pytest.raises(SpecInvalid) as exc:
        load_spec_text(SPEC.replace("LEDGER", ledger_gate), "gates.yaml")
    assert message in str(exc.value)


@pytest.mark.parametrize("edit, message", [
    (("tally: {positive: [satisfied], eligible: eligible}", "tally: {positive: [aspect], eligible: eligible}"),
     "artifacts.satisfaction_vote.tally.positive: 列 'aspect' 应为 integer"),
    (("tally: {positive: [satisfied], eligible: eligible}", "tally: {positive: [satisfied]}"),
     "phases[2].gate.evaluation.min_response: 参评率需要应参评人数"),
    (("tally: {positive: [satisfied], eligible: eligible}", "tally: {positive: [good], eligible: eligible}"),
     "tally.positive: 'good' 不是该材料的列"),
    (("evaluation: {artifact: satisfaction_vote,", "evaluation: {artifact: issue_list,"),
     "phases[2].gate.evaluation.artifact: 'issue_list' 不是测评材料"),
    (("min_ratio: 90%", "min_ratio: 1.5"), "phases[2].gate.evaluation.min_ratio: 比例应写作"),
])
def test_bad_evaluation_kinds_and_conditions_are_refused(edit, message):
    with pytest.raises(SpecInvalid) as exc:
        load_spec_text(SPEC.replace("LEDGER", SEED_000).replace(*edit), "gates.yaml")
    assert message in str(exc.value)


def test_the_gate_command_shows_ratio_and_response_rate(engine, db_url, tmp_path):
    c = Campaign(engine, db_url, tmp_path, SEED_000)
    c.issues("s1", "2014-03-20T10:00", "2014-06-30", "2014-06-30", "2014-06-30")
    c.tick("2014-04-01T08:00")
    c.close(1, "2014-05-10T10:00")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home"), "CAMPAIGN_DB_URL": db_url}
    code = ("import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import app, main; "
            "from campaign_app.cli_ledger import register; register(app); main()")
    run = subprocess.run([sys.executable, "-c", code, "gate", KEY, "--at", "2014-05-11T10:00", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    docs = {d["phase"]: d for d in json.loads(run.stdout)}
    assert docs["rectify"]["met"] is False and docs["rectify"]["ledger"]["closed_share"] == "33.3%"
    assert docs["vote"]["evaluation"]["response_rate"] is None and "参评率" in docs["vote"]["evaluation"]["text"]
    human = subprocess.run([sys.executable, "-c", code, "gate", KEY, "--at", "2014-05-11T10:00"],
                           capture_output=True, text=True, env=env, timeout=120).stdout
    assert "销号 1/3（33.3%）" in human and "未满足 (not met)" in human
