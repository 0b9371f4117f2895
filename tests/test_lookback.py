"""The rectification lifecycle to closure, a look-back (回头看) that reopens an item, and gates that wait."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_model.errors import ConflictError, InvalidInput
from campaign_model.specfile import load_spec_text
from campaign_model.store import audit
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import update_item, verify_item
from campaign_model.store.lookback import decide
from campaign_model.store.queries import ledger, status
from campaign_model.store.tables import ledger_items, rechecks
from flows.tick import tick_direct

from .conftest import local

KEY = "lookback-2023"
SPEC = f"""
key: {KEY}
title: 2023年作风整顿回头看（测试）
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: 城关学区, parent: bureau}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校]}}
artifacts:
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      measure: {{title: 整改措施}}
      leader: {{title: 责任领导}}
      office: {{title: 牵头股室}}
      deadline: {{title: 整改时限, type: date, required: true}}
  summary: {{title: 总结报告}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-03-01
    end: 2023-03-31
    steps:
      - {{key: issues, title: 问题清单, due: 2023-03-20, requires: [{{artifact: issue_list, from: "tag:学校"}}]}}
  - key: rectify
    title: 综合整治
    kind: rectification
    advance: when_ready
    start: 2023-04-03
    end: 2023-05-31
    gate: {{ledger: {{closed_at_least: "100%"}}}}
  - key: summary
    title: 总结提高
    kind: summary
    start: 2023-06-01
    end: 2023-06-30
    gate: {{ledger: {{closed_at_least: "100%"}}}}
    steps:
      - {{key: lookback, title: 回头看, due: end - 10 days, lookback: {{share: all}}}}
      - {{key: report, title: 总结报告, due: end, requires: [{{artifact: summary, from: organizer}}]}}
"""


class Run:
    def __init__(self, engine, db_url: str, tmp: Path, spec: str = SPEC, key: str = KEY):
        self.engine, self.url, self.tmp, self.key = engine, db_url, tmp, key
        self.blobs = BlobStore(tmp / "files")
        with engine.begin() as conn:
            create_campaign(conn, load_spec_text(spec, "lookback.yaml"), self.act("2023-02-20T09:00"))

    @staticmethod
    def act(when: str, who: str = "admin") -> Act:
        return Act(local(when), who, local(when))

    def tick(self, when: str) -> dict:
        return tick_direct(self.url, self.key, self.act(when, "tick"), str(self.tmp / "outbox.jsonl"))

    def issues(self, unit: str, when: str, *problems: str) -> None:
        rows = self.tmp / f"{unit}.csv"
        rows.write_text("problem,measure,leader,office,deadline\n" + "".join(
            f"{p},建立制度,副校长,办公室,2023-05-15\n" for p in problems), encoding="utf-8")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, self.key, unit, "issue_list", self.act(when, unit), rows_file=rows)

    def item(self, problem: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(ledger_items.c.id).where(ledger_items.c.problem == problem)).scalar_one()

    def fix(self, problem: str, day: str) -> None:
        """Progress, the fix with its evidence, and the supervisor's 销号 — on one day."""
        item = self.item(problem)
        proof = self.tmp / f"proof-{item}-{day}.pdf"
        proof.write_bytes(f"evidence {problem} {day}".encode())
        with self.engine.begin() as conn:
            update_item(conn, self.blobs, item, "in_progress", "正在整改", [], self.act(f"{day}T09:00", "school"))
        with self.engine.begin() as conn:
            update_item(conn, self.blobs, item, "rectified", "已整改", [proof], self.act(f"{day}T10:00", "school"))
        with self.engine.begin() as conn:
            verify_item(conn, item, True, "核查属实，同意销号", self.act(f"{day}T11:00", "督导组"))

    def status(self, when: str) -> dict:
        with self.engine.connect() as conn:
            return status(conn, self.key, local(when))


def test_a_look_back_reopens_an_item_and_the_summary_waits_for_it(engine, db_url, tmp_path):
    run = Run(engine, db_url, tmp_path)
    run.tick("2023-03-01T09:00")
    run.issues("s1", "2023-03-10T10:00", "会议多落实少", "台账不规范")
    run.issues("s2", "2023-03-12T10:00", "值班脱岗")
    assert run.tick("2023-04-03T09:00")["phases"] == {"self_check": "completed", "rectify": "active", "summary": "pending"}

    run.fix("会议多落实少", "2023-04-20")
    run.fix("台账不规范", "2023-04-25")
    r = run.tick("2023-05-04T09:00")  # two of three closed: the rectification waits for all
    assert r["phases"]["rectify"] == "active"
    run.fix("值班脱岗", "2023-05-08")
    r = run.tick("2023-05-09T09:00")
    assert r["advanced"] == ["rectify"]
    assert run.status("2023-05-09T09:00")["phases"][1]["completed_at"] == "2023-05-08T11:00:00+08:00"

    # the summary opens on 06-01: the look-back samples every closed item into a re-check due 06-20
    r = run.tick("2023-06-01T09:00")
    assert r["phases"]["summary"] == "active"
    with engine.connect() as conn:
        checks = conn.execute(select(rechecks.c.item_id, rechecks.c.state, rechecks.c.due_at)
                              .order_by(rechecks.c.item_id)).all()
    assert [(c.item_id, c.state) for c in checks] == [(run.item(p), "pending") for p in ("会议多落实少", "台账不规范", "值班脱岗")]
    assert {c.due_at for c in checks} == {local("2023-06-20T23:59:59")}
    assert run.tick("2023-06-01T10:00")["overdue_marked"] == 0  # sampling happens once: nothing new
    with engine.connect() as conn:
        assert len(conn.execute(select(rechecks.c.id)).all()) == 3

    with engine.begin() as conn:
        file_artifact(conn, run.blobs, KEY, "bureau", "summary", run.act("2023-06-05T10:00", "bureau"))
    gate = run.status("2023-06-05T10:00")["phases"][2]["gate"]
    assert gate["met"] is False and gate["missing"] == [] and gate["conditions"]["rechecks_pending"] == 3

    with engine.begin() as conn:
        decide(conn, run.item("会议多落实少"), True, "制度坚持执行", run.act("2023-06-08T10:00", "督导组"))
        decide(conn, run.item("值班脱岗"), True, "抽查在岗", run.act("2023-06-08T10:30", "督导组"))
        result = decide(conn, run.item("台账不规范"), False, "台账又出现漏记（反弹）", run.act("2023-06-08T11:00", "督导组"),
                        deadline=local("2023-06-25T00:00").date())
    assert result["item_state"] == "reopened"
    with engine.begin() as conn, pytest.raises(ConflictError):
        decide(conn, run.item("台账不规范"), True, "again", run.act("2023-06-08T12:00", "督导组"))

    # no re-check pending any more, but the reopened item holds the summary's ledger gate
    r = run.tick("2023-06-09T09:00")
    assert r["phases"]["summary"] == "active"
    gate = run.status("2023-06-09T09:00")["phases"][2]["gate"]
    assert gate["met"] is False and "rechecks_pending" not in gate["conditions"]
    with engine.connect() as conn:
        item = next(i for i in ledger(conn, KEY, unit="s1") if i["problem"] == "台账不规范")
    assert item["state"] == "reopened" and item["deadline"] == "2023-06-25"
    assert [h["action"] for h in item["history"]][-2:] == ["closed", "reopened"]
    assert "回头看复查未通过" in item["history"][-1]["note"]

    # it cannot simply be closed again: it must be rectified anew, with new evidence
    with engine.begin() as conn, pytest.raises(ConflictError, match="only a rectified item can be closed"):
        verify_item(conn, run.item("台账不规范"), True, "销号", run.act("2023-06-10T10:00", "督导组"))
    run.fix("台账不规范", "2023-06-15")
    assert run.tick("2023-06-16T09:00")["phases"]["summary"] == "active"  # at_end: completes at its planned end
    r = run.tick("2023-07-03T09:00")
    assert r["advanced"] == ["summary"]
    assert run.status("2023-07-03T09:00")["phases"][2]["completed_at"] == "2023-06-30T23:59:59+08:00"
    with engine.connect() as conn:
        assert [c.state for c in conn.execute(select(rechecks.c.state).order_by(rechecks.c.item_id))] == \
            ["passed", "failed", "passed"]
        actions = [e.action for e in audit.events(conn, KEY)]
        assert actions.count("lookback.sampled") == 1 and "lookback.failed" in actions
        assert audit.verify(conn).ok


def test_a_look_back_samples_a_share_of_each_units_closed_items(engine, db_url, tmp_path):
    spec = SPEC.replace("lookback: {share: all}", 'lookback: {share: "1/2"}').replace(KEY, "share-2023")
    run = Run(engine, db_url, tmp_path, spec, "share-2023")
    run.tick("2023-03-01T09:00")
    run.issues("s1", "2023-03-10T10:00", "甲", "乙", "丙", "丁")
    run.issues("s2", "2023-03-12T10:00", "戊")
    run.tick("2023-04-03T09:00")
    for n, problem in enumerate(("甲", "乙", "丙", "丁", "戊")):
        run.fix(problem, f"2023-04-{10 + n}")
    run.tick("2023-05-09T09:00")
    run.tick("2023-06-01T09:00")
    with engine.connect() as conn:
        sampled = conn.execute(select(ledger_items.c.problem).join(rechecks, rechecks.c.item_id == ledger_items.c.id)
                               .order_by(ledger_items.c.problem)).scalars().all()
    # half of each unit's closed items, rounded up: 2 of s1's four, 1 of s2's one
    assert len(sampled) == 3 and "戊" in sampled and len(set(sampled) & {"甲", "乙", "丙", "丁"}) == 2


def test_a_re_check_needs_a_comment_and_an_item_with_one(engine, db_url, tmp_path):
    run = Run(engine, db_url, tmp_path)
    run.tick("2023-03-01T09:00")
    run.issues("s1", "2023-03-10T10:00", "会议多落实少")
    with engine.begin() as conn, pytest.raises(InvalidInput, match="comment") as refused:
        decide(conn, run.item("会议多落实少"), True, " ", run.act("2023-03-11T10:00"))
    assert refused.value.field == "comment"
    with engine.begin() as conn, pytest.raises(ConflictError, match="no pending re-check"):
        decide(conn, run.item("会议多落实少"), True, "看过", run.act("2023-03-11T10:00"))
