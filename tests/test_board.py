"""The dashboard's read models on SQLite and PostgreSQL: the traffic-light matrix, the overdue list,
each phase's progress over the days, and the public 公示 board (figures only, nobody named).

The small campaign (conftest.SMALL_SPEC): units bureau > d1 (学区) > s1, s2 (学校); each school owes a
signed `plan` (mobilization, due 2023-02-28) and a reviewed `issue_list` (self_check, window 03-06 to
03-31, due 04-05); the organizer (bureau) owes the `summary` (due 04-30).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from campaign_model.spec import UnitSpec
from campaign_model.specfile import load_spec_text
from campaign_model.store import board
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.board import light, matrix, overdue, progress_series, public_board
from campaign_model.store.campaigns import import_units, load_ctx
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.ledger import record_finding, update_item, verify_item
from campaign_model.store.phases import force_advance
from campaign_model.store.queries import ledger, obligation_list, status
from flows.tick import tick_direct

from .conftest import SMALL_SPEC, local

CAMPAIGN = "small-2023"
PLAN_DUE = local("2023-02-28T23:59:59")
STARTED = local("2023-02-13T00:00")  # the plan's phase (mobilization) started before every instant below


class Campaign:
    """The small campaign driven at explicit instants: ticks, filings, reviews, waivers, the ledger."""

    def __init__(self, engine, db_url: str, tmp_path: Path):
        self.engine, self.url, self.tmp = engine, db_url, tmp_path
        self.blobs = BlobStore(tmp_path / "files")

    def tick(self, when: str) -> dict[str, Any]:
        return tick_direct(self.url, CAMPAIGN, Act(local(when), "tick", local(when)), str(self.tmp / "outbox.jsonl"))

    def file_plan(self, unit: str, when: str) -> dict[str, Any]:
        scan = self.tmp / f"{unit}-方案签字版.pdf"
        scan.write_bytes(f"signed plan of {unit}".encode())
        with self.engine.begin() as conn:
            return file_artifact(conn, self.blobs, CAMPAIGN, unit, "plan", Act(local(when), "王科员", local(when)),
                                 files=[scan], signed_by="李校长")

    def file_issues(self, unit: str, when: str, *rows: str) -> dict[str, Any]:
        path = self.tmp / f"{unit}-问题清单.csv"
        path.write_text("problem,category,deadline\n" + "\n".join(rows) + "\n", encoding="utf-8")
        with self.engine.begin() as conn:
            return file_artifact(conn, self.blobs, CAMPAIGN, unit, "issue_list",
                                 Act(local(when), "王科员", local(when)), rows_file=path)

    def review(self, unit: str, accept: bool, when: str) -> None:
        with self.engine.begin() as conn:
            review(conn, CAMPAIGN, unit, "issue_list", accept, None if accept else "整改措施不具体",
                   Act(local(when), "赵督导", local(when)))

    def waive(self, unit: str, artifact: str, when: str) -> None:
        with self.engine.begin() as conn:
            waive(conn, CAMPAIGN, unit, artifact, "学校撤并特批免报", Act(local(when), "钱局长", local(when)))

    def remove(self, unit: str, when: str) -> None:
        listed = [u for u in load_spec_text(SMALL_SPEC, "small.yaml").units if u.key != unit]
        with self.engine.begin() as conn:
            import_units(conn, CAMPAIGN, listed, Act(local(when), "admin", local(when)), "学校撤并")

    def add_schools(self, n: int, when: str) -> None:
        listed = [*load_spec_text(SMALL_SPEC, "small.yaml").units,
                  *(UnitSpec(key=f"x{i}", name=f"新校{i}", parent="d1", tags=["学校"]) for i in range(n))]
        with self.engine.begin() as conn:
            import_units(conn, CAMPAIGN, listed, Act(local(when), "admin", local(when)), None)

    def read(self, fn: Any, when: str | dt.datetime, **kw: Any) -> Any:
        with self.engine.connect() as conn:
            return fn(conn, CAMPAIGN, local(when) if isinstance(when, str) else when, **kw)


@pytest.fixture
def camp(engine, db_url, small, tmp_path) -> Campaign:
    return Campaign(engine, db_url, tmp_path)


def lights(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(unit, artifact) -> light of every cell the matrix shows."""
    return {(row["unit"], col["artifact"]): cell["light"]
            for row in doc["rows"] for col, cell in zip(doc["columns"], row["cells"], strict=False) if cell is not None}


