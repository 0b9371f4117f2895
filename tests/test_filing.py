"""Filing, review and waiver on the real SQLite database, every action at an explicit instant.

The small campaign (conftest.SMALL_SPEC) asks each school (s1, s2) for a signed `plan` (mobilization,
due 2023-02-28) and an `issue_list` of rows that is reviewed (self_check, due 2023-04-05).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from campaign_model.errors import ConflictError, InvalidInput, NotFound
from campaign_model.rows import RowsInvalid
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.queries import ledger, status
from campaign_model.store.tables import audit_events, blobs, filings, ledger_items, obligations, outbox, reviews, units

from .conftest import local

CAMPAIGN = "small-2023"
ISSUE_HEADER = "问题,类别,整改措施,责任领导,牵头股室,整改时限"


def act(when: str, actor: str = "clerk") -> Act:
    return Act(local(when), actor, local(when))


def obligation(conn: Connection, unit: str, artifact: str) -> Any:
    return conn.execute(select(obligations).join(units, units.c.id == obligations.c.unit_id)
                        .where(units.c.key == unit, obligations.c.artifact == artifact)).one()


def count(conn: Connection, table: Any) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "files")


@pytest.fixture
def scan(tmp_path: Path) -> Path:
    path = tmp_path / "plan-signed.pdf"
    path.write_bytes(b"%PDF-1.4 signed and stamped plan")
    return path


@pytest.fixture
def write_rows(tmp_path: Path) -> Callable[..., Path]:
    def write(name: str, *lines: str) -> Path:
        path = tmp_path / name
        path.write_text("\n".join((ISSUE_HEADER, *lines)) + "\n", encoding="utf-8")
        return path

    return write


def file_plan(engine, store: BlobStore, scan: Path, unit: str, when: str) -> dict[str, Any]:
    with engine.begin() as conn:
        return file_artifact(conn, store, CAMPAIGN, unit, "plan", act(when, f"{unit}-clerk"),
                             files=[scan], signed_by="张校长")


def file_issues(engine, store: BlobStore, rows: Path, unit: str, when: str) -> dict[str, Any]:
    with engine.begin() as conn:
        return file_artifact(conn, store, CAMPAIGN, unit, "issue_list", act(when, f"{unit}-clerk"), rows_file=rows)


def decide(engine, unit: str, accept: bool, when: str, comment: str | None = None) -> dict[str, Any]:
    with engine.begin() as conn:
        return review(conn, CAMPAIGN, unit, "issue_list", accept, comment, act(when, "reviewer"))


def tick_at(db_url: str, tmp_path: Path, when: str) -> dict[str, Any]:
    from flows.tick import tick_direct

    return tick_direct(db_url, CAMPAIGN, act(when, "tick"), str(tmp_path / "outbox.jsonl"))


# --- versions and files ---

def test_filing_twice_keeps_both_versions(engine, small, store, scan, tmp_path):
    second = tmp_path / "plan-signed-v2.pdf"
    second.write_bytes(b"%PDF-1.4 corrected plan")
    first = file_plan(engine, store, scan, "s1", "2023-02-20T10:00")
    with engine.begin() as conn:
        again = file_artifact(conn, store, CAMPAIGN, "s1", "plan", act("2023-02-21T10:00", "s1-clerk"),
                              files=[second], signed_by="张校长")

    assert (first["version"], again["version"]) == (1, 2)
    with engine.begin() as conn:
        ob = obligation(conn, "s1", "plan")
        rows = conn.execute(select(filings).where(filings.c.obligation_id == ob.id).order_by(filings.c.version)).all()
    assert [r.version for r in rows] == [1, 2]
    assert [r.files[0]["sha256"] for r in rows] == [hashlib.sha256(scan.read_bytes()).hexdigest(),
                                                    hashlib.sha256(second.read_bytes()).hexdigest()]
    assert [r.at for r in rows] == [local("2023-02-20T10:00"), local("2023-02-21T10:00")]
    assert ob.state == "filed" and ob.filed_at == local("2023-02-21T10:00")


def test_files_are_stored_once_by_content_hash(engine, small, store, scan, tmp_path):
    same_content = tmp_path / "copy-under-another-name.pdf"
    same_content.write_bytes(scan.read_bytes())
    sha = hashlib.sha256(scan.read_bytes()).hexdigest()

    first = file_plan(engine, store, scan, "s1", "2023-02-20T10:00")
    second = file_plan(engine, store, same_content, "s2", "2023-02-20T11:00")

    assert first["files"] == [{"name": "plan-signed.pdf", "sha256": sha, "size": len(scan.read_bytes())}]
    assert second["files"][0]["sha256"] == sha
    blob_path = tmp_path / "files" / sha[:2] / sha
    assert blob_path.read_bytes() == scan.read_bytes()
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == [blob_path]
    with engine.begin() as conn:
        assert conn.execute(select(blobs.c.sha256)).scalars().all() == [sha]


# --- refusals that change nothing ---

@pytest.mark.parametrize("signed_by, with_file", [(None, True), ("   ", True), ("张校长", False)],
                         ids=["no-signer", "blank-signer", "no-file"])
def test_signoff_requirement_refuses_filing_without_signer_or_scan(engine, small, store, scan, tmp_path,
                                                                   signed_by, with_file):
    with engine.begin() as conn:
        before = obligation(conn, "s1", "plan")
        events = count(conn, audit_events)
        # caught inside the transaction: whatever the call wrote before refusing would be committed
        with pytest.raises(InvalidInput, match="signature"):
            file_artifact(conn, store, CAMPAIGN, "s1", "plan", act("2023-02-20T10:00"),
                          files=[scan] if with_file else [], signed_by=signed_by)

    with engine.begin() as conn:
        assert count(conn, filings) == 0
        assert count(conn, blobs) == 0
        assert obligation(conn, "s1", "plan") == before
        assert count(conn, audit_events) == events
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*"))


def test_rows_that_break_the_schema_are_refused_naming_row_and_column(engine, small, store, write_rows):
    bad = write_rows("issues.csv",
                     "作风不实,松,加强学习,王副校长,办公室,2023-04-30",
                     ",庸,立行立改,王副校长,办公室,2023-05-10",
                     "会风不正,乱,精简会议,李校长,教务处,明天")
    with engine.begin() as conn:
        before = obligation(conn, "s1", "issue_list")
        events = count(conn, audit_events)
        with pytest.raises(RowsInvalid) as caught:
            file_artifact(conn, store, CAMPAIGN, "s1", "issue_list", act("2023-03-10T10:00"), rows_file=bad)

    lines = str(caught.value).splitlines()
    assert any("row 3" in line and "(problem)" in line for line in lines), lines
    assert any("row 4" in line and "(category)" in line for line in lines), lines
    assert any("row 4" in line and "(deadline)" in line for line in lines), lines
    assert not any("row 2" in line for line in lines), lines
    with engine.begin() as conn:
        assert count(conn, filings) == 0
        assert count(conn, ledger_items) == 0
        assert obligation(conn, "s1", "issue_list") == before
        assert count(conn, audit_events) == events


# --- lateness ---

def test_filing_after_the_due_instant_is_late(engine, small, store, scan):
    on_time = file_plan(engine, store, scan, "s1", "2023-02-28T23:00")
    late = file_plan(engine, store, scan, "s2", "2023-03-01T08:00")

    assert (on_time["late"], late["late"]) == (False, True)
    with engine.begin() as conn:
        assert obligation(conn, "s1", "plan").late is False
        assert obligation(conn, "s2", "plan").late is True
        assert conn.execute(select(filings.c.late).order_by(filings.c.id)).scalars().all() == [False, True]


# --- review ---

@pytest.fixture
def self_check_running(engine, small, store, scan, db_url, tmp_path):
    """Mobilization done (both plans filed), the self_check phase started on 2023-03-06."""
    tick_at(db_url, tmp_path, "2023-02-14T09:00")
    file_plan(engine, store, scan, "s1", "2023-02-20T10:00")
    file_plan(engine, store, scan, "s2", "2023-02-20T11:00")
    tick_at(db_url, tmp_path, "2023-03-06T09:00")
    with engine.begin() as conn:
        assert status(conn, CAMPAIGN, local("2023-03-06T09:00"))["current_phase"] == "self_check"
    return small


def self_check_gate(engine, when: str) -> dict[str, Any]:
    with engine.begin() as conn:
        phase = status(conn, CAMPAIGN, local(when))["phases"][1]
    assert phase["key"] == "self_check"
    return phase["gate"]


def test_rejection_reopens_the_obligation(engine, self_check_running, store, write_rows):
    rows = write_rows("issues.csv", "作风不实,松,加强学习,王副校长,办公室,2023-04-30")
    file_issues(engine, store, rows, "s1", "2023-03-10T10:00")
    file_issues(engine, store, rows, "s2", "2023-03-10T11:00")
    decide(engine, "s2", True, "2023-03-12T10:00")

    result = decide(engine, "s1", False, "2023-03-13T10:00", comment="整改措施不具体，请细化")

    assert result["state"] == "rejected"
    with engine.begin() as conn:
        ob = obligation(conn, "s1", "issue_list")
        decision = conn.execute(select(reviews).where(reviews.c.obligation_id == ob.id)).one()
    assert (ob.state, ob.done, ob.done_at) == ("rejected", False, None)
    assert (decision.decision, decision.comment, decision.by) == ("rejected", "整改措施不具体，请细化", "reviewer")
    # reminded again: the next reminder falls after the rejection, no later than the due day
    assert ob.next_remind_at is not None
    assert local("2023-03-13T10:00") < ob.next_remind_at <= ob.due_at
    gate = self_check_gate(engine, "2023-03-13T12:00")
    assert gate["met"] is False
    assert [(m["unit"], m["artifact"]) for m in gate["missing"]] == [("s1", "issue_list")]


def test_rejected_obligation_is_reminded_by_the_next_tick(engine, self_check_running, store, write_rows,
                                                          db_url, tmp_path):
    rows = write_rows("issues.csv", "作风不实,松,加强学习,王副校长,办公室,2023-04-30")
    file_issues(engine, store, rows, "s1", "2023-03-10T10:00")
    decide(engine, "s1", False, "2023-03-13T10:00", comment="请补充整改时限依据")
    with engine.begin() as conn:
        ob = obligation(conn, "s1", "issue_list")

    from flows.tick import tick_direct

    tick_direct(db_url, CAMPAIGN, Act(ob.next_remind_at, "tick", ob.next_remind_at), str(tmp_path / "outbox.jsonl"))

    with engine.begin() as conn:
        planned = conn.execute(select(outbox).where(outbox.c.obligation_id == ob.id)).all()
    assert len(planned) == 1
    assert planned[0].recipient == "s1" and planned[0].state in ("planned", "sent")


def test_rejection_needs_a_comment(engine, self_check_running, store, write_rows):
    rows = write_rows("issues.csv", "作风不实,松,加强学习,王副校长,办公室,2023-04-30")
    file_issues(engine, store, rows, "s1", "2023-03-10T10:00")

    for comment in (None, "", "   "):
        with pytest.raises(InvalidInput, match="comment"):
            decide(engine, "s1", False, "2023-03-13T10:00", comment=comment)

    with engine.begin() as conn:
        assert obligation(conn, "s1", "issue_list").state == "filed"
        assert count(conn, reviews) == 0


def test_acceptance_makes_the_obligation_done(engine, self_check_running, store, write_rows):
    rows = write_rows("issues.csv", "作风不实,松,加强学习,王副校长,办公室,2023-04-30")
    file_issues(engine, store, rows, "s1", "2023-03-10T10:00")
    file_issues(engine, store, rows, "s2", "2023-03-10T11:00")
    with engine.begin() as conn:
        assert obligation(conn, "s1", "issue_list").done is False  # filed, awaiting review

    result = decide(engine, "s1", True, "2023-03-12T10:00")

    assert result["state"] == "accepted"
    with engine.begin() as conn:
        ob = obligation(conn, "s1", "issue_list")
    assert (ob.state, ob.done, ob.done_at) == ("accepted", True, local("2023-03-12T10:00"))
    assert [m["unit"] for m in self_check_gate(engine, "2023-03-12T12:00")["missing"]] == ["s2"]
    decide(engine, "s2", True, "2023-03-12T11:00")
    assert self_check_gate(engine, "2023-03-12T12:00")["met"] is True


def test_reviewing_something_not_filed_is_a_conflict(engine, small):
    with engine.begin() as conn:
        with pytest.raises(ConflictError, match="pending"):
            review(conn, CAMPAIGN, "s1", "issue_list", True, None, act("2023-03-12T10:00", "reviewer"))
        assert count(conn, reviews) == 0
        assert obligation(conn, "s1", "issue_list").state == "pending"


# --- the ledger ---

def test_issue_list_rows_become_ledger_items(engine, small, store, write_rows):
    rows = write_rows("issues.csv",
                      "作风不实,松,加强学习,王副校长,办公室,2023-04-30",
                      "会风不正,散,精简会议,李校长,教务处,2023年5月10日")
    result = file_issues(engine, store, rows, "s1", "2023-03-10T10:00")

    assert result["ledger_items"] == 2
    with engine.begin() as conn:
        items = ledger(conn, CAMPAIGN)
    fields = ("unit", "problem", "category", "measure", "leader", "office", "deadline", "state")
    assert [tuple(item[f] for f in fields) for item in items] == [
        ("s1", "作风不实", "松", "加强学习", "王副校长", "办公室", "2023-04-30", "open"),
        ("s1", "会风不正", "散", "精简会议", "李校长", "教务处", "2023-05-10", "open"),
    ]


def test_refiling_replaces_the_current_ledger_items(engine, small, store, write_rows):
    first = write_rows("issues-v1.csv",
                       "作风不实,松,加强学习,王副校长,办公室,2023-04-30",
                       "会风不正,散,精简会议,李校长,教务处,2023-05-10")
    second = write_rows("issues-v2.csv", "作风不实（修订）,松,每周集中学习,王副校长,办公室,2023-04-20")
    file_issues(engine, store, first, "s1", "2023-03-10T10:00")
    file_issues(engine, store, second, "s1", "2023-03-11T10:00")

    with engine.begin() as conn:
        items = ledger(conn, CAMPAIGN)
        stored = conn.execute(select(ledger_items.c.problem, ledger_items.c.current, filings.c.version)
                              .join(filings, filings.c.id == ledger_items.c.filing_id)
                              .order_by(ledger_items.c.id)).all()
    assert [(i["problem"], i["deadline"]) for i in items] == [("作风不实（修订）", "2023-04-20")]
    assert [tuple(r) for r in stored] == [("作风不实", False, 1), ("会风不正", False, 1), ("作风不实（修订）", True, 2)]


# --- waivers ---

def test_waiver_is_audited_with_its_reason(engine, small):
    reason = "该校已并入第一小学"
    with engine.begin() as conn:
        result = waive(conn, CAMPAIGN, "s2", "plan", reason, act("2023-02-21T10:00", "director"))

    assert result["state"] == "waived"
    with engine.begin() as conn:
        ob = obligation(conn, "s2", "plan")
        event = conn.execute(select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)).one()
    assert (ob.state, ob.waived_reason, ob.done, ob.done_at) == ("waived", reason, True, local("2023-02-21T10:00"))
    assert (event.action, event.actor, event.subject) == ("obligation.waived", "director", "obligation:s2/plan/plan")
    assert event.after == {"state": "waived", "reason": reason}
    assert event.at == local("2023-02-21T10:00")


@pytest.mark.parametrize("reason", ["", "   "])
def test_waiver_needs_a_reason(engine, small, reason):
    with engine.begin() as conn:
        events = count(conn, audit_events)
        with pytest.raises(InvalidInput, match="reason"):
            waive(conn, CAMPAIGN, "s2", "plan", reason, act("2023-02-21T10:00", "director"))

    with engine.begin() as conn:
        ob = obligation(conn, "s2", "plan")
        assert (ob.state, ob.waived_reason, ob.done) == ("pending", None, False)
        assert count(conn, audit_events) == events


# --- unknown names ---

UNKNOWN = {
    "file-unit": (lambda c, s, f: file_artifact(c, s, CAMPAIGN, "s9", "plan", act("2023-02-20T10:00"),
                                                files=[f], signed_by="张校长"), "s9"),
    "file-artifact": (lambda c, s, f: file_artifact(c, s, CAMPAIGN, "s1", "budget", act("2023-02-20T10:00"),
                                                    files=[f], signed_by="张校长"), "budget"),
    "review-unit": (lambda c, s, f: review(c, CAMPAIGN, "s9", "issue_list", True, None, act("2023-03-12T10:00")), "s9"),
    "review-artifact": (lambda c, s, f: review(c, CAMPAIGN, "s1", "budget", True, None, act("2023-03-12T10:00")), "budget"),
    "waive-unit": (lambda c, s, f: waive(c, CAMPAIGN, "s9", "plan", "撤并", act("2023-02-21T10:00")), "s9"),
    "waive-artifact": (lambda c, s, f: waive(c, CAMPAIGN, "s1", "budget", "撤并", act("2023-02-21T10:00")), "budget"),
}


@pytest.mark.parametrize("call, name", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_unknown_unit_or_artifact_is_not_found_by_name(engine, small, store, scan, call, name):
    with engine.begin() as conn:
        events = count(conn, audit_events)
        with pytest.raises(NotFound) as caught:
            call(conn, store, scan)

    assert f"'{name}'" in str(caught.value)
    with engine.begin() as conn:
        assert count(conn, filings) + count(conn, reviews) == 0
        assert count(conn, audit_events) == events
