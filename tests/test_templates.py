"""The shipped templates and the catalog: listing, reading, re-dating."""

from __future__ import annotations

import datetime as dt

import pytest

from campaign_model.catalog import list_templates, redate, shift_years, template_names, template_text
from campaign_model.errors import InvalidInput, NotFound
from campaign_model.specfile import campaign_calendar, load_spec_file, load_spec_text
from campaign_model.timeexpr import parse_datetime_text, resolve_due

SHIPPED = {"zuofeng-2023": 2023, "qunzhongluxian-2014": 2014, "baxiangguiding-pinggu": 2025, "xuexishijian": 2023}


def load(name: str):
    return load_spec_text(template_text(name), f"{name}.yaml")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_template_loads_without_errors(name: str) -> None:
    loaded = load(name)
    assert loaded.spec.phases and loaded.units
    assert str(SHIPPED[name]) in loaded.spec.key
    assert loaded.spec.title.startswith(f"{SHIPPED[name]}年")
    # the only tolerated warning is a due date the seed itself puts after its phase's end
    for w in loaded.warnings:
        assert "due after its phase ends" in w.message, str(w)


def test_only_zuofeng_has_a_seed_due_after_its_phase() -> None:
    assert [w.path for w in load("zuofeng-2023").warnings] == ["phases[1].steps[0].due"]
    for name in ("qunzhongluxian-2014", "baxiangguiding-pinggu", "xuexishijian"):
        assert load(name).warnings == []


def test_keys_are_distinct() -> None:
    keys = [load(name).spec.key for name in SHIPPED]
    assert len(set(keys)) == len(keys)


def test_zuofeng_has_the_seed_002_phases_and_dates() -> None:
    spec = load("zuofeng-2023").spec
    windows = [(p.key, p.start, p.end) for p in spec.phases]
    assert windows == [
        ("mobilization", dt.date(2023, 2, 14), dt.date(2023, 3, 5)),
        ("self_check", dt.date(2023, 3, 6), dt.date(2023, 3, 31)),
        ("rectification", dt.date(2023, 4, 1), dt.date(2023, 10, 31)),
        ("summary", dt.date(2023, 11, 1), dt.date(2023, 12, 31)),
    ]
    step = spec.phase("self_check").steps[0]
    assert step.key == "issue_list"
    assert step.due == dt.date(2023, 4, 5)
    [req] = step.requires
    assert req.artifact == "issue_list" and req.signoff is True


def test_every_template_has_a_ledger_source() -> None:
    for name in SHIPPED:
        spec = load(name).spec
        assert any(kind.is_ledger_source() for kind in spec.artifacts.values()), name


def test_qunzhongluxian_follows_seed_000() -> None:
    spec = load("qunzhongluxian-2014").spec
    assert [p.title for p in spec.phases] == ["学习教育、听取意见", "查摆问题、开展批评", "整改落实、建章立制"]
    assert [p.kind for p in spec.phases] == ["mobilization", "self_check", "rectification"]
    assert spec.phases[0].start == dt.date(2014, 3, 19)
    rect = spec.artifacts["rectification_list"]
    assert {"problem", "category", "measure", "leader", "office", "deadline"} <= set(rect.rows or {})
    check = spec.phase("check_criticize")
    dues = {s.key: s.due for s in check.steps}
    assert dues["check_material"] == dt.date(2014, 6, 30)
    assert dues["democratic_life"] == dt.date(2014, 7, 17)
    assert check.end == dt.date(2014, 8, 29)


def test_xuexishijian_gate_needs_the_reviewed_report_and_the_vote() -> None:
    spec = load("xuexishijian").spec
    phase = spec.phase("analysis_check")
    assert phase.start == dt.date(2023, 6, 10)
    assert phase.gate is not None and set(phase.gate.artifacts or []) == {"analysis_report", "satisfaction_vote"}
    reqs = {r.artifact: r for s in phase.steps for r in s.requires}
    assert reqs["analysis_report"].review is True
    vote_step = next(s for s in phase.steps if s.key == "satisfaction_vote")
    assert vote_step.due == dt.date(2023, 6, 25)


