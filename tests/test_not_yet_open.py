"""An obligation of a phase that has not started is "not yet open" (未开始): never overdue, reminded, escalated or
named in a notice, whatever its due date. Once its phase starts (late, held by the gate before it), its due
instant is kept: already past, it is overdue from the phase's start.

The small campaign (conftest.SMALL_SPEC) on SQLite and PostgreSQL: schools owe a signed `plan` (mobilization,
window 02-14..03-05, due 02-28) and an `issue_list` (self_check, window 03-06..03-31, due 04-05).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from campaign_model.store import board
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.filings import file_artifact
from campaign_model.store.notice_query import overdue_by_parent
from campaign_model.store.outbox import listing_docs
from campaign_model.store.queries import status
from flows.tick import tick_direct

from .conftest import local

CAMPAIGN = "small-2023"


def _read(engine, fn: Any, when: str) -> Any:
    with engine.connect() as conn:
        return fn(conn, CAMPAIGN, local(when))


def _reminded(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return {(r["unit"], r["artifact"]) for r in listing_docs(conn, load_ctx(conn, CAMPAIGN))}


def _tick(db_url: str, tmp_path: Path, when: str) -> dict[str, Any]:
    return tick_direct(db_url, CAMPAIGN, Act(local(when), "tick", local(when)), str(tmp_path / "outbox.jsonl"))


def _file_plan(engine, tmp_path: Path, unit: str, when: str) -> None:
    scan = tmp_path / f"{unit}-方案签字版.pdf"
    scan.write_bytes(f"signed plan of {unit}".encode())
    with engine.begin() as conn:
        file_artifact(conn, BlobStore(tmp_path / "files"), CAMPAIGN, unit, "plan", Act(local(when), "王科员", local(when)),
                      files=[scan], signed_by="李校长")


def test_nothing_is_overdue_reminded_or_noticed_before_its_phase_starts(engine, db_url, small, tmp_path):
    # right after create, no tick yet: every due date of mobilization is past, yet no phase has started
    when = "2023-03-10T10:00"
    counts = _read(engine, status, when)["obligations"]
    assert counts["overdue"] == 0 and counts["not_open"] == counts["pending"] == counts["total"] == 5
    notice = _read(engine, overdue_by_parent, when)
    assert notice.items == [] and notice.due_total == 0
    assert _read(engine, board.overdue, when) == []
    assert {c["light"] for row in _read(engine, board.matrix, when)["rows"] for c in row["cells"] if c} == {"none"}
    assert _reminded(engine) == set()

    # the first tick starts mobilization (its window opened 02-14): its plans are overdue, reminded, in the notice;
    # self_check waits on mobilization's gate, its issue lists stay not yet open
    _tick(db_url, tmp_path, when)
    counts = _read(engine, status, when)["obligations"]
    assert counts["overdue"] == 2 and counts["not_open"] == 3
    assert {(i.unit_key, i.artifact) for i in _read(engine, overdue_by_parent, when).items} == {("s1", "plan"), ("s2", "plan")}
    assert _reminded(engine) == {("s1", "plan"), ("s2", "plan")}

    # 04-05 passes with self_check still held: its issue lists are past due but not overdue, reminded or named
    later = "2023-04-10T10:00"
    _tick(db_url, tmp_path, later)
    assert _read(engine, status, later)["obligations"]["overdue"] == 2
    assert all(i.artifact == "plan" for i in _read(engine, overdue_by_parent, later).items)
    assert [r["artifact"] for r in _read(engine, board.overdue, later)] == ["plan", "plan"]
    assert _reminded(engine) == {("s1", "plan"), ("s2", "plan")}

    # the plans are filed: mobilization completes, self_check starts late with 04-05 already past
    _file_plan(engine, tmp_path, "s1", "2023-04-11T09:00")
    _file_plan(engine, tmp_path, "s2", "2023-04-11T09:30")
    start = "2023-04-11T10:00"
    r = _tick(db_url, tmp_path, start)
    assert "mobilization" in r["advanced"] and r["phases"]["self_check"] == "overdue"
    counts = _read(engine, status, start)["obligations"]
    assert counts["overdue"] == 2 and counts["not_open"] == 1  # the two issue lists; the summary still waits
    items = _read(engine, overdue_by_parent, start).items
    assert {(i.unit_key, i.artifact) for i in items} == {("s1", "issue_list"), ("s2", "issue_list")}
    assert {i.days_overdue for i in items} == {6}  # the due instant is kept: counted from 04-05
    # reminded at the policy's next overdue slot after the phase's start (every 2 workdays from 04-05)
    _tick(db_url, tmp_path, "2023-04-14T10:00")
    assert {("s1", "issue_list"), ("s2", "issue_list")} <= _reminded(engine)
