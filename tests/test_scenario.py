"""A whole campaign driven by ticks at chosen instants: every phase change, overdue mark and reminder."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.filings import file_artifact, review
from campaign_model.store.queries import status
from campaign_model.store.tables import audit_events, outbox
from flows.tick import tick_direct

from .conftest import local


class Driver:
    def __init__(self, engine, db_url: str, tmp_path: Path):
        self.engine, self.url, self.tmp = engine, db_url, tmp_path
        self.blobs = BlobStore(tmp_path / "files")
        self.outbox_file = tmp_path / "outbox.jsonl"

    def tick(self, when: str) -> dict:
        return tick_direct(self.url, "small-2023", Act(local(when), "tick", local(when)), str(self.outbox_file))

    def file(self, unit: str, artifact: str, when: str, **kw) -> dict:
        if artifact == "plan":
            scan = self.tmp / f"{unit}-plan.pdf"
            scan.write_bytes(f"signed plan of {unit}".encode())
            kw.setdefault("files", [scan])
            kw.setdefault("signed_by", "校长")
        if artifact == "issue_list":
            rows = self.tmp / f"{unit}-issues.csv"
            rows.write_text("problem,category,deadline\n会议多落实少,慢,2023-06-30\n", encoding="utf-8")
            kw.setdefault("rows_file", rows)
        with self.engine.begin() as conn:
            return file_artifact(conn, self.blobs, "small-2023", unit, artifact, Act(local(when), unit, local(when)), **kw)

    def review(self, unit: str, accept: bool, when: str, comment: str | None = None) -> None:
        with self.engine.begin() as conn:
            review(conn, "small-2023", unit, "issue_list", accept, comment, Act(local(when), "督导组", local(when)))

    def status(self, when: str) -> dict:
        with self.engine.connect() as conn:
            return status(conn, "small-2023", local(when))

    def reminders(self) -> list[tuple[str, str, str, str, str]]:
        from campaign_model.store.tables import obligations, units

        with self.engine.connect() as conn:
            rows = conn.execute(
                select(units.c.key, obligations.c.artifact, outbox.c.kind, outbox.c.planned_for, outbox.c.state)
                .join(obligations, obligations.c.id == outbox.c.obligation_id)
                .join(units, units.c.id == obligations.c.unit_id).order_by(outbox.c.planned_for, units.c.key)).all()
        return [(u, a, k, p.astimezone(local("2023-01-01T00:00").tzinfo).strftime("%m-%d %H:%M"), s) for u, a, k, p, s in rows]

    def audit_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(audit_events)).scalar_one()


def test_a_whole_campaign_by_ticks(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)

    r = d.tick("2023-02-14T08:00")
    assert (r["advanced"], r["phases"]["mobilization"], r["reminders_planned"]) == ([], "active", 0)
    d.file("s1", "plan", "2023-02-20T10:00")

    # plan due start + 10 workdays = 02-28; "3 days" before is Saturday 02-25, so Friday 02-24
    r = d.tick("2023-02-24T10:00")
    assert (r["reminders_planned"], r["reminders_written"], r["reminders_sent"], r["overdue_marked"]) == (1, 1, 0, 0)
    # no tick on 02-27: the catch-up sends the latest slot only (on the due day), not the missed one too
    r = d.tick("2023-02-28T09:30")
    assert (r["reminders_planned"], r["reminders_written"]) == (1, 1)
    r = d.tick("2023-03-01T10:00")
    assert (r["overdue_marked"], r["reminders_planned"]) == (1, 1)
    assert d.status("2023-03-01T10:00")["phases"][0]["gate"]["missing"][0]["state"] == "overdue"
    d.file("s2", "plan", "2023-03-02T10:00")

    # at_end: the gate is met since 03-02, so the phase completes at its planned end
    r = d.tick("2023-03-06T00:30")
    assert r["advanced"] == ["mobilization"]
    assert r["phases"] == {"mobilization": "completed", "self_check": "active", "summary": "pending"}
    st = d.status("2023-03-06T00:30")
    assert st["phases"][0]["completed_at"] == "2023-03-05T23:59:59+08:00"
    assert st["phases"][1]["started_at"] == "2023-03-06T00:00:00+08:00"
    assert st["current_phase"] == "self_check"

    d.file("s1", "issue_list", "2023-04-03T16:00")
    d.review("s1", True, "2023-04-03T17:00")
    # issue lists due 04-05, a holiday (清明): the on-due reminder goes out on 04-04, once
    r = d.tick("2023-04-04T10:00")
    assert r["reminders_planned"] == 1 and r["phases"]["self_check"] == "overdue"
    r = d.tick("2023-04-06T10:00")
    assert (r["overdue_marked"], r["reminders_planned"]) == (1, 1)
    d.file("s2", "issue_list", "2023-04-07T09:00")
    d.review("s2", False, "2023-04-07T15:00", comment="整改措施不具体")
    r = d.tick("2023-04-10T10:00")
    assert (r["overdue_marked"], r["reminders_planned"]) == (1, 1)  # rejected past due: overdue again
    d.file("s2", "issue_list", "2023-04-11T09:00")
    d.review("s2", True, "2023-04-11T11:00")

    # gate met on 04-11 after its end: completes at that instant; summary (window open) starts then
    r = d.tick("2023-04-11T18:00")
    assert r["advanced"] == ["self_check"] and r["phases"]["summary"] == "active"
    st = d.status("2023-04-11T18:00")
    assert st["phases"][1]["completed_at"] == "2023-04-11T11:00:00+08:00"
    assert st["phases"][2]["started_at"] == "2023-04-11T11:00:00+08:00"

    d.file("bureau", "summary", "2023-04-20T10:00")
    r = d.tick("2023-04-20T12:00")  # when_ready: completes as soon as the gate is met
    assert r["advanced"] == ["summary"]
    st = d.status("2023-04-20T12:00")
    assert st["phases"][2]["completed_at"] == "2023-04-20T10:00:00+08:00" and st["current_phase"] is None
    assert st["obligations"] == {"total": 5, "pending": 0, "filed": 3, "accepted": 2, "rejected": 0,
                                 "waived": 0, "overdue": 0, "not_open": 0}

    assert d.reminders() == [
        ("s2", "plan", "before", "02-24 09:00", "sent"),
        ("s2", "plan", "on_due", "02-28 09:00", "sent"),
        ("s2", "plan", "overdue", "03-01 09:00", "sent"),
        ("s2", "issue_list", "on_due", "04-04 09:00", "sent"),
        ("s2", "issue_list", "overdue", "04-06 09:00", "sent"),
        ("s2", "issue_list", "overdue", "04-10 09:00", "sent"),
    ]
    messages = [json.loads(line) for line in d.outbox_file.read_text(encoding="utf-8").splitlines()]
    assert [m["recipient"] for m in messages if "通报" not in m["subject"]] == ["s2"] * 6
    # the weekly notice (通报) to the organizer, on the first tick inside the send window of each week
    # with a phase running; the week of 02-13 was superseded before any tick in its send window
    notices = [m for m in messages if "通报" in m["subject"]]
    assert [(m["recipient"], m["at_iso"][:10]) for m in notices] == [
        ("bureau", "2023-02-24"), ("bureau", "2023-02-28"), ("bureau", "2023-04-04"), ("bureau", "2023-04-10")]


def test_the_same_tick_twice_changes_nothing(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)
    d.tick("2023-02-14T08:00")
    first = d.tick("2023-03-01T10:00")
    assert first["overdue_marked"] == 2 and first["reminders_planned"] == 2
    events, reminders = d.audit_count(), d.reminders()
    again = d.tick("2023-03-01T10:00")
    assert (again["overdue_marked"], again["reminders_planned"], again["reminders_sent"], again["reminders_written"],
            again["advanced"]) == (0, 0, 0, 0, [])
    assert again["phases"] == first["phases"]
    assert d.audit_count() == events and d.reminders() == reminders


def test_a_phase_waits_for_the_last_plan(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)
    d.tick("2023-02-14T08:00")
    d.file("s1", "plan", "2023-02-20T10:00")
    r = d.tick("2023-03-10T10:00")  # past the end, s2 missing: the phase is overdue and self-check waits
    assert r["phases"] == {"mobilization": "overdue", "self_check": "pending", "summary": "pending"}
    missing = d.status("2023-03-10T10:00")["phases"][0]["gate"]["missing"]
    assert missing == [{"unit": "s2", "artifact": "plan", "due": "2023-02-28T23:59:59+08:00", "state": "overdue"}]
    d.file("s2", "plan", "2023-03-13T09:00")
    r = d.tick("2023-03-13T10:00")
    assert r["advanced"] == ["mobilization"] and r["phases"]["self_check"] == "active"


def test_no_reminder_before_the_phase_starts_or_after_filing(engine, db_url, small, tmp_path):
    d = Driver(engine, db_url, tmp_path)
    r = d.tick("2023-02-10T10:00")
    assert r["phases"]["mobilization"] == "pending" and r["reminders_planned"] == 0
    d.tick("2023-02-14T08:00")
    d.file("s1", "plan", "2023-02-20T10:00")
    d.file("s2", "plan", "2023-02-21T10:00")
    for day in ("2023-02-24T10:00", "2023-02-28T10:00", "2023-03-01T10:00"):
        assert d.tick(day)["reminders_planned"] == 0
    assert d.reminders() == []