# --- the light of one obligation (pure) ---

def test_a_waived_obligation_is_grey_whatever_its_due():
    assert light("waived", PLAN_DUE, local("2023-03-10T00:00"), True, STARTED) == "grey"
    assert light("pending", PLAN_DUE, local("2023-03-10T00:00"), True, STARTED) == "grey"


@pytest.mark.parametrize("state", ["filed", "accepted"])
def test_a_filed_or_accepted_obligation_is_green_even_past_due(state):
    assert light(state, PLAN_DUE, local("2023-02-01T00:00"), False, None) == "green"
    assert light(state, PLAN_DUE, local("2023-03-10T00:00"), False, STARTED) == "green"


@pytest.mark.parametrize("state", ["pending", "rejected", "overdue"])
def test_an_open_obligation_past_due_is_red(state):
    assert light(state, PLAN_DUE, PLAN_DUE + dt.timedelta(seconds=1), False, STARTED) == "red"


@pytest.mark.parametrize("state", ["pending", "rejected"])
def test_an_open_obligation_of_a_phase_not_yet_started_has_no_light_even_past_due(state):
    late = PLAN_DUE + dt.timedelta(days=30)
    assert light(state, PLAN_DUE, late, False, None) == "none"  # the phase has not started
    assert light(state, PLAN_DUE, late, False, late + dt.timedelta(seconds=1)) == "none"  # starts after `at`
    assert light(state, PLAN_DUE, late, False, late) == "red"  # started late: overdue from its start


@pytest.mark.parametrize("state", ["pending", "rejected"])
def test_an_open_obligation_due_within_three_days_is_yellow_and_earlier_none(state):
    assert light(state, PLAN_DUE, PLAN_DUE, False, STARTED) == "yellow"  # at the due instant it is not yet late
    assert light(state, PLAN_DUE, PLAN_DUE - board.DUE_SOON, False, STARTED) == "yellow"
    assert light(state, PLAN_DUE, PLAN_DUE - board.DUE_SOON - dt.timedelta(seconds=1), False, STARTED) == "none"


def test_an_unknown_state_has_no_light():
    with pytest.raises(ValueError, match="lost"):
        light("lost", PLAN_DUE, PLAN_DUE, False, STARTED)


# --- the matrix ---

def test_the_matrix_has_a_column_per_requirement_and_a_row_per_unit(camp):
    doc = camp.read(matrix, "2023-02-20T12:00")
    assert (doc["campaign"], doc["at"]) == (CAMPAIGN, "2023-02-20T12:00:00+08:00")
    assert doc["columns"] == [
        {"artifact": "plan", "step": "plan", "step_title": "制定实施方案", "title": "实施方案", "phase": "mobilization",
         "due": "2023-02-28T23:59:59+08:00"},
        {"artifact": "issue_list", "step": "issues", "step_title": "问题清单", "title": "问题清单", "phase": "self_check",
         "due": "2023-04-05T23:59:59+08:00"},
        {"artifact": "summary", "step": "summary", "step_title": "总结报告", "title": "总结报告", "phase": "summary",
         "due": "2023-04-30T23:59:59+08:00"}]
    # by parent, then key: the bureau (no parent) first; d1 owes nothing, so all its cells are empty
    assert [(r["unit"], r["name"], r["parent"], r["tags"]) for r in doc["rows"]] == [
        ("bureau", "教育局", None, []), ("d1", "城关学区", "bureau", ["学区"]),
        ("s1", "第一小学", "d1", ["学校"]), ("s2", "第二小学", "d1", ["学校"])]
    assert [[c is not None for c in r["cells"]] for r in doc["rows"]] == [
        [False, False, True], [False, False, False], [True, True, False], [True, True, False]]
    assert doc["parents"] == [{"key": "bureau", "name": "教育局"}, {"key": "d1", "name": "城关学区"}]
    assert doc["tags"] == ["学区", "学校"]


