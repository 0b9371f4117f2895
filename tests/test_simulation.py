"""A simulated two-month campaign, ticked every hour of simulated time, yields exactly the expected messages.

The campaign runs 2023-04-01 .. 2023-05-31 on the Chinese calendar, which in that window has 清明 (04-05),
the May Day holiday (04-29 .. 05-03) and the make-up working days 04-23 (Sunday) and 05-06 (Saturday).
There is no channels.yaml, so every message goes to the JSON-lines file; the expected list of messages is
written out literally below, computed by hand from the reminder rules:

  * a `before` reminder goes out at send_at on its day, or on the previous working day if it is not one;
  * on-due the same; two reminders of one obligation on the same day are one (the later kind wins);
  * overdue reminders start the first working day after the due day, then every 2 working days;
  * the escalation (督办) goes to the parent `escalate_after` (3) working days after the due day;
  * nothing before the phase starts, nothing once filed or waived;
  * the weekly notice (通报) goes to the organizer on the first working day of each week while a phase runs.

SQLite only: 1,464 hourly ticks fed one by one to a `flows.tick.Ticker` (as `campaign tick --until` runs them: the
idle ones skipped, the others run in full; the actions between ticks are seen in the audit log), and each tick that
sent or planned something run once more in full by `tick_direct` at the same instant.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import chinese_calendar
import pytest
from sqlalchemy import func, select

from campaign_model.specfile import load_spec_text
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.tables import outbox
from flows.tick import Ticker, tick_direct

from .conftest import TZ, local

KEY = "sim-2023"

SPEC = """\
version: 1
key: sim-2023
title: 2023年春季作风建设（模拟）
calendar: cn
organizer: bureau
units:
  - {key: bureau, name: 县教育局}
  - {key: d1, name: 城关学区, parent: bureau}
  - {key: d2, name: 城南学区, parent: bureau}
  - {key: s1, name: 第一小学, parent: d1, tags: [学校]}
  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}
  - {key: s3, name: 第三小学, parent: d2, tags: [学校]}
  - {key: s4, name: 第四小学, parent: d2, tags: [学校]}
artifacts:
  plan: {title: 实施方案}
  report: {title: 自查报告}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-04-01
    end: 2023-05-31
    steps:
      - key: plan
        title: 制定实施方案
        due: 2023-04-05
        requires:
          - {artifact: plan, from: "tag:学校"}
      - key: report
        title: 报送自查报告
        due: 2023-04-28
        requires:
          - {artifact: report, from: "tag:学校", review: true}
reminders:
  before: ["3 days", "1 workday"]
  on_due: true
  overdue_every: "2 workdays"
  escalate_after: "3 workdays"
  send_at: "09:00"
  send_until: "18:00"
