"""The audit chain: every state change is an event at the instant given, each event hashes the one
before it, and `verify` (and `campaign audit verify`) names the event where an edit, a deletion or a
forged insertion breaks the chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, insert, text

from campaign_model.audit import GENESIS, event_hash
from campaign_model.store import audit
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.tables import audit_events

from .conftest import local

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = "small-2023"
CLI = "import sys; sys.argv[0]='campaign'; from campaign_app.cli import main; main()"
RECORDING_DELAY = dt.timedelta(minutes=5)  # recorded_at differs from `at`, so each is seen to be kept


def act(when: str, actor: str) -> Act:
    return Act(local(when), actor, local(when) + RECORDING_DELAY)


# (action, actor, subject, at) of each event the history below appends, in order
EXPECTED = [
    ("campaign.created", "admin", "campaign:small-2023", "2023-02-01T09:00"),
    ("phase.started", "tick", "phase:mobilization", "2023-02-14T09:00"),
    ("filing.created", "s1-clerk", "obligation:s1/plan/plan", "2023-02-20T10:00"),
    ("obligation.waived", "director", "obligation:s2/plan/plan", "2023-02-21T10:00"),
    ("phase.completed", "tick", "phase:mobilization", "2023-03-06T09:00"),
    ("phase.started", "tick", "phase:self_check", "2023-03-06T09:00"),
    ("filing.created", "s1-clerk", "obligation:s1/issue_list/issues", "2023-03-10T10:00"),
    ("filing.rejected", "reviewer", "obligation:s1/issue_list/issues", "2023-03-11T10:00"),
    ("filing.created", "s1-clerk", "obligation:s1/issue_list/issues", "2023-03-13T10:00"),
    ("filing.accepted", "reviewer", "obligation:s1/issue_list/issues", "2023-03-14T10:00"),
]


@pytest.fixture
def history(engine, small, db_url, tmp_path) -> list[Any]:
    """A campaign taken through create, ticks, filings, a waiver and reviews; returns its events."""
    from flows.tick import tick_direct

    store = BlobStore(tmp_path / "files")
    scan = tmp_path / "plan.pdf"
    scan.write_bytes(b"signed plan")
    issues = tmp_path / "issues.csv"
    issues.write_text("问题,整改时限\n作风不实,2023-04-30\n", encoding="utf-8")
    outbox_file = str(tmp_path / "outbox.jsonl")

    tick_direct(db_url, CAMPAIGN, act("2023-02-14T09:00", "tick"), outbox_file)
    with engine.begin() as conn:
        file_artifact(conn, store, CAMPAIGN, "s1", "plan", act("2023-02-20T10:00", "s1-clerk"),
                      files=[scan], signed_by="张校长")
    with engine.begin() as conn:
        waive(conn, CAMPAIGN, "s2", "plan", "该校已撤并", act("2023-02-21T10:00", "director"))
    tick_direct(db_url, CAMPAIGN, act("2023-03-06T09:00", "tick"), outbox_file)
    with engine.begin() as conn:
        file_artifact(conn, store, CAMPAIGN, "s1", "issue_list", act("2023-03-10T10:00", "s1-clerk"), rows_file=issues)
    with engine.begin() as conn:
        review(conn, CAMPAIGN, "s1", "issue_list", False, "请细化整改措施", act("2023-03-11T10:00", "reviewer"))
    with engine.begin() as conn:
        file_artifact(conn, store, CAMPAIGN, "s1", "issue_list", act("2023-03-13T10:00", "s1-clerk"), rows_file=issues)
    with engine.begin() as conn:
        review(conn, CAMPAIGN, "s1", "issue_list", True, None, act("2023-03-14T10:00", "reviewer"))
    with engine.begin() as conn:
        return audit.events(conn)


def verdict(engine) -> Any:
    with engine.begin() as conn:
        return audit.verify(conn)


def seq_of(events: list[Any], action: str, nth: int = 0) -> int:
    return [e.seq for e in events if e.action == action][nth]


def raw(engine, sql: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), params)


# --- appending ---

def test_every_state_change_appends_an_event_at_the_instant_given(history):
    # the weekly notices (通报) the ticks send are events too; their schedule is tested in test_scenario
    notices = [(e.subject, e.at) for e in history if e.action == "notice.sent"]
    assert notices == [("notice:2023-02-13", local("2023-02-14T09:00")), ("notice:2023-03-06", local("2023-03-06T09:00"))]
    assert [(e.action, e.actor, e.subject, e.at) for e in history if e.action != "notice.sent"] == [
        (action, actor, subject, local(at)) for action, actor, subject, at in EXPECTED]
    assert [e.recorded_at - e.at for e in history[1:]] == [RECORDING_DELAY] * (len(history) - 1)
    assert all(e.campaign == CAMPAIGN for e in history)


def test_events_carry_before_and_after(history):
    by_action = {e.action: e for e in history}
    assert by_action["obligation.waived"].before == {"state": "pending"}
    assert by_action["obligation.waived"].after == {"state": "waived", "reason": "该校已撤并"}
    assert by_action["filing.rejected"].before == {"state": "filed"}
    # the rejected issue list's one ledger item leaves the ledger until the school refiles
    assert by_action["filing.rejected"].after == {"state": "rejected", "comment": "请细化整改措施",
                                                  "ledger_items_withdrawn": 1}
    assert by_action["phase.started"].before == {"state": "pending"}
    assert by_action["phase.started"].after["state"] == "active"
    first_filing = next(e for e in history if e.action == "filing.created")
    assert first_filing.before == {"state": "pending"}
    assert first_filing.after["state"] == "filed" and first_filing.after["version"] == 1
    assert first_filing.after["signed_by"] == "张校长"
    created = history[0]
    assert created.before is None and created.after["obligations"] == 5


def test_each_event_links_to_the_one_before(history):
    assert [e.seq for e in history] == list(range(1, len(history) + 1))
    assert history[0].prev_hash == GENESIS
    for previous, event in zip(history, history[1:], strict=False):
        assert event.prev_hash == previous.hash
    assert all(event_hash(e) == e.hash for e in history)


# --- verifying ---

def test_untouched_log_verifies(engine, history):
    result = verdict(engine)
    assert result.ok is True
    assert result.count == len(history)


def test_altered_event_fails_naming_it(engine, history):
    seq = seq_of(history, "obligation.waived")
    raw(engine, 'UPDATE audit_events SET "after" = :after WHERE seq = :seq',
        after='{"state": "waived", "reason": "领导同意"}', seq=seq)

    result = verdict(engine)
    assert result.ok is False
    assert result.first_bad == seq


def test_deleted_event_in_the_middle_fails_naming_it(engine, history):
    seq = seq_of(history, "filing.rejected")
    raw(engine, "DELETE FROM audit_events WHERE seq = :seq", seq=seq)

    result = verdict(engine)
    assert result.ok is False
    assert result.first_bad == seq


def test_deleted_last_event_fails_as_the_head_no_longer_matches(engine, history):
    last = history[-1].seq
    raw(engine, "DELETE FROM audit_events WHERE seq = :seq", seq=last)

    result = verdict(engine)
    assert result.ok is False
    assert result.first_bad == last
    assert f"#{last}" in result.reason


def forge(conn: Connection, seq: int, prev_hash: str) -> None:
    """A well-formed event with its own hash correctly computed, as a forger would write it."""
    event = audit.AuditEvent(seq, local("2023-03-12T10:00"), local("2023-03-12T10:00"), "forger", "filing.accepted",
                             CAMPAIGN, "obligation:s2/issue_list/issues", {"state": "pending"}, {"state": "accepted"},
                             prev_hash)
    conn.execute(insert(audit_events).values(**dataclasses.asdict(dataclasses.replace(event, hash=event_hash(event)))))


def test_forged_event_inserted_in_the_middle_fails(engine, history):
    seq = seq_of(history, "filing.rejected")  # forged in its place; it and the later events move up one
    with engine.begin() as conn:
        # two steps: SQLite checks the primary key row by row, so seq + 1 in place would collide
        conn.execute(text("UPDATE audit_events SET seq = seq + 1000 WHERE seq >= :seq"), {"seq": seq})
        conn.execute(text("UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000"))
        forge(conn, seq, prev_hash=history[seq - 2].hash)

    result = verdict(engine)
    assert result.ok is False
    # the forgery links to its predecessor; the event displaced after it does not link to the forgery
    assert result.first_bad == seq + 1


def test_forged_event_with_a_wrong_prev_hash_fails_naming_it(engine, history):
    seq = len(history) + 1
    with engine.begin() as conn:
        forge(conn, seq, prev_hash="f" * 64)

    result = verdict(engine)
    assert result.ok is False
    assert result.first_bad == seq


def test_forged_event_appended_past_the_head_fails(engine, history):
    seq = len(history) + 1
    with engine.begin() as conn:
        forge(conn, seq, prev_hash=history[-1].hash)  # links perfectly, but the head was not moved

    result = verdict(engine)
    assert result.ok is False
    assert result.first_bad == seq


# --- the CLI ---

def audit_verify(db_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGN_DB_URL": db_url, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", CLI, "audit", "verify"], env=env, cwd=home,
                          capture_output=True, text=True, timeout=120)


def test_cli_audit_verify_exits_0_on_an_intact_log(history, db_url, tmp_path):
    done = audit_verify(db_url, tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"{len(history)} 个事件" in done.stdout
    assert "Traceback" not in done.stderr


def test_cli_audit_verify_exits_1_naming_the_tampered_event(engine, history, db_url, tmp_path):
    seq = seq_of(history, "filing.created", 1)
    raw(engine, 'UPDATE audit_events SET actor = :actor WHERE seq = :seq', actor="someone-else", seq=seq)

    done = audit_verify(db_url, tmp_path)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert re.search(rf"#{seq}\b", done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_cli_audit_verify_exits_1_after_a_deletion(engine, history, db_url, tmp_path):
    seq = seq_of(history, "obligation.waived")
    raw(engine, "DELETE FROM audit_events WHERE seq = :seq", seq=seq)

    done = audit_verify(db_url, tmp_path)

    assert done.returncode == 1, (done.stdout, done.stderr)
    assert re.search(rf"#{seq}\b", done.stderr), done.stderr
    assert "Traceback" not in done.stderr
