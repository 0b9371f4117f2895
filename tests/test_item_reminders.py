"""Deadlines of ledger items are obligations like any other: they get reminders and turn red (issue 5).

Real SQLite and PostgreSQL, explicit instants. Until the tick runs the ledger step itself, each tick here
first runs what that step does (`outbox.mark_items_overdue` and `outbox.plan_item_reminders` in one
transaction), then `flows.tick.tick_direct`, which sends: one digest per recipient and channel.

The campaign: one school s1 under the district d1 under the bureau (the organizer); nobody has a channel,
so every digest goes to the JSON-lines file. s1 owes a plan due 2023-04-20 (Thursday) and files an issue
list whose first item has the same deadline. With `before: ["1 workday"]`, `overdue_every: "2 workdays"`
and `escalate_after: "2 workdays"` the slots of 04-20 are: before 04-19, on-due 04-20, overdue 04-21,
04-24 (04-23 is a make-up working Sunday), 04-26, 04-28, ...; escalation to d1 on 04-23.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_model.specfile import load_spec_text
from campaign_model.store import outbox
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import record_finding, update_item, verify_item
from campaign_model.store.tables import audit_events, ledger_items
from flows.tick import tick_direct
from notifications.setup import router_from_env

from .conftest import local

ROOT = Path(__file__).resolve().parent.parent
KEY = "items-2023"
TITLE = "2023年作风建设专项整治"
PROBLEM = "部分干部上班时间迟到早退，考勤制度执行不严格，群众反映强烈，影响机关作风形象"

SPEC = f"""\
version: 1
key: {KEY}
title: {TITLE}
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 县教育局}}
  - {{key: d1, name: 城关学区, parent: bureau}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校]}}