def test_baxiangguiding_has_four_links_in_order() -> None:
    spec = load("baxiangguiding-pinggu").spec
    assert [p.title for p in spec.phases] == ["学", "查", "治", "评"]
    # relative dues must resolve inside their windows
    cal = campaign_calendar(spec)
    for p in spec.phases:
        for s in p.steps:
            due = resolve_due(s.due, phase_start=p.start, phase_end=p.end, calendar=cal, tz=spec.tz)
            assert p.start <= due.astimezone(spec.tz).date() <= p.end, s.key


def test_list_templates_returns_all_with_years() -> None:
    infos = {t.name: t for t in list_templates()}
    assert set(infos) == set(SHIPPED) == set(template_names())
    assert {name: t.year for name, t in infos.items()} == SHIPPED
    zf = infos["zuofeng-2023"]
    assert zf.key == "zuofeng-2023"
    assert zf.phases == ["mobilization", "self_check", "rectification", "summary"]
    assert zf.title.startswith("2023年") and zf.title_en and zf.title_en.startswith("2023")


def test_unknown_template_raises_not_found_listing_names() -> None:
    with pytest.raises(NotFound) as info:
        template_text("zuofeng-1999")
    message = str(info.value)
    assert message.startswith("没有名为")
    assert "(no template named 'zuofeng-1999'" in message
    assert "zuofeng-2023" in message and "xuexishijian" in message
    with pytest.raises(NotFound):
        template_text("../templates/zuofeng-2023")


def test_redate_zuofeng_to_2027() -> None:
    original = template_text("zuofeng-2023")
    text = redate(original, 2027, name="zuofeng-2023")
    assert "2023-" not in text
    assert "key: zuofeng-2027" in text
    assert "title: 2027年教文广新体系统干部作风整顿" in text
    assert "title_en: 2027 cadre" in text
    # comments survive untouched, even the one naming the 2023 source document; the re-dating adds its
    # header (what from what) and, 2027 having no official data yet, a line saying weekdays stood in
    comments = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(line in text.splitlines() for line in comments)
    assert len(text.splitlines()) == len(original.splitlines()) + 2
    assert "2027 年尚无官方节假日数据" in text.splitlines()[1]

    loaded = load_spec_text(text)
    spec = loaded.spec
    assert spec.key == "zuofeng-2027"
    # 2023-02-14 was a Tuesday; 2027-02-14 is a Sunday, so the kick-off moves to the Monday
    # (this test asserted 2027-02-14 before: the defect of issue 10, item 6)
    assert (spec.phases[0].start, spec.phases[0].end) == (dt.date(2027, 2, 15), dt.date(2027, 3, 5))
    assert "start: 2027-02-15  # 改期：2027-02-14 是周日，顺延至 2027-02-15" in text
    assert spec.phase("summary").end == dt.date(2027, 12, 31)
    # 2023-04-05 was the Qingming holiday: a date that was no working day keeps its month and day
    assert spec.phase("self_check").steps[0].due == dt.date(2027, 4, 5)
    assert any("2027" in w.message and "no official holiday data" in w.message for w in loaded.warnings)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_redate_every_template_loads_and_shift_years_round_trips(name: str) -> None:
    original = template_text(name)
    moved = redate(original, 2027)
    spec = load_spec_text(moved).spec
    assert spec.phases[0].start.year == 2027
    assert "2027" in spec.key and spec.title.startswith("2027年")
    # the plain move (month and day kept, as the demo's script needs) still goes there and back
    assert shift_years(shift_years(original, 2027), SHIPPED[name]) == original