"""

# What the units do, at instants between two hourly ticks (always at :30).
#   plan   (due 04-05, 清明, end of day):  s1 on time, s2 late, s3 only in late May, s4 waived
#   report (due 04-28, reviewed):           s1 filed on time then rejected after the due day and filed again,
#                                           s2 on time, s3 late, s4 filed before any reminder
EVENTS = [
    ("2023-04-03T10:30", "waive", "s4", "plan"),
    ("2023-04-04T14:30", "file", "s1", "plan"),
    ("2023-04-11T10:30", "file", "s2", "plan"),
    ("2023-04-24T10:30", "file", "s4", "report"),
    ("2023-04-24T15:30", "accept", "s4", "report"),
    ("2023-04-26T10:30", "file", "s2", "report"),
    ("2023-04-26T14:30", "accept", "s2", "report"),
    ("2023-04-27T11:30", "file", "s1", "report"),
    ("2023-05-04T15:30", "reject", "s1", "report"),
    ("2023-05-08T10:30", "file", "s1", "report"),
    ("2023-05-08T14:30", "accept", "s1", "report"),
    ("2023-05-10T10:30", "file", "s3", "report"),
    ("2023-05-10T14:30", "accept", "s3", "report"),
    ("2023-05-25T10:30", "file", "s3", "plan"),
]

# Reminder slots of the two requirements (2023; W = working day):
#   plan   due 04-05 (Wed, 清明 holiday):
#     "3 days" before = 04-02 (Sun) -> previous working day 03-31, before the phase starts on 04-01: none
#     "1 workday" before = 04-04; on-due 04-05 is a holiday -> 04-04: the same day, one reminder (on_due)
#     overdue: 04-06, then every 2 working days: 04-10 (04-07, 04-10), 04-12, 04-14, 04-18, 04-20,
#              04-23 (make-up Sunday: 04-21, 04-23), 04-25, 04-27, 05-04 (04-28, holiday, 05-04),
#              05-06 (make-up Saturday: 05-05, 05-06), 05-09 (05-08, 05-09), 05-11, 05-15, 05-17,
#              05-19, 05-23, 05-25, 05-29
#     escalation: 3 working days after 04-05 = 04-06, 04-07, 04-10 -> 04-10
#   report due 04-28 (Fri):
#     "3 days" before = 04-25 (Tue, W); "1 workday" before = 04-27; on-due 04-28
#     overdue: 04-29..05-03 is the May Day holiday -> 05-04, then 05-06 (05-05, make-up 05-06), 05-09, ...
#     escalation: 3 working days after 04-28 = 05-04, 05-05, 05-06 (make-up Saturday) -> 05-06
P, R = "plan", "report"
EXPECTED_DIGESTS: dict[str, list[tuple[str, list[tuple[str, str, str]]]]] = {
    # (day, [(unit, artifact, kind), ...]) per recipient
    "s1": [
        ("04-04", [("s1", P, "on_due")]),       # plan: 1 workday before = on-due day (04-05 清明 -> 04-04); filed 14:30
        ("04-25", [("s1", R, "before")]),       # report: 3 days before 04-28
        ("04-27", [("s1", R, "before")]),       # report: 1 workday before 04-28; filed that day at 11:30
        # 04-28, 05-04: the report is filed (awaiting review): nothing; rejected 05-04 15:30, overdue again
        ("05-06", [("s1", R, "overdue")]),      # report: next overdue slot after the rejection (make-up Saturday)
        # re-filed 05-08 10:30: nothing more
    ],
    "s2": [
        ("04-04", [("s2", P, "on_due")]),       # plan: on-due, moved back from 清明
        ("04-06", [("s2", P, "overdue")]),      # plan: first working day after the due day
        ("04-10", [("s2", P, "overdue")]),      # plan: 2 working days later (04-07, 04-10); filed 04-11
        ("04-25", [("s2", R, "before")]),       # report: 3 days before; filed 04-26 and accepted
    ],
    "s3": [
        ("04-04", [("s3", P, "on_due")]),
        ("04-06", [("s3", P, "overdue")]),
        ("04-10", [("s3", P, "overdue")]),
        ("04-12", [("s3", P, "overdue")]),
        ("04-14", [("s3", P, "overdue")]),
        ("04-18", [("s3", P, "overdue")]),      # 04-15/16 weekend: 04-17, 04-18
        ("04-20", [("s3", P, "overdue")]),
        ("04-23", [("s3", P, "overdue")]),      # Sunday, a make-up working day (04-22 Saturday is not)
        ("04-25", [("s3", P, "overdue"), ("s3", R, "before")]),  # one digest for both items
        ("04-27", [("s3", P, "overdue"), ("s3", R, "before")]),
        ("04-28", [("s3", R, "on_due")]),       # report due today; no plan slot (04-28 is 1 of 2 workdays)
        ("05-04", [("s3", P, "overdue"), ("s3", R, "overdue")]),  # first working day after May Day
        ("05-06", [("s3", P, "overdue"), ("s3", R, "overdue")]),  # Saturday, a make-up working day
        ("05-09", [("s3", P, "overdue"), ("s3", R, "overdue")]),  # report filed 05-10
        ("05-11", [("s3", P, "overdue")]),
        ("05-15", [("s3", P, "overdue")]),      # 05-12, (weekend), 05-15
        ("05-17", [("s3", P, "overdue")]),
        ("05-19", [("s3", P, "overdue")]),
        ("05-23", [("s3", P, "overdue")]),      # 05-22, 05-23
        ("05-25", [("s3", P, "overdue")]),      # filed at 10:30 that day: not 05-29
    ],
    # s4: plan waived 04-03 before its first reminder, report filed 04-24 before its first: no message
    "d1": [
        ("04-10", [("s2", P, "escalation")]),   # plan: 3 working days after 04-05; s1 had filed on time
        ("05-06", [("s1", R, "escalation")]),   # report: 3 working days after 04-28; s1 rejected, not re-filed
    ],
    "d2": [
        ("04-10", [("s3", P, "escalation")]),   # s4's plan is waived: not escalated
        ("05-06", [("s3", R, "escalation")]),
    ],
}
# the weekly notice (通报) to the organizer: the first working day of each week while the phase runs
EXPECTED_NOTICES = [
    "04-03",  # Monday (the week of 03-27 had no working day inside the phase)
    "04-10", "04-17", "04-24",
    "05-04",  # 05-01 .. 05-03 are holidays: Thursday
    "05-08", "05-15", "05-22", "05-29",
]
FILED_AT = {  # the last filing (or waiver) that closed each obligation for good
    ("s1", P): "2023-04-04T14:30", ("s2", P): "2023-04-11T10:30", ("s3", P): "2023-05-25T10:30",
    ("s4", P): "2023-04-03T10:30", ("s1", R): "2023-05-08T10:30", ("s2", R): "2023-04-26T10:30",
    ("s3", R): "2023-05-10T10:30", ("s4", R): "2023-04-24T10:30",
}


class Simulation:
    def __init__(self, tmp_path: Path):
        self.url = f"sqlite:///{tmp_path / 'sim.db'}"
        self.engine = open_engine(self.url)
        self.blobs = BlobStore(tmp_path / "files")
        self.outbox_file = tmp_path / "outbox.jsonl"
        self.tmp = tmp_path
        start = local("2023-03-20T09:00")
        with self.engine.begin() as conn:
            create_campaign(conn, load_spec_text(SPEC, "sim.yaml"), Act(start, "admin", start))
        self.ticker = Ticker(self.url, KEY, str(self.outbox_file))

    def tick(self, at: dt.datetime) -> dict:
        return self.ticker.tick(Act(at, "tick", at))

    def tick_again(self, at: dt.datetime) -> dict:
        """The same instant once more, in full (never skipped)."""
        return tick_direct(self.url, KEY, Act(at, "tick", at), str(self.outbox_file))

    def act(self, when: str, action: str, unit: str, artifact: str) -> None:
        at = local(when)
        with self.engine.begin() as conn:
            if action == "file":
                scan = self.tmp / f"{unit}-{artifact}-{when[:10]}.pdf"
                scan.write_bytes(f"{unit} {artifact} {when}".encode())
                file_artifact(conn, self.blobs, KEY, unit, artifact, Act(at, unit, at), files=[scan])
            elif action == "waive":
                waive(conn, KEY, unit, artifact, "合并办学，免报", Act(at, "admin", at))
            else:
                review(conn, KEY, unit, artifact, action == "accept",
                       None if action == "accept" else "自查不深入，请补充", Act(at, "督导组", at))

    def lines(self) -> list[dict]:
        if not self.outbox_file.exists():
            return []
        return [json.loads(line) for line in self.outbox_file.read_text(encoding="utf-8").splitlines()]

    def outbox_rows(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox)).scalar_one()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> dict:
    """Run the whole campaign once (hourly ticks from 04-01 00:00 to 05-31 23:00) and keep what it sent."""
    tmp_path = tmp_path_factory.mktemp("simulation")
    mp = pytest.MonkeyPatch()
    empty = tmp_path / "channels.yaml"
    empty.write_text("channels: []\n", encoding="utf-8")
    mp.setenv("CAMPAIGN_CHANNELS", str(empty))  # no channel: the JSON-lines file takes every recipient
    for name in ("CAMPAIGN_PUBLIC_URL", "CAMPAIGN_DELIVERY_MAX_ATTEMPTS", "CAMPAIGN_DELIVERY_BACKOFF_SECONDS"):
        mp.delenv(name, raising=False)
    try:
        sim = Simulation(tmp_path)
        events = sorted((local(w), w, a, u, k) for w, a, u, k in EVENTS)
        at, end = local("2023-04-01T00:00"), local("2023-05-31T23:00")
        ticks = repeats = 0
        repeat_problems: list[str] = []
        while at <= end:
            while events and events[0][0] < at:
                _, when, action, unit, artifact = events.pop(0)
                sim.act(when, action, unit, artifact)
            before = len(sim.lines())
            result = sim.tick(at)
            ticks += 1
            if len(sim.lines()) > before or result["reminders_planned"]:
                # the same hour again: nothing planned, nothing sent, no new line, no new outbox row
                rows = sim.outbox_rows()
                lines = len(sim.lines())
                again = sim.tick_again(at)
                repeats += 1
                if (again["reminders_planned"], again["reminders_sent"], again["reminders_written"], again["overdue_marked"],
                        again["advanced"]) != (0, 0, 0, 0, []) or len(sim.lines()) != lines or sim.outbox_rows() != rows:
                    repeat_problems.append(f"{at.isoformat()}: {again}")
            at += dt.timedelta(hours=1)
        sim.ticker.close()
        assert not events
        return {"lines": sim.lines(), "ticks": ticks, "repeats": repeats, "repeat_problems": repeat_problems,
                "full": sim.ticker.full, "skipped": sim.ticker.skipped}
    finally:
        mp.undo()


def _local(at_iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(at_iso).astimezone(TZ)


def _digests(lines: list[dict]) -> list[dict]:
    return [m for m in lines if "通报" not in m["subject"]]


def _notices(lines: list[dict]) -> list[dict]:
    return [m for m in lines if "通报" in m["subject"]]


def test_the_simulation_ran_every_hour(simulated):
    assert simulated["ticks"] == 61 * 24  # 04-01 00:00 .. 05-31 23:00
    # each hour ticked: in full where something could happen (after each action too), else skipped as idle
    assert simulated["full"] + simulated["skipped"] == simulated["ticks"] and simulated["full"] < simulated["ticks"] // 4
    # every instant that sent something was ticked a second time
    assert simulated["repeats"] == len({m["at_iso"] for m in simulated["lines"]}) == 26


def test_each_recipient_gets_exactly_the_expected_digests(simulated):
    got: dict[str, list[tuple[str, list[tuple[str, str, str]]]]] = defaultdict(list)
    for m in _digests(simulated["lines"]):
        got[m["recipient"]].append((_local(m["at_iso"]).strftime("%m-%d"),
                                    sorted((i["unit"], i["artifact"], i["kind"]) for i in m["items"])))
    expected = {r: [(day, sorted(items)) for day, items in days] for r, days in EXPECTED_DIGESTS.items()}
    for recipient in sorted(set(got) | set(expected)):
        assert got.get(recipient, []) == expected.get(recipient, []), recipient
    assert {r: len(v) for r, v in got.items()} == {"s1": 4, "s2": 4, "s3": 20, "d1": 2, "d2": 2}


def test_weekly_notices_on_the_first_working_day_of_each_week(simulated):
    notices = _notices(simulated["lines"])
    assert {m["recipient"] for m in notices} == {"bureau"}
    assert [_local(m["at_iso"]).strftime("%m-%d") for m in notices] == EXPECTED_NOTICES
    for m in notices:
        day = _local(m["at_iso"]).date()
        monday = day - dt.timedelta(days=day.weekday())
        # independent of the code under test: no working day earlier in that week
        assert all(not chinese_calendar.is_workday(monday + dt.timedelta(days=i)) for i in range(day.weekday()))


def test_every_message_goes_out_at_nine_on_a_working_day(simulated):
    lines = simulated["lines"]
    assert len(lines) == 4 + 4 + 20 + 2 + 2 + len(EXPECTED_NOTICES)
    for m in lines:
        at = _local(m["at_iso"])
        assert at.time() == dt.time(9, 0), m["at_iso"]
        # chinese_calendar, not the code under test: 清明, May Day off; 04-23 and 05-06 worked
        assert chinese_calendar.is_workday(at.date()), m["at_iso"]
    days = {_local(m["at_iso"]).date() for m in lines}
    holidays = {dt.date(2023, 4, 5), *(dt.date(2023, 4, 29) + dt.timedelta(days=i) for i in range(5))}
    assert not days & holidays
    assert {dt.date(2023, 4, 23), dt.date(2023, 5, 6)} <= days  # the make-up working days do send


def test_nothing_about_an_obligation_after_it_was_filed_or_waived(simulated):
    for m in _digests(simulated["lines"]):
        at = _local(m["at_iso"])
        for item in m["items"]:
            assert at < local(FILED_AT[(item["unit"], item["artifact"])]), (m["at_iso"], item)
    assert not any(i["unit"] == "s4" for m in _digests(simulated["lines"]) for i in m["items"])


def test_escalations_go_to_the_parent_once(simulated):
    escalations = [(m["recipient"], _local(m["at_iso"]).strftime("%m-%d"), i["unit"], i["artifact"])
                   for m in _digests(simulated["lines"]) for i in m["items"] if i["kind"] == "escalation"]
    assert sorted(escalations) == [("d1", "04-10", "s2", P), ("d1", "05-06", "s1", R),
                                   ("d2", "04-10", "s3", P), ("d2", "05-06", "s3", R)]


def test_one_digest_per_recipient_and_day(simulated):
    seen = [(m["recipient"], _local(m["at_iso"]).date()) for m in simulated["lines"]]
    assert len(seen) == len(set(seen))


def test_the_same_hour_twice_adds_nothing(simulated):
    assert simulated["repeat_problems"] == []