artifacts:
  plan: {{title: 实施方案}}
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      deadline: {{title: 整改时限, type: date}}
      long_term: {{title: 长期坚持}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-04-10
    end: 2023-06-30
    steps:
      - key: issues
        title: 问题清单
        due: 2023-04-14
        requires:
          - {{artifact: issue_list, from: "tag:学校"}}
      - key: plan
        title: 制定实施方案
        due: 2023-04-20
        requires:
          - {{artifact: plan, from: "tag:学校"}}
reminders:
  before: ["1 workday"]
  on_due: true
  overdue_every: "2 workdays"
  send_at: "09:00"
  send_until: "18:00"
  escalate_after: "2 workdays"
"""


@pytest.fixture(autouse=True)
def no_channels(tmp_path, monkeypatch):
    """No channel configured: every digest goes to the JSON-lines file."""
    empty = tmp_path / "no-channels.yaml"
    empty.write_text("channels: []\n", encoding="utf-8")
    monkeypatch.setenv("CAMPAIGN_CHANNELS", str(empty))
    monkeypatch.delenv("CAMPAIGN_PUBLIC_URL", raising=False)


def act(when: str, actor: str = "tick") -> Act:
    return Act(local(when), actor, local(when))


class Run:
    def __init__(self, engine, db_url: str, tmp_path: Path):
        self.engine, self.url, self.tmp = engine, db_url, tmp_path
        self.blobs = BlobStore(tmp_path / "files")
        self.outbox_file = tmp_path / "outbox.jsonl"
        self.seen = 0
        with engine.begin() as conn:
            create_campaign(conn, load_spec_text(SPEC, "items.yaml"), act("2023-04-01T09:00", "admin"))

    def ledger_step(self, when: str) -> tuple[int, int]:
        """What the tick's ledger step does: overdue marks, then the items' reminders (one transaction)."""
        with self.engine.begin() as conn:
            ctx = load_ctx(conn, KEY)
            marked = outbox.mark_items_overdue(conn, ctx, act(when))
            planned = outbox.plan_item_reminders(conn, ctx, local(when), router_from_env())
        return marked, planned

    def tick(self, when: str) -> dict:
        marked, planned = self.ledger_step(when)
        r = tick_direct(self.url, KEY, act(when), str(self.outbox_file))
        return {**r, "items_marked": marked, "items_planned": planned}

    def file_plan(self, when: str) -> None:
        scan = self.tmp / "plan.pdf"
        scan.write_bytes(b"plan")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, KEY, "s1", "plan", act(when, "s1"), files=[scan])

    def file_issues(self, when: str, *rows: str) -> None:
        path = self.tmp / "issues.csv"
        path.write_text("problem,deadline,long_term\n" + "\n".join(rows) + "\n", encoding="utf-8")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, KEY, "s1", "issue_list", act(when, "s1"), rows_file=path)

    def rectify(self, item: int, when: str) -> None:
        evidence = self.tmp / f"evidence-{item}.pdf"
        evidence.write_bytes(b"fixed")
        with self.engine.begin() as conn:
            update_item(conn, self.blobs, item, "rectified", "整改完成", [evidence], act(when, "s1"))

    def reopen(self, item: int, when: str, deadline: dt.date) -> None:
        with self.engine.begin() as conn:
            verify_item(conn, item, False, "整改不到位", act(when, "督导组"), deadline=deadline)

    def rows(self, **kw) -> list[tuple]:
        """The items' outbox rows: (item, kind, planned_for local MM-DD HH:MM, state, recipient)."""
        with self.engine.connect() as conn:
            ctx = load_ctx(conn, KEY)
            rows = outbox.listing(conn, ctx.id, **kw)
        return [(r.item_id, r.kind, r.planned_for.astimezone(ctx.tz).strftime("%m-%d %H:%M"), r.state, r.recipient)
                for r in rows if r.item_id is not None]

    def item(self, item_id: int) -> object:
        with self.engine.connect() as conn:
            return conn.execute(select(ledger_items).where(ledger_items.c.id == item_id)).one()

    def new_digests(self) -> list[dict]:
        """The digests written since the last call, without the weekly notices (通报) to the organizer."""
        lines = self.outbox_file.read_text(encoding="utf-8").splitlines() if self.outbox_file.exists() else []
        fresh, self.seen = lines[self.seen:], len(lines)
        return [m for m in map(json.loads, fresh) if "通报" not in m["subject"]]

    def cli(self, *args: str) -> list[dict]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(self.tmp / "home"), "CAMPAIGN_DB_URL": self.url}
        code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                              cwd=self.tmp, timeout=120, check=False)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return json.loads(done.stdout)


@pytest.fixture
def run(engine, db_url, tmp_path) -> Run:
    return Run(engine, db_url, tmp_path)


def kinds(message: dict) -> list[tuple[str, str]]:
    return sorted((i["artifact"], i["kind"]) for i in message["items"])