MINI = """\
# a leap-day campaign; 2024-02-29 in a comment moves too
version: 1
key: leap-2024
title: 2024年闰日活动
units: [{key: u, name: 单位}]
artifacts: {a: {title: 材料}}
phases:
  - key: p
    title: 阶段
    kind: custom
    start: 2024-02-29
    end: 2025-03-31
    steps:
      - {key: s, title: 步骤, due: "2024-02-29T10:00:00+08:00", requires: [{artifact: a, from: all}]}
  - key: q
    title: 2025 second-year phase
    kind: summary
    start: 2025-04-01
    end: 2025-04-30
"""


def test_redate_leap_day_to_a_common_year() -> None:
    text = shift_years(MINI, 2026)
    assert "start: 2026-02-28" in text
    assert 'due: "2026-02-28T10:00:00+08:00"' in text
    assert "# a leap-day campaign; 2026-02-28 in a comment moves too" in text
    # the campaign's second year follows: 2025 -> 2027, in dates and in names
    assert "end: 2027-03-31" in text and "title: 2027 second-year phase" in text
    assert "key: leap-2026" in text and "title: 2026年闰日活动" in text
    spec = load_spec_text(text).spec
    assert spec.phases[0].start == dt.date(2026, 2, 28)


def test_redate_moves_a_leap_day_off_a_make_up_saturday() -> None:
    # 2024-02-29 was a Thursday; 2026-02-28 is the Saturday worked for the Spring Festival (调休):
    # redate moves the start, the due of the same day and the comment naming that day alike
    # (test_redate_leap_day_to_a_common_year asserted 2026-02-28 of redate before; it now tests shift_years)
    text = redate(MINI, 2026)
    assert "start: 2026-03-02  # 改期：2026-02-28 是春节调休上班日（周六），顺延至 2026-03-02" in text
    assert 'due: "2026-03-02T10:00:00+08:00"' in text
    assert "# a leap-day campaign; 2026-03-02 in a comment moves too" in text
    assert "end: 2027-03-31" in text and "title: 2027 second-year phase" in text
    assert load_spec_text(text).spec.phases[0].start == dt.date(2026, 3, 2)


def test_redate_leap_day_to_a_leap_year_keeps_it() -> None:
    text = redate(MINI, 2028)
    assert "start: 2028-02-29" in text
    assert load_spec_text(text).spec.phases[0].start == dt.date(2028, 2, 29)


def test_redate_leaves_other_numbers_alone() -> None:
    text = MINI.replace("title: 阶段", "title: 阶段 1999 号文件")
    text = text.replace("units: [{key: u, name: 单位}]", "units:\n  - key: class-2024\n    name: 2024级\n")
    text = text.replace("from: all", "from: [class-2024]")
    moved = redate(text, 2030)
    assert "title: 阶段 1999 号文件" in moved  # not a year of the campaign
    # a unit's key is referenced elsewhere, and a name is not a title: both stay
    assert "  - key: class-2024\n    name: 2024级\n" in moved
    assert load_spec_text(moved).spec.key == "leap-2030"


def test_redate_without_phases_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        redate("version: 1\nkey: x\n", 2027)


def test_the_mass_line_template_closes_its_last_link_on_two_thirds_of_the_ledger():
    gate = load("qunzhongluxian-2014").spec.phases[-1].gate
    assert gate is not None and gate.ledger is not None
    assert (gate.ledger.closed_at_least, gate.ledger.rest_in_progress) == ("2/3", True)


# --- re-dating keeps each date's role (issue 10, item 6) ---

def _structural_dates(spec) -> list[dt.date]:
    """Phase starts and ends and the dues written as dates, in the spec's order."""
    out = []
    for p in spec.phases:
        out += [p.start, p.end]
        for s in p.steps:
            due = s.due if not isinstance(s.due, str) else parse_datetime_text(s.due)
            if due is not None:
                out.append(due.date() if isinstance(due, dt.datetime) else due)
    return out