def test_the_matrix_lights_each_obligation_at_the_instant(camp):
    camp.tick("2023-02-14T08:00")  # mobilization starts: its obligations are open (a phase not started has no light)
    assert set(camp.read(matrix, "2023-02-25T12:00")["counts"].items()) == {
        ("green", 0), ("yellow", 0), ("red", 0), ("grey", 0), ("none", 5)}
    assert lights(camp.read(matrix, "2023-02-26T00:00"))[("s1", "plan")] == "yellow"  # due within three days

    camp.file_plan("s1", "2023-02-27T10:00")
    doc = camp.read(matrix, "2023-03-01T10:00")
    assert lights(doc) == {("bureau", "summary"): "none", ("s1", "plan"): "green", ("s1", "issue_list"): "none",
                           ("s2", "plan"): "red", ("s2", "issue_list"): "none"}
    s1_plan = doc["rows"][2]["cells"][0]
    assert s1_plan == {"state": "filed", "light": "green", "due": "2023-02-28T23:59:59+08:00",
                       "filed_at": "2023-02-27T10:00:00+08:00", "late": False, "version": 1}
    assert doc["rows"][3]["cells"][0]["state"] == "pending"  # the stored state; the light says it is late
    assert doc["counts"] == {"green": 1, "yellow": 0, "red": 1, "grey": 0, "none": 3}

    camp.waive("s2", "plan", "2023-03-02T09:00")
    camp.file_plan("s1", "2023-03-02T10:00")  # a second version replaces nothing: the cell shows the latest
    doc = camp.read(matrix, "2023-03-02T12:00")
    assert (lights(doc)[("s2", "plan")], doc["rows"][2]["cells"][0]["version"]) == ("grey", 2)
    assert doc["rows"][2]["cells"][0]["late"] is True


def test_a_rejected_issue_list_is_open_again(camp):
    camp.tick("2023-02-14T08:00")
    camp.file_plan("s1", "2023-02-20T10:00")
    camp.file_plan("s2", "2023-02-20T11:00")
    camp.tick("2023-03-06T08:00")  # mobilization completes at its end, self_check starts
    camp.file_issues("s1", "2023-04-03T10:00", "会议多落实少,慢,2023-06-30")
    camp.review("s1", False, "2023-04-04T09:00")
    assert lights(camp.read(matrix, "2023-04-04T12:00"))[("s1", "issue_list")] == "yellow"
    assert lights(camp.read(matrix, "2023-04-06T12:00"))[("s1", "issue_list")] == "red"


@pytest.mark.parametrize("filters, shown", [
    ({"parent": "d1"}, ["d1", "s1", "s2"]),  # the parent itself and its direct children
    ({"parent": "bureau"}, ["bureau", "d1"]),  # not the grandchildren
    ({"tag": "学校"}, ["s1", "s2"]),
    ({"units": {"bureau", "s1"}}, ["bureau", "s1"]),
    ({"units": set()}, []),
    ({"tag": "学校", "units": {"bureau", "s1"}}, ["s1"]),
    ({"parent": "d1", "tag": "学区"}, ["d1"]),
    ({"parent": "d1", "tag": "学校", "units": ["s2"]}, ["s2"]),
    ({"units": "s1"}, ["s1"]),  # one key alone
], ids=["parent", "parent-no-grandchildren", "tag", "scope", "empty-scope", "tag-and-scope", "parent-and-tag", "all",
        "one-key"])
def test_the_matrix_filters_by_parent_tag_and_scope_together(camp, filters, shown):
    doc = camp.read(matrix, "2023-03-01T10:00", **filters)
    assert [r["unit"] for r in doc["rows"]] == shown
    assert sum(doc["counts"].values()) == sum(c is not None for r in doc["rows"] for c in r["cells"])
    # the choices of the filters stay whole whatever is chosen
    assert [p["key"] for p in doc["parents"]] == ["bureau", "d1"] and doc["tags"] == ["学区", "学校"]
    assert len(doc["columns"]) == 3