def test_an_items_deadline_is_reminded_turns_red_and_stops_when_rectified(run):
    run.tick("2023-04-10T08:00")
    run.file_issues("2023-04-12T10:00", f"{PROBLEM},2023-04-20,", "师德师风建设,2023-04-20,是")
    # item 1 is reminded from 04-19 (1 workday before); item 2 is long-term: never reminded
    assert (run.item(1).next_remind_at, run.item(2).next_remind_at) == (local("2023-04-19T09:00"), None)
    assert run.tick("2023-04-13T09:30")["items_planned"] == 0

    # before: the item and the plan due the same day are one message to s1
    r = run.tick("2023-04-19T09:30")
    assert (r["items_planned"], r["reminders_planned"], r["reminders_written"]) == (1, 1, 2)
    [m] = run.new_digests()
    assert m["recipient"] == "s1" and kinds(m) == [("ledger:1", "before"), ("plan", "before")]
    item = next(i for i in m["items"] if i["artifact"] == "ledger:1")
    assert item["artifact_title"] == PROBLEM[:29] + "…" and item["step"] == "整改台账"
    assert (item["due_iso"], item["days_left"]) == ("2023-04-20T23:59:59+08:00", 1)
    assert f"- [即将到期] 整改台账：{PROBLEM[:29]}…，截止 2023-04-20 23:59，还剩 1 天" in m["text"]
    assert m["subject"] == f"【{TITLE}】第一小学：2 项材料待报送"

    r = run.tick("2023-04-20T09:30")  # on the due day
    assert (r["items_planned"], r["reminders_written"]) == (1, 2)
    [m] = run.new_digests()
    assert kinds(m) == [("ledger:1", "on_due"), ("plan", "on_due")]

    # past the deadline: marked overdue (once, audited) and reminded as overdue, with the plan
    r = run.tick("2023-04-21T09:30")
    assert (r["items_marked"], r["items_planned"], r["overdue_marked"], r["reminders_written"]) == (1, 1, 1, 2)
    [m] = run.new_digests()
    assert kinds(m) == [("ledger:1", "overdue"), ("plan", "overdue")] and "其中 2 项已逾期" in m["subject"]
    assert run.item(1).overdue_at == local("2023-04-20T23:59:59") and run.item(2).overdue_at is None
    assert run.ledger_step("2023-04-21T09:30") == (0, 0)  # the same tick again: nothing new
    with run.engine.connect() as conn:
        events = conn.execute(select(audit_events.c.after).where(audit_events.c.action == "ledger.overdue")).scalars().all()
    assert [e["count"] for e in events] == [1]
    listed = {i["id"]: i for i in run.cli("ledger", "list", KEY, "--json", "--at", "2023-04-21T10:00")}
    assert (listed[1]["overdue"], listed[2]["overdue"]) == (True, False)

    # 2 working days past the due day (04-23, a make-up working Sunday): escalated to the parent, d1,
    # the item and the plan in one message
    r = run.tick("2023-04-23T09:30")
    assert r["items_planned"] == 1
    [m] = run.new_digests()
    assert m["recipient"] == "d1" and kinds(m) == [("ledger:1", "escalation"), ("plan", "escalation")]
    assert "第一小学" in m["text"] and PROBLEM[:29] + "…" in m["text"]
    r = run.tick("2023-04-24T09:30")  # the next overdue slot, to s1
    assert r["items_planned"] == 1 and [d["recipient"] for d in run.new_digests()] == ["s1"]
    listed = run.cli("reminders", KEY, "--json", "--unit", "s1")
    escalated = [d for d in listed if d["kind"] == "escalation" and d["artifact"] == "ledger:1"]
    assert [(d["unit"], d["item"], d["recipient"], d["due"], d["state"]) for d in escalated] == [
        ("s1", 1, "d1", "2023-04-20T23:59:59+08:00", "sent")]
    assert all("item" not in d for d in listed if d["artifact"] == "plan")

    # 04-26 after the send window: planned and held; rectifying it cancels it; none after that
    r = run.tick("2023-04-26T19:00")
    assert (r["items_planned"], r["reminders_written"]) == (1, 0)
    run.rectify(1, "2023-04-26T20:00")
    assert run.rows(state="planned") == [] and run.item(1).next_remind_at is None
    assert run.rows(state="cancelled") == [(1, "overdue", "04-26 09:00", "cancelled", "s1")]
    run.file_plan("2023-04-27T08:00")
    r = run.tick("2023-04-27T09:30")
    assert (r["items_marked"], r["items_planned"], r["reminders_written"]) == (0, 0, 0) and run.new_digests() == []
    assert run.tick("2023-04-28T09:30")["items_planned"] == 0
    assert run.cli("ledger", "list", KEY, "--json", "--at", "2023-04-28T10:00")[0]["overdue"] is False

    # sent back with a new deadline (05-12, a Friday): reminded again, the overdue mark starts afresh
    run.reopen(1, "2023-05-04T10:00", dt.date(2023, 5, 12))
    assert (run.item(1).next_remind_at, run.item(1).overdue_at) == (local("2023-05-11T09:00"), None)
    assert run.tick("2023-05-10T09:30")["items_planned"] == 0
    r = run.tick("2023-05-11T09:30")
    assert (r["items_planned"], r["reminders_written"]) == (1, 1)
    [m] = run.new_digests()
    assert kinds(m) == [("ledger:1", "before")] and m["items"][0]["due_iso"] == "2023-05-12T23:59:59+08:00"
    r = run.tick("2023-05-15T09:30")
    assert (r["items_marked"], r["items_planned"]) == (1, 1)
    assert run.item(1).overdue_at == local("2023-05-12T23:59:59")

    # the long-term item never had a reminder
    with run.engine.connect() as conn:
        ctx = load_ctx(conn, KEY)
        assert {r.item_id for r in outbox.listing(conn, ctx.id) if r.item_id is not None} == {1}