def test_redate_to_2026_starts_the_kickoff_on_a_working_day_after_the_spring_festival() -> None:
    text = redate(template_text("zuofeng-2023"), 2026, name="zuofeng-2023")
    spec = load_spec_text(text).spec
    cal = campaign_calendar(spec)
    start = spec.phase("mobilization").start
    # 2026's Spring Festival: off 02-15..02-23, with 02-14 and 02-28 worked (调休)
    festival = {d for d in (dt.date(2026, 2, 14) + dt.timedelta(days=n) for n in range(15))
                if cal.holiday_name(d) is not None}
    assert dt.date(2026, 2, 14) in festival and dt.date(2026, 2, 23) in festival
    assert cal.is_workday(start) and start.weekday() < 5 and start not in festival
    assert start == dt.date(2026, 2, 24)
    assert "start: 2026-02-24  # 改期：2026-02-14 是春节调休上班日（周六），顺延至 2026-02-24" in text
    # the plan due 10 working days after the start stays inside the window, which is lengthened for it
    plan = next(s for s in spec.phase("mobilization").steps if s.key == "plan")
    due = resolve_due(plan.due, phase_start=start, phase_end=spec.phase("mobilization").end, calendar=cal, tz=spec.tz)
    assert due.astimezone(spec.tz).date() <= spec.phase("mobilization").end
    assert spec.phase("self_check").start > spec.phase("mobilization").end


def test_redate_header_names_the_source_template_year_and_seed() -> None:
    text = redate(template_text("zuofeng-2023"), 2026, name="zuofeng-2023")
    assert text.startswith("# 由模板 zuofeng-2023（2023 年，种子 002）改期至 2026 年")
    assert "(re-dated from template zuofeng-2023 (2023, seed 002) to 2026" in text.splitlines()[0]
    assert "尚无官方节假日数据" not in text  # 2026 has the official data
    # re-dating the copy again replaces the header and the notes instead of piling them up
    again = redate(text, 2027)
    assert again.count("改期至") == 1 and again.startswith("# 由 zuofeng-2026（2026 年）改期至 2027 年")
    assert "2026-02-14" not in again and "2026-02-24" not in again
    assert all(line.count("# 改期：") <= 1 for line in again.splitlines())


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_redate_keeps_working_days_windows_and_steps_and_validates(name: str, year: int, tmp_path) -> None:
    source = load(name).spec
    cal = campaign_calendar(source)
    path = tmp_path / "spec.yaml"
    path.write_text(redate(template_text(name), year, name=name), encoding="utf-8")
    loaded = load_spec_file(path)  # raises on any error
    spec = loaded.spec
    for w in loaded.warnings:
        assert "due after its phase ends" in w.message or "no official holiday data" in w.message, str(w)
    assert [p.key for p in spec.phases] == [p.key for p in source.phases]
    for was, now in zip(_structural_dates(source), _structural_dates(spec), strict=True):
        if cal.is_workday(was):
            assert cal.is_workday(now), (was, now)
        if cal.is_ordinary_workday(was):
            assert now.weekday() < 5 and cal.holiday_name(now) is None, (was, now)
    for i, (old, new) in enumerate(zip(source.phases, spec.phases, strict=False)):
        assert new.start <= new.end
        if i:
            assert new.start > spec.phases[i - 1].end
        for s_old, s_new in zip(old.steps, new.steps, strict=True):
            was = resolve_due(s_old.due, phase_start=old.start, phase_end=old.end, calendar=cal, tz=source.tz)
            now = resolve_due(s_new.due, phase_start=new.start, phase_end=new.end, calendar=cal, tz=spec.tz)
            if old.start <= was.astimezone(source.tz).date() <= old.end:
                assert new.start <= now.astimezone(spec.tz).date() <= new.end, (s_new.key, now)
    if year >= 2027:
        assert f"# {year} 年尚无官方节假日数据" in path.read_text(encoding="utf-8")


def test_init_writes_the_redated_template_with_its_header(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path / "home")}
    code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code, "init", "zuofeng-2023", "--year", "2026"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# 由模板 zuofeng-2023（2023 年，种子 002）改期至 2026 年")
    assert "start: 2026-02-24" in result.stdout