def test_a_removed_unit_is_not_shown(camp):
    camp.tick("2023-02-14T08:00")
    camp.remove("s2", "2023-02-20T09:00")
    doc = camp.read(matrix, "2023-03-01T10:00")
    assert [r["unit"] for r in doc["rows"]] == ["bureau", "d1", "s1"]
    assert doc["counts"] == {"green": 0, "yellow": 0, "red": 1, "grey": 0, "none": 2}
    assert camp.read(matrix, "2023-03-01T10:00", units=["s2"])["rows"] == []
    assert [o["unit"] for o in camp.read(overdue, "2023-03-01T10:00")] == ["s1"]
    assert camp.read(public_board, "2023-03-01T10:00")["overall"]["units"] == 3


class Mixed:
    """A campaign with an obligation in each state, set up once for the property test below."""

    def __init__(self, camp: Campaign):
        camp.file_plan("s1", "2023-03-01T10:00")  # late
        camp.file_plan("s2", "2023-02-20T10:00")
        camp.file_issues("s1", "2023-04-01T10:00", "会议多落实少,慢,2023-06-30")
        camp.review("s1", False, "2023-04-02T10:00")  # rejected: open again
        camp.file_issues("s2", "2023-04-01T10:00", "办事拖拉,慢,2023-06-30")
        camp.review("s2", True, "2023-04-02T11:00")
        camp.waive("bureau", "summary", "2023-04-03T10:00")
        self.camp = camp


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.integers(min_value=0, max_value=100 * 24 * 60))
def test_matrix_lights_agree_with_light_over_the_obligation_list(camp, minutes):
    if not hasattr(camp, "mixed"):
        camp.mixed = Mixed(camp)
    at = local("2023-02-10T00:00") + dt.timedelta(minutes=minutes)
    doc = camp.read(matrix, at)
    listed = camp.read(obligation_list, at)
    started = {p["key"]: p["started_at"] and dt.datetime.fromisoformat(p["started_at"])
               for p in camp.read(status, at)["phases"]}
    phase_of = {(c["artifact"], c["step"]): c["phase"] for c in doc["columns"]}
    expected = {(o["unit"], o["artifact"]): light(o["state"], dt.datetime.fromisoformat(o["due"]), at,
                                                  o["state"] == "waived", started[phase_of[(o["artifact"], o["step"])]])
                for o in listed}
    assert lights(doc) == expected
    assert set(expected.values()) >= ({"green", "grey"})


# --- the overdue list ---

def test_the_overdue_list_counts_days_and_the_reminders_sent(camp):
    camp.tick("2023-02-14T08:00")
    camp.tick("2023-02-24T10:00")  # "3 days" before: s1 and s2 reminded
    camp.tick("2023-02-28T09:30")  # on the due day
    camp.tick("2023-03-01T10:00")  # overdue
    camp.file_plan("s1", "2023-03-01T11:00")
    assert camp.read(overdue, "2023-02-28T23:59:59") == []  # due at the end of the day: not yet late

    late = camp.read(overdue, "2023-03-03T12:00")
    assert late == [{"obligation": late[0]["obligation"], "unit": "s2", "name": "第二小学", "parent": "d1",
                     "artifact": "plan", "title": "实施方案", "step": "plan", "due": "2023-02-28T23:59:59+08:00",
                     "days_overdue": 3, "state": "pending", "reminders_sent": 3,
                     "last_reminded": "2023-03-01T10:00:00+08:00"}]
    # the reminders sent by the instant asked about, days counted on the local calendar
    early = camp.read(overdue, "2023-03-01T00:30")
    assert [(o["unit"], o["days_overdue"], o["reminders_sent"], o["last_reminded"]) for o in early] == [
        ("s2", 1, 2, "2023-02-28T09:30:00+08:00")]
    assert camp.read(overdue, "2023-03-03T12:00", units=["s1"]) == []
    assert [o["unit"] for o in camp.read(overdue, "2023-03-03T12:00", units={"s2", "bureau"})] == ["s2"]


