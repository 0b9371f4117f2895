"""specedit: the timeline editor's edits as pure functions over a spec's data (no database, no web)."""

from __future__ import annotations

import datetime as dt

import pytest

from campaign_model import catalog, specedit
from campaign_model.errors import Problem
from campaign_model.specfile import load_spec_text, parse_yaml

from .conftest import SMALL_SPEC


def data_of(text: str) -> dict:
    data, _ = parse_yaml(text, "t.yaml")
    return data


@pytest.mark.parametrize("due, parts, back", [
    ("start + 10 workdays", specedit.DueParts(base="start", sign="+", count="10", unit="workdays"), "start + 10 workdays"),
    ("end - 1 days", specedit.DueParts(base="end", sign="-", count="1", unit="days"), "end - 1 day"),
    ("end", specedit.DueParts(base="end"), "end"),
    (dt.date(2027, 4, 5), specedit.DueParts("absolute", "2027-04-05"), dt.date(2027, 4, 5)),
    ("2027-04-05 17:00", specedit.DueParts("absolute", "2027-04-05", "17:00"), "2027-04-05 17:00"),
    (dt.datetime(2027, 4, 5, 17, 30), specedit.DueParts("absolute", "2027-04-05", "17:30"), "2027-04-05 17:30"),
])
def test_a_due_reads_into_the_editors_inputs_and_back(due, parts, back):
    assert specedit.due_parts(due) == parts
    assert specedit.due_value(parts) == back


def test_an_unreadable_due_is_kept_as_text_for_validation_to_name():
    assert specedit.due_parts("next monday").raw == "next monday"
    assert specedit.due_value(specedit.DueParts("absolute", "2027-02-30")) == "2027-02-30"


def test_the_yaml_keeps_a_readable_order_and_says_what_the_spec_says():
    data = data_of(SMALL_SPEC)
    text = specedit.dump(data)
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "-"))]

    assert keys[:3] == ["version", "key", "title"] and keys[-1] == "phases"
    assert load_spec_text(text).spec.model_dump() == load_spec_text(SMALL_SPEC).spec.model_dump()


def test_a_form_changes_only_the_fields_it_carries():
    data = data_of(SMALL_SPEC)
    form = {"phases[0].steps[0].due:mode": ["relative"], "phases[0].steps[0].due:base": ["start"],
            "phases[0].steps[0].due:sign": ["+"], "phases[0].steps[0].due:count": ["12"],
            "phases[0].steps[0].due:unit": ["workdays"], "phases[0].steps[0].requires[0].signoff": ["", "1"],
            "phases[0].steps[0].requires[0].review": [""], "phases[1].end": ["2023-04-02"]}
    edited, problems = specedit.apply_form(data, form)

    assert problems == []
    assert edited["phases"][0]["steps"][0]["due"] == "start + 12 workdays"
    assert edited["phases"][1]["end"] == dt.date(2023, 4, 2)
    assert edited["phases"][0]["steps"][0]["requires"][0] == {"artifact": "plan", "from": "tag:学校", "signoff": True}
    assert edited["units"] == data["units"] and edited["artifacts"] == data["artifacts"]
    assert data["phases"][0]["steps"][0]["due"] == "start + 10 workdays"  # the data given is not changed


def test_a_relative_due_beyond_ten_years_is_refused_before_anything_counts_days():
    form = {"phases[0].steps[0].due:mode": ["relative"], "phases[0].steps[0].due:count": ["9" * 30]}
    edited, problems = specedit.apply_form(data_of(SMALL_SPEC), form)

    assert [p.path for p in problems] == ["phases[0].steps[0].due"]
    assert edited["phases"][0]["steps"][0]["due"] == "start + 10 workdays"


def test_each_problem_goes_beside_the_nearest_input_and_the_rest_to_the_top():
    data = data_of(SMALL_SPEC)
    problems = [Problem("f", 3, "phases[0].steps[0].requires[0].from", "x"),
                Problem("f", 4, "artifacts.issue_list.rows.deadline.type", "y"),
                Problem("f", 5, "units[2].parent", "z"), Problem("f", 6, "phases[0].gate.ledger.scope", "w")]
    placed = specedit.place_problems(problems, data)

    assert {k: [p.message for p in v] for k, v in placed.items()} == {
        "phases[0].steps[0].requires[0].from": ["x"], "artifacts.issue_list": ["y"], "": ["z"],
        "phases[0].gate.ledger": ["w"]}


def test_the_resolved_dates_follow_the_calendar_of_the_spec():
    data = data_of(catalog.redate(catalog.template_text("zuofeng-2023"), 2027, name="zuofeng-2023"))
    dues = specedit.resolved_dues(data)

    assert dues["phases[0].steps[1].due"].strftime("%Y-%m-%d %H:%M") == "2027-03-01 23:59"
    assert specedit.weekday(dues["phases[0].steps[1].due"].date(), "zh") == "星期一"
    data["calendar"] = "all-days"
    assert specedit.resolved_dues(data)["phases[0].steps[1].due"].date() == dt.date(2027, 2, 25)


def test_field_ids_are_plain_and_distinct():
    assert specedit.field_id("phases[0].steps[1].due") == "f-phases-0-steps-1-due"
    assert specedit.field_id("artifacts.方案.title") != specedit.field_id("artifacts.计划.title")
