"""Evaluations as gates where the seeds have them (issue 13 part 3): seed 004's 群众满意度测评 (45人参与 …
满意率达100%) before 分析检查 may move on to 整改落实, and seed 000's 民主测评 ("好"的比率占全体党员的95%)
before 查摆问题、开展批评 completes. Each template's campaign is walked through its seed's dates (the seed walk
of tests/test_seed_walks.py); the votes are filed through the use case, as a unit files them, below the bar
and then at the seed's own figures; the gate shows the ratio and the voters (`campaign gate`'s use case, the
overview page).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from campaign_app.settings import Settings
from campaign_app.usecases import campaigns as campaigns_uc
from campaign_app.usecases import filings as filings_uc
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.catalog import template_text
from campaign_model.errors import SpecInvalid
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.filings import review

from .conftest import local
from .test_seed_walks import Walk
from .web_support import client_for

VOTE_004 = ["认识深不深", "问题找得准不准", "原因分析得透不透", "发展思路清不清", "工作措施可行不可行", "转变作风力度大不大"]


def services(w: Walk) -> Services:
    return Services(Settings(w.tmp / "home", w.url), w.engine, clock=lambda: local("2023-07-10T09:00"))


def vote(svc: Services, w: Walk, unit: str, artifact: str, when: str, header: str, rows: list[str]) -> dict:
    """File a tally as the unit would: a CSV of one row per aspect, through usecases.filings."""
    path = w.tmp / f"{unit}-{artifact}-{when[:10]}-{len(rows)}.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return filings_uc.file_artifact(svc, w.act(when, unit), w.key, unit, artifact, rows=path)


def gate_of(svc: Services, w: Walk, phase: str, when: str) -> dict:
    return next(d for d in campaigns_uc.gate(svc, w.key, local(when)) if d["phase"] == phase)


def to_analysis_check(w: Walk) -> None:
    """Seed 004 up to the vote: 学习调研 done, 6月10日 转段, every paper of 分析检查 in by 06-20 but the vote,
    the report reviewed by the 区指导检查组."""
    w.tick("2023-04-03T09:00")
    w.file_all("study_research", "2023-06-05T10:00")
    w.tick("2023-06-10T09:00")
    assert w.status("2023-06-10T09:00")["running_phases"] == ["analysis_check"]
    w.file_all("analysis_check", "2023-06-20T10:00", but={("bureau", "satisfaction_vote")})
    with w.engine.begin() as conn:
        review(conn, w.key, "bureau", "analysis_report", True, None, w.act("2023-06-21T10:00", "区指导检查组"))


def test_seed_004_the_phase_moves_on_only_after_a_satisfaction_vote_that_clears_the_bar(tmp_path: Path) -> None:
    w = Walk("xuexishijian", tmp_path)
    svc = services(w)
    to_analysis_check(w)
    header = "测评项目,满意,基本满意,不满意"
    # 6月25日: 45 voters, but only 80 % satisfied or fairly satisfied on every aspect: the phase holds
    vote(svc, w, "bureau", "satisfaction_vote", "2023-06-25T16:00", header, [f"{a},30,6,9" for a in VOTE_004])
    w.tick("2023-07-01T09:00")
    st = w.status("2023-07-01T09:00")
    assert st["running_phases"] == ["analysis_check"] and w.phase(st, "rectification")["started_at"] is None
    ev = gate_of(svc, w, "analysis_check", "2023-07-01T09:00")["evaluation"]
    assert (ev["ratio"], ev["voters"], ev["min_voters"]) == (0.8, 45, 30)
    assert ev["why"] == ["满意率 80.0% 低于 90.0% (ratio below 90.0%)"]
    assert "80.0%" in ev["text"] and "参评 45 人" in ev["text"]
    # a recount with everyone satisfied, but only 20 voters: still short of the template's 30
    vote(svc, w, "bureau", "satisfaction_vote", "2023-07-02T10:00", header, [f"{a},20,0,0" for a in VOTE_004])
    assert w.tick("2023-07-02T10:30")["advanced"] == []
    ev = gate_of(svc, w, "analysis_check", "2023-07-02T10:30")["evaluation"]
    assert ev["ratio"] == 1.0 and ev["why"] == ["参评 20 人，少于 30 人 (20 voters, fewer than 30)"]
    # the seed's vote: 45 people, 满意率 100 % (one of them only 基本满意 on one aspect still counts as satisfied)
    rows = [f"{a},45,0,0" for a in VOTE_004[1:]] + [f"{VOTE_004[0]},44,1,0"]
    vote(svc, w, "bureau", "satisfaction_vote", "2023-07-03T15:00", header, rows)
    assert w.tick("2023-07-03T15:30")["advanced"] == ["analysis_check"]
    st = w.status("2023-07-03T15:30")
    assert st["running_phases"] == ["rectification"]
    assert w.phase(st, "analysis_check")["completed_at"] == "2023-07-03T15:00:00+08:00"
    done = gate_of(svc, w, "analysis_check", "2023-07-03T15:30")
    assert done["met"] and (done["evaluation"]["ratio"], done["evaluation"]["voters"]) == (1.0, 45)


def test_seed_000_link_two_completes_when_the_democratic_evaluation_reaches_90_percent_good(tmp_path: Path) -> None:
    w = Walk("qunzhongluxian-2014", tmp_path)
    svc = services(w)
    w.tick("2014-03-19T09:00")
    w.file_all("study_listen", "2014-05-28T10:00")
    w.tick("2014-06-03T09:00")
    assert w.status("2014-06-03T09:00")["running_phases"] == ["check_criticize"]
    schools = ("erzhong", "shifan", "sucheng", "guaier")  # from: all is every unit but the bureau (the organizer)
    w.file_all("check_criticize", "2014-06-30T10:00", but={(u, "democratic_evaluation") for u in schools})
    for unit in schools:
        with w.engine.begin() as conn:
            review(conn, w.key, unit, "check_material", True, None, w.act("2014-07-10T10:00", "县委督导组"))
    header = "测评项目,好,一般,差"
    aspects = ["理想信念", "严守纪律", "工作实绩"]
    # 8月28日—29日 组织生活会 and 民主测评, 20 members each: three schools at 95 % 好, 拐儿中学 at 60 %: 86.3 % in all
    for unit in schools[:3]:
        vote(svc, w, unit, "democratic_evaluation", "2014-08-29T17:00", header, [f"{a},19,1,0" for a in aspects])
    vote(svc, w, "guaier", "democratic_evaluation", "2014-08-29T17:00", header, [f"{a},12,6,2" for a in aspects])
    w.tick("2014-09-01T09:00")
    st = w.status("2014-09-01T09:00")
    assert st["running_phases"] == ["check_criticize"]
    assert not w.phase(st, "check_criticize")["gate"]["met"] and not w.phase(st, "check_criticize")["gate"]["missing"]
    ev = w.phase(st, "check_criticize")["gate"]["conditions"]["evaluation"]
    assert (ev["ratio"], ev["voters"]) == (0.8625, 80) and ev["why"] == ["满意率 86.2% 低于 90.0% (ratio below 90.0%)"]
    # the school counts again (the seed: "好"的比率 … 95%): the link completes and 整改落实、建章立制 starts
    vote(svc, w, "guaier", "democratic_evaluation", "2014-09-02T10:00", header, [f"{a},19,1,0" for a in aspects])
    assert w.tick("2014-09-02T10:30")["advanced"] == ["check_criticize"]
    st = w.status("2014-09-02T10:30")
    assert st["running_phases"] == ["rectify_build"]
    assert w.phase(st, "check_criticize")["gate"]["conditions"]["evaluation"]["ratio"] == 0.95


def test_the_overview_gate_card_shows_the_ratio_and_the_voters(tmp_path: Path) -> None:
    w = Walk("xuexishijian", tmp_path)
    svc = services(w)
    to_analysis_check(w)
    vote(svc, w, "bureau", "satisfaction_vote", "2023-06-25T16:00", "测评项目,满意,基本满意,不满意",
         [f"{a},20,0,0" for a in VOTE_004])
    w.tick("2023-06-26T09:00")
    with w.engine.begin() as conn:
        add_user(conn, "office", "admin", None, "qingfeng-2024", w.act("2023-06-26T09:00", "admin"))
    client = client_for(create_app(Services(Settings(w.tmp / "home", w.url), w.engine,
                                            clock=lambda: local("2023-06-26T10:00"))))
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    assert client.post("/login", data={"name": "office", "password": "qingfeng-2024", "csrf": csrf.group(1)},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/c/{w.key}")
    assert page.status_code == 200
    cell = re.search(r'<small class="evaluation" data-artifact="satisfaction_vote">(.*?)</small>', page.text, re.S)
    assert cell is not None
    text = " ".join(cell.group(1).split())
    assert "满意率 100.0%" in text and "参评 20 人" in text and "须不少于 30" in text


@pytest.mark.parametrize("edit, message", [
    ("min_voters: 30}", "min_voters: 0}"),
    ("tally: {positive: [satisfied, fair]}", "tally: {positive: [satisfied, aspect]}"),
])
def test_a_bad_vote_condition_is_refused_with_its_line(edit: str, message: str) -> None:
    text = template_text("xuexishijian")
    assert edit in text
    with pytest.raises(SpecInvalid) as exc:
        load_spec_text(text.replace(edit, message), "xuexishijian.yaml")
    assert "xuexishijian.yaml:" in str(exc.value)
    assert ("min_voters" if "min_voters" in message else "tally.positive") in str(exc.value)


def test_the_timeline_editor_keeps_and_changes_the_number_of_voters() -> None:
    from campaign_model.specedit import apply_form
    from campaign_model.specfile import parse_yaml

    data, _ = parse_yaml(template_text("xuexishijian"), "xuexishijian.yaml")
    g = "phases[1].gate"
    form = {f"{g}:present": [""], f"{g}.artifacts": ["analysis_report", "satisfaction_vote"],
            f"{g}.evaluation.artifact": ["satisfaction_vote"], f"{g}.evaluation.min_ratio": ["90%"],
            f"{g}.evaluation.min_voters": ["30"]}
    kept, problems = apply_form(data, form)
    assert not problems and kept["phases"][1]["gate"]["evaluation"]["min_voters"] == 30
    changed, _ = apply_form(data, {**form, f"{g}.evaluation.min_voters": ["45"]})
    assert changed["phases"][1]["gate"]["evaluation"]["min_voters"] == 45
    dropped, _ = apply_form(data, {**form, f"{g}.evaluation.min_voters": [""]})
    assert "min_voters" not in dropped["phases"][1]["gate"]["evaluation"]