def test_an_issue_list_rejected_after_its_due_is_overdue_unreminded(camp):
    # its phase must have started for anything to be overdue: mobilization starts, then is forced past its gate
    camp.tick("2023-02-14T08:00")
    with camp.engine.begin() as conn:
        force_advance(conn, load_ctx(conn, CAMPAIGN), "督导组同意转段", Act(local("2023-03-06T08:00"), "钱局长",
                                                                     local("2023-03-06T08:00")), True)
    camp.file_issues("s1", "2023-04-05T10:00", "会议多落实少,慢,2023-06-30")
    camp.review("s1", False, "2023-04-06T09:00")
    late = camp.read(overdue, "2023-04-06T12:00")
    assert [(o["unit"], o["artifact"], o["state"], o["days_overdue"], o["reminders_sent"], o["last_reminded"])
            for o in late] == [("s1", "plan", "pending", 37, 0, None), ("s2", "plan", "pending", 37, 0, None),
                               ("s1", "issue_list", "rejected", 1, 0, None), ("s2", "issue_list", "pending", 1, 0, None)]


# --- progress over the days ---

def progress_campaign(camp: Campaign) -> None:
    camp.tick("2023-02-14T08:00")
    camp.file_plan("s1", "2023-02-20T10:00")
    camp.file_plan("s2", "2023-03-02T10:00")
    camp.file_issues("s1", "2023-03-03T10:00", "会议多落实少,慢,2023-06-30")  # before its phase starts
    camp.tick("2023-03-06T00:30")  # mobilization completes, self_check starts
    camp.file_issues("s2", "2023-04-06T09:00", "办事拖拉,慢,2023-06-30")


def point(series: dict[str, Any], day: str) -> tuple[int, int]:
    found = [(p["due"], p["filed"]) for p in series["points"] if p["date"] == day]
    assert found, day
    return found[0]


def test_progress_counts_what_is_due_and_filed_by_the_end_of_each_day(camp):
    assert camp.read(progress_series, "2023-02-10T12:00") == []  # no phase started yet
    progress_campaign(camp)
    mobilization, self_check = camp.read(progress_series, "2023-04-06T12:00")  # summary has not started

    assert (mobilization["phase"], mobilization["title"]) == ("mobilization", "学习动员")
    assert (mobilization["start"], mobilization["end"]) == ("2023-02-14T00:00:00+08:00", "2023-03-05T23:59:59+08:00")
    days = [p["date"] for p in mobilization["points"]]
    assert (days[0], days[-1], len(days)) == ("2023-02-14", "2023-03-05", 20)
    assert [point(mobilization, d) for d in ("2023-02-14", "2023-02-19", "2023-02-20", "2023-02-27", "2023-02-28",
                                             "2023-03-01", "2023-03-02", "2023-03-05")] == [
        (0, 0), (0, 0), (0, 1), (0, 1), (2, 1), (2, 1), (2, 2), (2, 2)]

    # still running: drawn to today, past its window (03-31) and its due day (04-05)
    days = [p["date"] for p in self_check["points"]]
    assert (days[0], days[-1]) == ("2023-03-06", "2023-04-06")
    assert [point(self_check, d) for d in ("2023-03-06", "2023-04-04", "2023-04-05", "2023-04-06")] == [
        (0, 1), (0, 1), (2, 1), (2, 2)]  # s1's list filed before the phase began counts from its first day


def test_progress_leaves_out_filings_after_the_instant_and_counts_a_rejected_first_filing(camp):
    progress_campaign(camp)
    self_check = camp.read(progress_series, "2023-04-06T08:00")[1]  # s2 files at 09:00
    assert self_check["points"][-1] == {"date": "2023-04-06", "due": 2, "filed": 1}
    camp.review("s1", False, "2023-04-06T10:30")  # rejected: it was filed once; the first filing counts
    assert camp.read(progress_series, "2023-04-06T12:00")[1]["points"][-1] == {"date": "2023-04-06", "due": 2,
                                                                               "filed": 2}


