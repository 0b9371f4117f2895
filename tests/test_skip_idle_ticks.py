"""A simulation that skips the idle ticks leaves exactly what running every tick in full leaves (issue 14, target 2).

The same campaign life is played twice on two SQLite files, a tick every two hours from 2023-02-28 to 03-25
(312 ticks), with the same user actions between ticks: once by `flows.tick.ticks_direct` over each stretch between two
actions (what `campaign tick --until` runs: the idle instants skipped, store/horizon.py), once by `tick_direct`
at every hour, each tick run in full. The campaign crosses everything a tick acts on: three phases (the second
opens on its date while the first still runs, completes when its ledger gate is met, the third samples a
look-back), dues and overdue marks, reminders before, on and after the due day, escalations to the parents, the
weekly notice (通报), ledger items from issue lists with their deadlines and reminders, a re-check that reopens
an item, a rejection and a waiver, and a webhook channel for one district where nothing listens (failed,
retried after its back-off, dead). Every table is compared row for row (all columns but the real clock of the
audit log and the hash chain over it), and so are the outbox file and each tick's printed result.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.ledger import update_item, verify_item
from campaign_model.store.lookback import decide
from flows.tick import Ticker, tick_direct, ticks_direct
from notifications.settings import DeliveryConfig

from .conftest import local

KEY = "skip-2023"
SPEC = f"""\
key: {KEY}
title: 2023年作风整顿（跳过空闲检查）
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 县教育局}}
  - {{key: d1, name: 城关学区, parent: bureau}}
  - {{key: d2, name: 城南学区, parent: bureau}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校]}}
  - {{key: s3, name: 第三小学, parent: d2, tags: [学校]}}
  - {{key: s4, name: 第四小学, parent: d2, tags: [学校]}}
