"""Counts agree with what just happened: a rejection shows as rejected (overdue is a subset of the open ones,
not a state that hides it), and a rejected issue list's ledger items leave the ledger, its counts, the board
and the reminders until the school files again.

The small campaign (conftest.SMALL_SPEC) on SQLite and PostgreSQL: schools owe a `plan` (mobilization) and an
`issue_list` (self_check, due 04-05, reviewed); each issue-list row becomes a ledger item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from campaign_model.errors import InvalidInput
from campaign_model.store import board
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import load_ctx
from campaign_model.store.filings import file_artifact, review
from campaign_model.store.ledger import item_history, update_item
from campaign_model.store.outbox import listing_docs
from campaign_model.store.queries import ledger, status
from flows.tick import tick_direct

from .conftest import local

CAMPAIGN = "small-2023"


class School:
    def __init__(self, engine, db_url: str, tmp_path: Path):
        self.engine, self.url, self.tmp = engine, db_url, tmp_path
        self.blobs = BlobStore(tmp_path / "files")

    def act(self, who: str, when: str) -> Act:
        return Act(local(when), who, local(when))

    def tick(self, when: str) -> None:
        tick_direct(self.url, CAMPAIGN, self.act("tick", when), str(self.tmp / "outbox.jsonl"))

    def file_plan(self, unit: str, when: str) -> None:
        scan = self.tmp / f"{unit}.pdf"
        scan.write_bytes(unit.encode())
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, CAMPAIGN, unit, "plan", self.act("王科员", when), files=[scan], signed_by="李校长")

    def file_issues(self, unit: str, when: str, *rows: str) -> dict[str, Any]:
        path = self.tmp / f"{unit}-问题清单.csv"
        path.write_text("problem,category,deadline\n" + "\n".join(rows) + "\n", encoding="utf-8")
        with self.engine.begin() as conn:
            return file_artifact(conn, self.blobs, CAMPAIGN, unit, "issue_list", self.act("王科员", when), rows_file=path)

    def review(self, unit: str, accept: bool, when: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            return review(conn, CAMPAIGN, unit, "issue_list", accept, None if accept else "整改措施不具体",
                          self.act("赵督导", when))

    def read(self, fn: Any, *args: Any, **kw: Any) -> Any:
        with self.engine.connect() as conn:
            return fn(conn, CAMPAIGN, *args, **kw)

    def item_reminders(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [r for r in listing_docs(conn, load_ctx(conn, CAMPAIGN)) if "item" in r]


@pytest.fixture
def school(engine, db_url, small, tmp_path) -> School:
    s = School(engine, db_url, tmp_path)
    s.tick("2023-02-14T08:00")
    s.file_plan("s1", "2023-02-20T10:00")
    s.file_plan("s2", "2023-02-20T11:00")
    s.tick("2023-03-06T08:00")  # mobilization completes, self_check starts
    return s


def test_status_counts_a_rejection_as_rejected_right_after_it(school):
    school.file_issues("s1", "2023-04-03T10:00", "会议多落实少,慢,2023-06-30")
    school.review("s1", False, "2023-04-06T09:00")  # rejected after its due instant (04-05)
    doc = school.read(status, local("2023-04-06T09:05"))
    counts = doc["obligations"]
    assert counts["rejected"] == 1  # before: folded into "overdue", and "rejected 0"
    assert counts["overdue"] == 2  # s1's rejected list and s2's missing one: a subset of pending + rejected
    assert (counts["pending"], counts["filed"], counts["not_open"]) == (2, 2, 1)  # s2's list, bureau's summary
    partition = doc["obligations_legend"]["partition"]
    assert sum(counts[k] for k in partition) == counts["total"] == 5
    assert set(doc["obligations_legend"]["subsets"]) == {"overdue", "not_open"}


def test_a_rejected_issue_lists_items_leave_the_ledger_until_the_school_refiles(school):
    school.file_issues("s1", "2023-04-03T10:00", "会议多落实少,慢,2023-04-20", "办事拖拉,慢,2023-06-30")
    school.file_issues("s2", "2023-04-03T11:00", "作风漂浮,散,2023-06-30")
    assert len(school.read(ledger)) == 3
    school.tick("2023-04-19T10:00")  # s1's first item (due 04-20) is reminded
    assert {r["unit"] for r in school.item_reminders()} == {"s1"}
    [first] = [i for i in school.read(ledger, unit="s1") if i["problem"] == "会议多落实少"]

    result = school.review("s1", False, "2023-04-19T15:00")
    assert result["ledger_items_withdrawn"] == 2
    # out of the ledger listing, its counts on the public board, and the reminders
    assert [i["unit"] for i in school.read(ledger)] == ["s2"]
    assert school.read(board.public_board, local("2023-04-19T16:00"))["ledger"]["items"] == 1
    school.tick("2023-04-21T10:00")  # 04-20 passes: the withdrawn item is neither overdue nor reminded again
    assert {(r["unit"], r["state"]) for r in school.item_reminders()} == {("s1", "sent")}
    assert school.read(board.public_board, local("2023-04-21T11:00"))["ledger"]["overdue"] == 0
    # marked as belonging to a rejected version, and refused as such
    with school.engine.connect() as conn:
        assert item_history(conn, first["id"])[-1]["action"] == "withdrawn"
    with school.engine.begin() as conn, pytest.raises(InvalidInput, match="退回"):
        update_item(conn, school.blobs, first["id"], "in_progress", "已召开专题会", [], Act(
            local("2023-04-21T12:00"), "王科员", local("2023-04-21T12:00")))

    school.file_issues("s1", "2023-04-22T10:00", "会议多落实少,慢,2023-06-30")  # the refiling replaces them
    assert sorted(i["unit"] for i in school.read(ledger)) == ["s1", "s2"]