def test_a_waived_obligation_is_neither_due_nor_filed(camp):
    camp.tick("2023-02-14T08:00")
    camp.file_plan("s1", "2023-02-20T10:00")
    camp.waive("s2", "plan", "2023-02-21T10:00")
    mobilization = camp.read(progress_series, "2023-03-01T12:00")[0]
    assert mobilization["points"][-1] == {"date": "2023-03-01", "due": 1, "filed": 1}


def test_a_completed_phase_is_drawn_to_its_last_due_day(camp):
    progress_campaign(camp)
    camp.review("s1", True, "2023-04-06T10:00")
    camp.review("s2", True, "2023-04-06T10:00")
    camp.tick("2023-04-06T11:00")  # self_check completes at 10:00
    self_check = camp.read(progress_series, "2023-04-20T12:00")[1]
    assert self_check["points"][-1] == {"date": "2023-04-06", "due": 2, "filed": 2}
    summary = camp.read(progress_series, "2023-04-20T12:00")[2]
    assert summary["points"][0]["date"] == "2023-04-06" and summary["points"][-1] == {
        "date": "2023-04-20", "due": 0, "filed": 0}


# --- the public board ---

def board_campaign(camp: Campaign) -> dict[str, Any]:
    """The campaign at 04-06 12:00: both plans filed (s2 late), both issue lists filed (s2 late, after its
    due day), a ledger of five: s1's two items (one closed), s2's item and two findings (one long-term)."""
    camp.tick("2023-02-14T08:00")
    camp.file_plan("s1", "2023-02-20T10:00")
    camp.file_plan("s2", "2023-03-02T10:00")
    camp.file_issues("s1", "2023-03-03T10:00", "会议多落实少,慢,2023-06-30")
    camp.tick("2023-03-06T00:30")
    with camp.engine.begin() as conn:
        record_finding(conn, CAMPAIGN, "s2", "食堂账目不清", dt.date(2023, 5, 31),
                       Act(local("2023-03-21T10:00"), "孙督导", local("2023-03-21T10:00")))
        lasting = record_finding(conn, CAMPAIGN, "s2", "师德师风建设", None,
                                 Act(local("2023-03-21T10:05"), "孙督导", local("2023-03-21T10:05")), long_term=True)
    # s1 files its list again: the new version's items replace the first one's
    camp.file_issues("s1", "2023-03-22T10:00", "会议多落实少,慢,2023-03-31", "办事推诿扯皮,推,2023-04-01")
    with camp.engine.connect() as conn:
        items = {i["problem"]: i["id"] for i in ledger(conn, CAMPAIGN)}
    photo = camp.tmp / "整改照片.jpg"
    photo.write_bytes(b"photo of the fix")
    with camp.engine.begin() as conn:
        update_item(conn, camp.blobs, items["会议多落实少"], "rectified", "已建立会议台账", [photo],
                    Act(local("2023-03-25T10:00"), "王科员", local("2023-03-25T10:00")))
        verify_item(conn, items["会议多落实少"], True, "经核实已整改到位",
                    Act(local("2023-03-28T10:00"), "赵督导", local("2023-03-28T10:00")))
        update_item(conn, camp.blobs, lasting["id"], "in_progress", "每月开展一次师德教育", [],
                    Act(local("2023-03-29T10:00"), "王科员", local("2023-03-29T10:00")))
    camp.file_issues("s2", "2023-04-06T09:00", "办事拖拉,慢,2023-06-30")
    return {"photo": photo}