def test_a_supervision_finding_is_reminded_and_escalated(run):
    run.tick("2023-04-10T08:00")
    run.file_issues("2023-04-11T10:00", "台账不全,2023-06-30,")  # s1's issue list filed: no obligation noise
    run.file_plan("2023-04-11T10:00")
    with run.engine.begin() as conn:
        found = record_finding(conn, KEY, "s1", "明查暗访发现上班时间玩手机", dt.date(2023, 4, 14), act("2023-04-12T15:00", "督导组"))
        lasting = record_finding(conn, KEY, "s1", "作风建设长效机制", None, act("2023-04-12T15:05", "督导组"), long_term=True)
    assert run.item(found["id"]).next_remind_at == local("2023-04-13T09:00")
    assert run.item(lasting["id"]).next_remind_at is None

    r = run.tick("2023-04-13T09:30")
    assert (r["items_planned"], r["reminders_written"]) == (1, 1)
    [m] = run.new_digests()
    assert m["recipient"] == "s1" and kinds(m) == [(f"ledger:{found['id']}", "before")]
    assert m["items"][0]["artifact_title"] == "明查暗访发现上班时间玩手机"
    # after downtime over the due day only the latest slot is sent: overdue on 04-17 (Monday)
    r = run.tick("2023-04-17T09:30")
    assert (r["items_marked"], r["items_planned"], r["reminders_written"]) == (1, 1, 1)
    [m] = run.new_digests()
    assert kinds(m) == [(f"ledger:{found['id']}", "overdue")] and m["items"][0]["days_left"] == -3
    # escalate_after 2 workdays past 04-14: 04-18, to s1's parent d1
    r = run.tick("2023-04-18T09:30")
    assert (r["items_planned"], r["reminders_written"]) == (1, 1)
    [m] = run.new_digests()
    assert m["recipient"] == "d1" and kinds(m) == [(f"ledger:{found['id']}", "escalation")]
    assert "督办" in m["subject"]
    assert run.rows() == [
        (found["id"], "before", "04-13 09:00", "sent", "s1"),
        (found["id"], "overdue", "04-17 09:00", "sent", "s1"),
        (found["id"], "escalation", "04-18 09:00", "sent", "d1"),
    ]


def test_a_refiled_issue_list_drops_the_replaced_items_reminders(run):
    run.tick("2023-04-10T08:00")
    run.file_issues("2023-04-12T10:00", "会议多落实少,2023-04-20,")
    run.tick("2023-04-19T19:00")  # planned after the send window: held
    assert run.rows(state="planned") == [(1, "before", "04-19 09:00", "planned", "s1")]
    run.file_issues("2023-04-19T20:00", "会议多落实少,2023-04-28,")  # a new version: item 2 replaces item 1
    assert (run.item(1).next_remind_at, run.item(2).next_remind_at) == (None, local("2023-04-27T09:00"))
    r = run.tick("2023-04-20T09:30")
    assert (r["items_planned"], r["reminders_written"]) == (0, 1)  # the plan's on-due reminder only
    assert run.rows() == [(1, "before", "04-19 09:00", "cancelled", "s1")]
