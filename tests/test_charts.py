"""The dashboard's SVG charts: well-formed, accessible, responsive, escaped, and drawn where the data says."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from campaign_app.web.charts import progress_svg, timeline_svg

from .conftest import local

SVG = "{http://www.w3.org/2000/svg}"

# as queries.status(...)["phases"] gives them (the keys the timeline reads)
PHASES = [
    {"key": "mobilization", "title": "学习动员", "state": "completed",
     "start": "2023-02-14T00:00:00+08:00", "end": "2023-03-05T23:59:59+08:00"},
    {"key": "self_check", "title": "自查自纠", "state": "active",
     "start": "2023-03-06T00:00:00+08:00", "end": "2023-03-31T23:59:59+08:00"},
    {"key": "rectify", "title": "综合整治", "state": "pending",
     "start": "2023-04-01T00:00:00+08:00", "end": "2023-04-20T23:59:59+08:00"},
    {"key": "summary", "title": "总结提高", "state": "pending",
     "start": "2023-04-21T00:00:00+08:00", "end": "2023-04-30T23:59:59+08:00"},
]

SERIES = {"phase": "mobilization", "title": "学习动员", "start": "2023-02-14T00:00:00+08:00",
          "end": "2023-03-05T23:59:59+08:00",
          "points": [{"date": f"2023-02-{d:02d}", "due": 0 if d < 28 else 40, "filed": max(0, d - 18) * 3}
                     for d in range(14, 29)]}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> dict[str, ET.Element]:
    return {r.get("data-phase"): r for r in root.iter(f"{SVG}rect") if "phase" in (r.get("class") or "").split()}


def marker_x(root: ET.Element) -> float:
    (marker,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "today"]
    line = marker.find(f"{SVG}line")
    assert line.get("x1") == line.get("x2")
    return float(line.get("x1"))


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def span(bar: ET.Element) -> tuple[float, float]:
    x = float(bar.get("x"))
    return x, x + float(bar.get("width"))


# --- the timeline ---

def test_the_timeline_is_a_responsive_accessible_image():
    root = parse(timeline_svg(PHASES, local("2023-03-15T10:00")))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("width") == "100%"
    assert root.get("viewBox").startswith("0 0 800 ")
    assert root.find(f"{SVG}title").text == "活动阶段时间轴" and "自查自纠" in root.find(f"{SVG}desc").text


def test_the_today_marker_falls_on_the_running_phase_bar():
    root = parse(timeline_svg(PHASES, local("2023-03-15T10:00")))
    x0, x1 = span(bars(root)["self_check"])
    assert x0 < marker_x(root) < x1
    assert not span(bars(root)["mobilization"])[0] <= marker_x(root) <= span(bars(root)["mobilization"])[1]
    assert "今天 03-15" in texts(root)


def test_the_marker_accepts_an_iso_instant_and_converts_it_to_the_campaign_zone():
    # 2023-04-20 20:00 UTC is 04-21 04:00 in Shanghai: inside the summary phase
    root = parse(timeline_svg(PHASES, "2023-04-20T20:00:00+00:00"))
    x0, x1 = span(bars(root)["summary"])
    assert x0 <= marker_x(root) < x1 and "今天 04-21" in texts(root)


def test_the_bars_follow_the_dates_in_order():
    spans = [span(b) for b in bars(parse(timeline_svg(PHASES, local("2023-03-15T10:00")))).values()]
    assert [s[0] for s in spans] == sorted(s[0] for s in spans)
    assert all(a[1] <= b[0] + 0.1 for a, b in zip(spans, spans[1:], strict=False))  # one phase ends where the next begins


def test_each_bar_carries_its_state_class_and_colour():
    phases = [*PHASES[:2], {**PHASES[2], "state": "overdue"}, PHASES[3]]
    drawn = bars(parse(timeline_svg(phases, local("2023-04-25T10:00"))))
    assert {k: (b.get("class"), b.get("fill")) for k, b in drawn.items()} == {
        "mobilization": ("phase phase-completed", "#2e9d4f"), "self_check": ("phase phase-active", "#1e6fd9"),
        "rectify": ("phase phase-overdue", "#d9534f"), "summary": ("phase phase-pending", "#9e9e9e")}


def test_bars_are_labelled_with_title_state_and_dates():
    labels = texts(parse(timeline_svg(PHASES, local("2023-03-15T10:00"))))
    assert "学习动员 · 已完成  02-14 – 03-05" in labels and "自查自纠 · 进行中  03-06 – 03-31" in labels


@pytest.mark.parametrize("at, edge, arrow", [
    ("2023-01-20T10:00", 0, "← 今天 01-20"), ("2023-06-01T10:00", 1, "今天 06-01 →")], ids=["before", "after"])
def test_a_marker_outside_the_campaign_stands_at_the_nearer_edge(at, edge, arrow):
    root = parse(timeline_svg(PHASES, local(at)))
    b = bars(root)
    edges = (span(b["mobilization"])[0], span(b["summary"])[1])
    assert marker_x(root) == pytest.approx(edges[edge], abs=0.1)
    assert arrow in texts(root)


def test_titles_are_escaped():
    phases = [{**PHASES[0], "title": 'A<&>"B', "key": "k<1>"}]
    svg = timeline_svg(phases, local("2023-02-20T10:00"))
    assert "A&lt;&amp;&gt;&quot;B" in svg and "<&>" not in svg
    root = parse(svg)
    assert any('A<&>"B' in t for t in texts(root)) and "k<1>" in bars(root)


def test_the_timeline_in_english():
    phases = [{**p, "title_en": p["key"].replace("_", " ").title()} for p in PHASES]
    root = parse(timeline_svg(phases, local("2023-03-15T10:00"), lang="en"))
    labels = texts(root)
    assert root.find(f"{SVG}title").text == "Campaign timeline" and "today 03-15" in labels
    assert "Self Check · in progress  03-06 – 03-31" in labels
    # without an English title the phase keeps its own
    untranslated = texts(parse(timeline_svg(PHASES, local("2023-03-15T10:00"), "en")))
    assert "学习动员 · completed  02-14 – 03-05" in untranslated


def test_a_timeline_without_phases_says_so():
    root = parse(timeline_svg([], local("2023-03-15T10:00")))
    assert texts(root) == ["暂无阶段"] and not bars(root)


# --- one phase's progress ---

def polyline(root: ET.Element, cls: str) -> list[tuple[float, float]]:
    (line,) = [p for p in root.iter(f"{SVG}polyline") if p.get("class") == cls]
    return [tuple(map(float, xy.split(","))) for xy in line.get("points").split()]


def test_progress_draws_due_and_filed_over_the_days():
    root = parse(progress_svg(SERIES))
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert root.find(f"{SVG}title").text == "学习动员 报送进度"
    assert root.find(f"{SVG}desc").text == "截至 2023-02-28: 应报 40, 已报 30"
    due, filed = polyline(root, "due"), polyline(root, "filed")
    assert len(due) == len(filed) == len(SERIES["points"])
    assert [x for x, _ in due] == [x for x, _ in filed] == sorted(x for x, _ in due)
    # SVG's y grows downwards: more filed is higher up; due jumps on its due day
    assert [y for _, y in filed] == sorted((y for _, y in filed), reverse=True) and filed[-1][1] < filed[0][1]
    assert due[-2][1] == filed[0][1] and due[-1][1] < filed[-1][1]


def test_progress_styles_due_dashed_grey_and_filed_green():
    lines = {p.get("class"): p for p in parse(progress_svg(SERIES)).iter(f"{SVG}polyline")}
    assert lines["due"].get("stroke-dasharray") and lines["due"].get("stroke") == "#9e9e9e"
    assert lines["filed"].get("stroke-dasharray") is None and lines["filed"].get("stroke") == "#2e9d4f"


def test_progress_has_date_and_count_ticks_and_a_legend():
    root = parse(progress_svg(SERIES))
    dates = [t for t in root.iter(f"{SVG}text") if t.get("class") == "date-tick"]
    counts = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "count-tick"]
    assert dates[0].text == "02-14" and dates[-1].text == "02-28" and 2 <= len(dates) <= 6
    assert counts == ["0", "10", "20", "30", "40"]
    assert {"应报", "已报"} <= set(texts(root))


def test_progress_in_english():
    root = parse(progress_svg({**SERIES, "title": "学习动员"}, lang="en"))
    assert root.find(f"{SVG}title").text == "学习动员 — filing progress"
    assert {"due", "filed"} <= set(texts(root)) and not {"应报", "已报"} & set(texts(root))


def test_progress_of_a_single_day_and_of_none():
    one = parse(progress_svg({**SERIES, "points": [{"date": "2023-02-14", "due": 0, "filed": 0}]}))
    assert len(polyline(one, "filed")) == 1 and [t.text for t in one.iter(f"{SVG}text")
                                                 if t.get("class") == "count-tick"] == ["0", "1"]
    none = parse(progress_svg({**SERIES, "points": []}))
    assert "暂无数据" in texts(none) and not list(none.iter(f"{SVG}polyline"))


def test_progress_escapes_the_title():
    svg = progress_svg({**SERIES, "title": "<script>&"})
    assert "<script>" not in svg and "&lt;script&gt;&amp;" in svg
    assert parse(svg).find(f"{SVG}title").text == "<script>& 报送进度"