def test_the_public_board_figures(camp):
    board_campaign(camp)
    doc = camp.read(public_board, "2023-04-06T12:00")
    assert (doc["campaign"], doc["title"], doc["title_en"], doc["at"], doc["current_phase"]) == (
        CAMPAIGN, "2023年作风整顿（测试）", None, "2023-04-06T12:00:00+08:00", "self_check")
    assert doc["phases"] == [
        {"key": "mobilization", "title": "学习动员", "state": "completed", "start": "2023-02-14T00:00:00+08:00",
         "end": "2023-03-05T23:59:59+08:00", "due": 2, "filed": 2, "on_time": 1, "rate": 1.0},
        # running past its window: overdue, as queries.status shows it
        {"key": "self_check", "title": "自查自纠", "state": "overdue", "start": "2023-03-06T00:00:00+08:00",
         "end": "2023-03-31T23:59:59+08:00", "due": 2, "filed": 2, "on_time": 1, "rate": 1.0},
        {"key": "summary", "title": "总结提高", "state": "pending", "start": "2023-04-06T00:00:00+08:00",
         "end": "2023-04-30T23:59:59+08:00", "due": 1, "filed": 0, "on_time": 0, "rate": 0.0}]
    assert doc["overall"] == {"units": 4, "obligations": 5, "filed": 4, "on_time_rate": 0.5, "filed_rate": 0.8}
    # 办事推诿扯皮 (due 04-01) is overdue; the long-term item never is
    assert doc["ledger"] == {"items": 5, "closed": 1, "in_progress": 1, "rectified": 0, "open": 3, "overdue": 1,
                             "long_term": 1, "closure_rate": 0.2}
    # the organizer's group holds d1 only, which owes nothing and has no ledger
    assert doc["groups"] == [{"name": "教育局", "units": 1, "filed_rate": None, "closure_rate": None},
                             {"name": "城关学区", "units": 2, "filed_rate": 1.0, "closure_rate": 0.2}]


def test_the_public_board_before_anything_is_filed(camp):
    doc = camp.read(public_board, "2023-02-01T12:00")
    assert doc["current_phase"] is None and [p["state"] for p in doc["phases"]] == ["pending"] * 3
    assert doc["overall"] == {"units": 4, "obligations": 5, "filed": 0, "on_time_rate": None, "filed_rate": 0.0}
    assert doc["ledger"]["closure_rate"] is None and doc["ledger"]["items"] == 0


def test_the_public_board_names_no_person_and_shows_nothing_a_unit_filed(camp, tmp_path):
    made = board_campaign(camp)
    text = json.dumps(camp.read(public_board, "2023-04-06T12:00"), ensure_ascii=False)
    scans = [tmp_path / "s1-方案签字版.pdf", tmp_path / "s2-方案签字版.pdf", made["photo"]]
    hashes = [hashlib.sha256(p.read_bytes()).hexdigest() for p in scans]
    secrets = ["张校长", "s1@example.cn", "李校长",  # contacts and signatories
               "王科员", "赵督导", "孙督导", "admin", "tick",  # actors
               "会议多落实少", "办事推诿扯皮", "食堂账目不清", "师德师风建设", "办事拖拉",  # problems
               "已建立会议台账", "经核实已整改到位", "每月开展一次师德教育",  # notes and comments
               "方案签字版", "问题清单.csv", "整改照片", ".pdf", ".jpg", *hashes, *(h[:12] for h in hashes)]
    assert [s for s in secrets if s in text] == []
    # and the units' own keys stay out too: groups are named by their public bodies' names
    assert '"s1"' not in text and '"s2"' not in text


# --- cost ---

def test_each_read_model_takes_a_fixed_number_of_queries_whatever_the_units(camp):
    board_campaign(camp)
    statements: list[str] = []
    event.listen(camp.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def count() -> dict[str, int]:
        found = {}
        for name, fn, kw in (("matrix", matrix, {"tag": "学校"}), ("overdue", overdue, {}),
                             ("progress", progress_series, {}), ("public", public_board, {})):
            statements.clear()
            camp.read(fn, "2023-04-06T12:00", **kw)
            found[name] = len(statements)
        return found

    few = count()
    assert few == {"matrix": 4, "overdue": 2, "progress": 4, "public": 6}
    camp.add_schools(30, "2023-04-06T11:00")
    assert count() == few