artifacts:
  plan: {{title: 实施方案}}
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      measure: {{title: 整改措施}}
      leader: {{title: 责任领导}}
      office: {{title: 牵头股室}}
      deadline: {{title: 整改时限, type: date, required: true}}
  report: {{title: 整改报告}}
  summary: {{title: 总结报告}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-03-01
    end: 2023-03-10
    steps:
      - {{key: plan, title: 实施方案, due: 2023-03-03, requires: [{{artifact: plan, from: "tag:学校"}}]}}
      - {{key: issues, title: 问题清单, due: 2023-03-07, requires: [{{artifact: issue_list, from: "tag:学校"}}]}}
  - key: rectify
    title: 综合整治
    kind: rectification
    opens: on_date
    advance: when_ready
    start: 2023-03-06
    end: 2023-03-17
    gate: {{ledger: {{closed_at_least: "100%"}}}}
    steps:
      - {{key: report, title: 整改报告, due: 2023-03-14, requires: [{{artifact: report, from: "tag:学校", review: true}}]}}
  - key: summary
    title: 总结提高
    kind: summary
    start: 2023-03-20
    end: 2023-03-24
    steps:
      - {{key: lookback, title: 回头看, due: end - 1 days, lookback: {{share: all}}}}
      - {{key: summary, title: 总结报告, due: end, requires: [{{artifact: summary, from: organizer}}]}}
reminders:
  before: ["2 days"]
  on_due: true
  overdue_every: "2 workdays"
  escalate_after: "3 workdays"
  send_at: "09:00"
  send_until: "18:00"
"""

START, END = "2023-02-28T01:00", "2023-03-25T23:00"
EVERY = dt.timedelta(hours=2)  # at odd hours: 09:00, the send time, is one
TICKS = 26 * 12

# what people do, between two ticks
ACTIONS: list[tuple[str, str, tuple[Any, ...]]] = [
    ("2023-03-02T10:30", "file", ("s1", "plan")),
    ("2023-03-02T11:30", "waive", ("s4", "plan")),
    ("2023-03-06T10:30", "issues", ("s1", "会议多落实少", "台账不规范")),
    ("2023-03-06T10:30", "file", ("s2", "plan")),
    ("2023-03-06T14:30", "issues", ("s4", "值班脱岗")),
    ("2023-03-08T10:30", "issues", ("s2", "公车私用")),
    ("2023-03-08T15:30", "file", ("s3", "plan")),
    ("2023-03-09T14:30", "issues", ("s3", "作风漂浮")),
    ("2023-03-10T10:30", "fix", ("会议多落实少",)),
    ("2023-03-13T10:30", "file", ("s1", "report")),
    ("2023-03-13T16:30", "fix", ("台账不规范",)),
    ("2023-03-14T10:30", "accept", ("s1", "report")),
    ("2023-03-14T11:30", "file", ("s4", "report")),
    ("2023-03-14T15:30", "fix", ("值班脱岗",)),
    ("2023-03-15T09:30", "accept", ("s4", "report")),
    ("2023-03-15T10:30", "file", ("s2", "report")),
    ("2023-03-15T11:30", "fix", ("公车私用",)),
    ("2023-03-15T14:30", "file", ("s3", "report")),  # late
    ("2023-03-16T09:30", "accept", ("s3", "report")),
    ("2023-03-16T10:30", "reject", ("s2", "report")),
    ("2023-03-16T11:30", "file", ("s2", "report")),
    ("2023-03-16T14:30", "fix", ("作风漂浮",)),  # the last item closed
    ("2023-03-16T15:30", "accept", ("s2", "report")),  # the last report accepted: the rectification gate is met
    ("2023-03-21T10:30", "recheck", ("公车私用", False)),  # the look-back reopens it, new deadline 03-23
    ("2023-03-21T11:30", "recheck", ("会议多落实少", True)),
]


class Life:
    """One copy of the campaign and the people acting on it."""

    def __init__(self, tmp: Path, delivery: DeliveryConfig):
        tmp.mkdir()
        self.tmp, self.delivery = tmp, delivery
        self.url = f"sqlite:///{tmp / 'campaign.db'}"
        self.engine = open_engine(self.url)
        self.blobs = BlobStore(tmp / "files")
        self.outbox_file = tmp / "outbox.jsonl"
        with self.engine.begin() as conn:
            create_campaign(conn, load_spec_text(SPEC, "skip.yaml"), Act(local("2023-02-20T09:00"), "admin",
                                                                         local("2023-02-20T09:00")))

    def item(self, problem: str) -> int:
        with sqlite3.connect(self.tmp / "campaign.db") as conn:
            return int(conn.execute("SELECT id FROM ledger_items WHERE problem = ? AND current", (problem,)).fetchone()[0])

    def act(self, when: str, action: str, args: tuple[Any, ...]) -> None:
        at = local(when)
        act = Act(at, "someone", at)
        if action == "fix":
            item = self.item(args[0])
            proof = self.tmp / f"proof-{item}.pdf"
            proof.write_bytes(f"evidence {args[0]}".encode())
            for state, note in (("in_progress", "正在整改"), ("rectified", "已整改")):
                with self.engine.begin() as conn:
                    update_item(conn, self.blobs, item, state, note, [proof] if state == "rectified" else [], act)
            with self.engine.begin() as conn:
                verify_item(conn, item, True, "核查属实，同意销号", act)
            return
        with self.engine.begin() as conn:
            if action == "file":
                scan = self.tmp / f"{args[0]}-{args[1]}-{when[:10]}.pdf"
                scan.write_bytes(f"{args} {when}".encode())
                file_artifact(conn, self.blobs, KEY, args[0], args[1], act, files=[scan])
            elif action == "issues":
                rows = self.tmp / f"{args[0]}-issues.csv"
                rows.write_text("problem,measure,leader,office,deadline\n" + "".join(
                    f"{p},建立制度,副校长,办公室,2023-03-13\n" for p in args[1:]), encoding="utf-8")
                file_artifact(conn, self.blobs, KEY, args[0], "issue_list", act, rows_file=rows)
            elif action == "waive":
                waive(conn, KEY, args[0], args[1], "合并办学，免报", act)
            elif action in ("accept", "reject"):
                review(conn, KEY, args[0], args[1], action == "accept",
                       None if action == "accept" else "整改不到位，请补充", act)
            elif action == "recheck":
                decide(conn, self.item(args[0]), args[1], "回头看复查" + ("通过" if args[1] else "未通过"), act,
                       deadline=dt.date(2023, 3, 23))

    def filing_count(self) -> int:
        with sqlite3.connect(self.tmp / "campaign.db") as conn:
            return int(conn.execute("SELECT count(*) FROM filings").fetchone()[0])

    def dump(self) -> dict[str, Any]:
        """Every table, every row, every column (the audit log without its real clock and the chain over it)."""
        skip = {"audit_events": {"recorded_at", "prev_hash", "hash"}, "audit_head": {"hash"}}
        out: dict[str, Any] = {}
        with sqlite3.connect(self.tmp / "campaign.db") as conn:
            tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                  "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            for table in tables:
                cur = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid')  # noqa: S608 - names from sqlite_master
                names = [d[0] for d in cur.description]
                out[table] = [{n: str(v).replace(str(self.tmp), "<tmp>") for n, v in zip(names, row, strict=True)
                               if n not in skip.get(table, set())} for row in cur.fetchall()]
        # a notice prints the audit chain's head: its hash covers the real clock
        text = self.outbox_file.read_text(encoding="utf-8") if self.outbox_file.exists() else ""
        out["outbox file"] = re.sub(r"(\d+):[0-9a-f]{64}", r"\1:<hash>", text.replace(str(self.tmp), "<tmp>")).splitlines()
        return out


def _tick_doc(result: dict[str, Any], tmp: Path) -> str:
    return json.dumps(result, ensure_ascii=False, sort_keys=True).replace(str(tmp), "<tmp>")


@pytest.fixture(scope="module")
def lives(tmp_path_factory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("skip")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    channels = base / "channels.yaml"
    channels.write_text(f'channels:\n  - {{name: d2-group, type: webhook, url: "{dead}", secret: "whsec-skip-0001",'
                        f' units: [d2, s3, s4]}}\n',
                        encoding="utf-8")
    delivery = DeliveryConfig(str(channels), max_attempts=3, backoff_seconds=1800)
    skipping, full = Life(base / "skipping", delivery), Life(base / "full", delivery)

    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    start, end = local(START), local(END)
    actions = sorted((local(w), w, a, args) for w, a, args in ACTIONS)

    # skipping: ticks_direct over each stretch of hours between two actions, as `campaign tick --until` runs it
    skipped_docs: list[str] = []
    at = start
    for when, iso, action, args in [*actions, (end + EVERY, "", "", ())]:
        last = min(end, start + (when - start) // EVERY * EVERY)  # the tick just before the action
        if last >= at:
            results = ticks_direct(skipping.url, KEY, at, last, EVERY, "scheduler", str(skipping.outbox_file),
                                   delivery, clock)
            skipped_docs += [_tick_doc(r, skipping.tmp) for r in results]
            at = last + EVERY
        if action:
            skipping.act(iso, action, args)

    # in full: tick_direct at every hour, the same actions between
    full_docs: list[str] = []
    pending = list(actions)
    at = start
    while at <= end:
        while pending and pending[0][0] < at:
            _, iso, action, args = pending.pop(0)
            full.act(iso, action, args)
        result = tick_direct(full.url, KEY, Act(at, "scheduler", clock()), str(full.outbox_file), delivery)
        full_docs.append(_tick_doc(result, full.tmp))
        at += EVERY
    return {"skipping": skipping.dump(), "full": full.dump(), "skipped_docs": skipped_docs, "full_docs": full_docs}


def test_every_tick_reports_what_the_full_tick_reports(lives):
    assert len(lives["full_docs"]) == TICKS
    assert lives["skipped_docs"] == lives["full_docs"]


@pytest.mark.parametrize("table", ["campaigns", "phases", "obligations", "filings", "reviews", "ledger_items",
                                   "ledger_events", "rechecks", "outbox", "notices", "audit_events", "audit_head"])
def test_the_tables_a_tick_writes_are_the_same_row_for_row(lives, table):
    assert lives["skipping"][table] == lives["full"][table]


def test_the_whole_database_and_the_outbox_file_are_the_same(lives):
    assert lives["skipping"].keys() == lives["full"].keys()
    for table in lives["full"]:
        assert lives["skipping"][table] == lives["full"][table], table


def test_the_life_crossed_what_a_tick_acts_on(lives):
    """Not idle ticks: each kind of instant happened, so that the comparison covers it."""
    full = lives["full"]
    actions = {row["action"] for row in full["audit_events"]}
    assert {"phase.started", "phase.completed", "phase.overdue", "obligations.overdue", "reminders.planned",
            "reminders.sent", "notice.sent", "ledger.overdue", "lookback.sampled"} <= actions, actions
    states = {row["state"] for row in full["outbox"]}
    assert {"sent", "dead", "cancelled"} <= states, states
    kinds = {row["kind"] for row in full["outbox"]}
    assert {"before", "on_due", "overdue", "escalation"} <= kinds, kinds
    assert any(row["ledger_item_id"] != "None" for row in full["outbox"])  # a ledger item's deadline reminded
    assert any(row["attempts"] == "2" for row in full["outbox"])  # retried after the back-off
    assert [p["state"] for p in full["phases"]] == ["completed", "completed", "overdue"]
    assert len(full["notices"]) >= 3 and full["outbox file"]


def test_the_skipping_simulation_ran_few_ticks_in_full(tmp_path):
    """The same stretch without actions, counted: most hours are skipped, and the last one is still recorded."""
    life = Life(tmp_path / "count", DeliveryConfig())
    ticker = Ticker(life.url, KEY, str(life.outbox_file))
    at = local(START)
    while at <= local(END):
        ticker.tick(Act(at, "scheduler", at))
        at += EVERY
    ticker.close()
    assert ticker.full + ticker.skipped == TICKS
    assert 10 < ticker.full < TICKS // 4, (ticker.full, ticker.skipped)
    with sqlite3.connect(tmp_path / "count" / "campaign.db") as conn:
        assert conn.execute("SELECT last_tick_at FROM campaigns").fetchone()[0].startswith("2023-03-25 15:00")


def test_a_change_made_while_a_tick_runs_makes_the_next_tick_run_in_full(tmp_path):
    """Someone files while a full tick runs (here: right after its steps, before the horizon is read): the
    change is in the audit log after the marker the tick started from, so the next tick is not skipped."""
    life = Life(tmp_path / "during", DeliveryConfig())

    def tick_then_file(url: str, campaign: str, act: Act, outbox_file: str, delivery: Any) -> dict[str, Any]:
        result = tick_direct(url, campaign, act, outbox_file, delivery)
        if life.filing_count() == 0 and act.at == local("2023-03-02T11:00"):
            life.act("2023-03-02T10:30", "file", ("s1", "plan"))
        return result

    ticker = Ticker(life.url, KEY, str(life.outbox_file), run=tick_then_file)
    for when in ("2023-03-02T11:00", "2023-03-02T13:00", "2023-03-02T15:00"):
        ticker.tick(Act(local(when), "scheduler", local(when)))
    # 11:00 the first (in full, the filing made meanwhile), 13:00 in full for it, 15:00 idle again
    assert (ticker.full, ticker.skipped) == (2, 1)
