"""The timeline drawn to scale: days off and make-up working days of the official calendar, today's line,
a band per phase (overlapping ones on rows of their own) and a mark per due date, in both languages."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from campaign_app.web.timeline_chart import ChartMark, ChartPhase, day_kind, timeline_chart
from campaign_model.calendar import WorkCalendar

SVG = "{http://www.w3.org/2000/svg}"
D = dt.date
CN = WorkCalendar("cn")

# a 2024 campaign across the Spring Festival: holidays 02-10..02-17, make-up working Sundays 02-04 and 02-18
PHASES = [
    ChartPhase("mobilize", "学习动员", D(2024, 1, 22), D(2024, 2, 23),
               [ChartMark("动员部署会", D(2024, 1, 26), "done"), ChartMark("学习心得", D(2024, 2, 5), "overdue"),
                ChartMark("学习计划", D(2024, 2, 6), "open")], "completed"),
    ChartPhase("self_check", "自查自纠", D(2024, 2, 19), D(2024, 3, 31),
               [ChartMark("自查报告", D(2024, 3, 8), "open"), ChartMark("问题清单", D(2024, 3, 15))], "active"),
    ChartPhase("rectify", "整改落实", D(2024, 4, 1), D(2024, 4, 30), [ChartMark("整改台账", D(2024, 4, 26))]),
]


def chart(phases: list[ChartPhase] = PHASES, today: dt.date | None = D(2024, 2, 20), lang: str = "zh") -> ET.Element:
    return ET.fromstring(str(timeline_chart(phases, CN, today, lang)))


def classes(e: ET.Element) -> list[str]:
    return (e.get("class") or "").split()


def days_of(root: ET.Element, kind: str) -> dict[str, ET.Element]:
    return {r.get("data-day"): r for r in root.iter(f"{SVG}rect") if kind in classes(r) and "day" in classes(r)}


def title_of(e: ET.Element) -> str:
    t = e.find(f"{SVG}title")
    assert t is not None and t.text
    return t.text


def test_the_spring_festival_holidays_are_marked_off_and_named():
    holidays = days_of(chart(), "holiday")

    festival = {f"2024-02-{d}" for d in range(10, 18)}
    assert festival <= set(holidays)
    assert all("春节" in title_of(holidays[d]) and "休息" in title_of(holidays[d]) for d in festival)
    words = [t for t in chart().iter(f"{SVG}text") if "holiday-word" in classes(t)]
    assert "2024-02-10" in {t.get("data-day") for t in words} and {t.text for t in words} == {"休"}


def test_the_make_up_working_sundays_are_marked_班():
    root = chart()
    makeup = days_of(root, "makeup")

    assert {"2024-02-04", "2024-02-18"} <= set(makeup)
    assert "调休上班" in title_of(makeup["2024-02-18"]) and "周日" in title_of(makeup["2024-02-18"])
    assert {t.text for t in root.iter(f"{SVG}text") if "makeup-word" in classes(t)} == {"班"}
    # an ordinary weekend is shaded as a weekend, and a make-up Sunday is not one
    weekends = days_of(root, "weekend")
    assert "2024-01-27" in weekends and "2024-02-18" not in weekends and "2024-02-10" not in weekends


def test_day_kinds_follow_the_calendar():
    assert day_kind(CN, D(2024, 2, 12)) == "holiday"
    assert day_kind(CN, D(2024, 2, 4)) == "makeup"
    assert day_kind(CN, D(2024, 3, 2)) == "weekend"
    assert day_kind(CN, D(2024, 3, 4)) is None
    assert day_kind(WorkCalendar("all-days"), D(2024, 3, 2)) is None
    assert day_kind(WorkCalendar("weekdays", holidays=frozenset({D(2031, 5, 2)})), D(2031, 5, 2)) == "holiday"


def test_todays_line_stands_in_the_middle_of_todays_column():
    root = chart(today=D(2024, 2, 12))
    column = days_of(root, "holiday")["2024-02-12"]
    today = next(g for g in root.iter(f"{SVG}g") if "today" in classes(g))
    line = today.find(f"{SVG}line")

    middle = float(column.get("x")) + float(column.get("width")) / 2
    assert line is not None and abs(float(line.get("x1")) - middle) < 0.1
    assert today.get("data-day") == "2024-02-12"
    assert any(t.text == "今天 2/12" for t in today.iter(f"{SVG}text"))


def test_days_are_drawn_to_scale():
    root = chart()
    marks = {g.get("data-day"): float(g.get("data-x")) for g in root.iter(f"{SVG}g") if "mark" in classes(g)}
    per_day = (marks["2024-03-15"] - marks["2024-03-08"]) / 7

    assert per_day > 3
    assert abs((marks["2024-04-26"] - marks["2024-01-26"]) - per_day * (D(2024, 4, 26) - D(2024, 1, 26)).days) < 0.5


def test_a_mark_per_due_date_with_its_label_and_state():
    root = chart()
    marks = [g for g in root.iter(f"{SVG}g") if "mark" in classes(g)]

    assert len(marks) == sum(len(p.marks) for p in PHASES)
    by_day = {g.get("data-day"): g for g in marks}
    assert "mark-overdue" in classes(by_day["2024-02-05"]) and "mark-done" in classes(by_day["2024-01-26"])
    assert "mark-plan" in classes(by_day["2024-03-15"])  # no state: a date planned in a draft
    assert title_of(by_day["2024-02-05"]) == "学习心得: 截止 2024-02-05 (周一) · 逾期"
    assert "学习心得 2/5" in [t.text for t in by_day["2024-02-05"].iter(f"{SVG}text")]


def test_overlapping_phases_get_rows_of_their_own():
    bands = {r.get("data-phase"): r for r in chart().iter(f"{SVG}rect") if "phase" in classes(r)}

    # self_check starts before mobilize ends: a row below; rectify starts after both: back on the first row
    assert float(bands["self_check"].get("y")) > float(bands["mobilize"].get("y"))
    assert bands["rectify"].get("y") == bands["mobilize"].get("y")
    assert "phase-active" in classes(bands["self_check"]) and "phase-plan" in classes(bands["rectify"])


def test_marks_close_together_keep_their_labels_apart():
    crowded = [ChartPhase("p", "阶段", D(2024, 3, 1), D(2024, 3, 10),
                          [ChartMark(f"材料{i}", D(2024, 3, 4)) for i in range(3)])]
    labels = [t for t in chart(crowded).iter(f"{SVG}text") if "mark-label" in classes(t)]

    assert len({t.get("y") for t in labels}) == 3


def test_english_words_and_an_escaped_title():
    phases = [ChartPhase("p", "<Study> & plan", D(2024, 2, 1), D(2024, 2, 20), [ChartMark("Report", D(2024, 2, 8), "open")])]
    svg = str(timeline_chart(phases, CN, D(2024, 2, 12), "en"))
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]

    assert "<Study>" not in svg and "&lt;Study&gt; &amp; plan" in svg
    assert "today 2/12" in texts and "off" in texts and "work" in texts and "make-up working day" in texts
    assert "休" not in texts and root.get("aria-label") == "Campaign timeline (to scale)"
    assert "Spring Festival" in title_of(days_of(root, "holiday")["2024-02-12"])


def test_no_inline_style_no_script_and_a_legend():
    svg = str(timeline_chart(PHASES, CN, D(2024, 2, 20), "zh"))
    root = ET.fromstring(svg)
    legend = next(g for g in root.iter(f"{SVG}g") if "legend" in classes(g))

    assert "style=" not in svg and "<script" not in svg
    assert {"周末", "法定节假日（休）", "调休上班日（班）", "今天", "逾期"} <= {t.text for t in legend.iter(f"{SVG}text")}


def test_a_today_outside_the_dates_points_the_way_and_no_phases_say_so():
    root = chart(today=D(2024, 12, 1))
    label = next(t for t in root.iter(f"{SVG}text") if "today-label" in classes(t))

    assert label.text == "今天 12/1 →"
    assert not [g for g in chart(today=None).iter(f"{SVG}g") if "today" in classes(g)]
    assert "暂无阶段" in str(timeline_chart([], CN, None, "zh"))


def test_a_label_at_the_right_edge_runs_leftwards_inside_the_chart():
    phases = [ChartPhase("p", "阶段", D(2024, 3, 1), D(2024, 3, 10), [ChartMark("总结报告材料", D(2024, 3, 10))])]
    root = chart(phases, today=None)
    label = next(t for t in root.iter(f"{SVG}text") if "mark-label" in classes(t))

    assert label.get("text-anchor") == "end" and float(label.get("x")) <= float(root.get("width"))
