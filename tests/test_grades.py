"""考核 and 排名: each unit's on-time filing, rejections and ledger closure weighted as the spec says, its grade
(优秀 / 较好 / 一般, seed 002) and rank; the ranking page (admins, supervisors, viewers; a unit user gets 403), the
`grades` report in every format, `campaign grades`, GET /api/v1/campaigns/{key}/grades, and the 通报's section.

Scoring is checked on hand-made facts with exact scores at the grade boundaries; the counting on a real
campaign (the small one, with an `assessment:`) on SQLite and PostgreSQL: filings on time and late, a list
returned and filed again, a ledger item closed (销号), a unit with nothing to assess.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from campaign_app.settings import Settings
from campaign_app.usecases import grades as grade_cases
from campaign_app.usecases.reports import write_report
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.errors import SpecInvalid
from campaign_model.grades import DEFAULT, Assessment, Grade, UnitFacts, Weights, assess, measures, notice_lines, score
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.filings import file_artifact, review
from campaign_model.store.ledger import update_item, verify_item
from campaign_model.store.notice_query import overdue_by_parent
from campaign_model.store.queries import ledger
from notifications.notice import notice_message, render_markdown

from .conftest import SMALL_SPEC, local
from .served import CAMPAIGN
from .web_support import HTTPX_WARNING, client_for

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

SEED = Assessment(weights=Weights(on_time=40, rejections=20, closure=40),
                  grades=[Grade(name="优秀", name_en="Excellent", min=90), Grade(name="较好", name_en="Good", min=75),
                          Grade(name="一般", name_en="Fair", min=0)], in_notice=True)
ASSESSMENT = """
assessment:
  weights: {on_time: 40, rejections: 20, closure: 40}
  grades:
    - {name: 优秀, name_en: Excellent, min: 90}
    - {name: 较好, name_en: Good, min: 75}
    - {name: 一般, name_en: Fair, min: 0}
  in_notice: true
"""
GRADED_SPEC = SMALL_SPEC + ASSESSMENT
C = "small-2023"
AS_OF = local("2023-04-20T10:00")
PASSWORD = "kaohe-paiming-2023"
ROOT = Path(__file__).resolve().parent.parent


def facts(unit: str, due: int = 0, on_time: int = 0, filings: int = 0, rejections: int = 0, items: int = 0,
          closed: int = 0) -> UnitFacts:
    return UnitFacts(unit, f"单位{unit}", "d1", "城关学区", due, on_time, filings, rejections, items, closed)


# --- the scoring, pure ---

def test_a_unit_that_did_everything_scores_100_and_is_excellent():
    (u,) = assess([facts("a", due=4, on_time=4, filings=4, items=2, closed=2)], SEED)
    assert u.score == 100 and u.grade is not None and u.grade.name == "优秀" and u.rank == 1


@pytest.mark.parametrize("unit, expected, grade", [
    # 3 of 4 on time (30) + never returned (20) + all closed (40) = exactly 90: the lower bound is inclusive
    (facts("at90", due=4, on_time=3, filings=4, items=1, closed=1), Fraction(90), "优秀"),
    # 30 + returned once in 5 filings (16) + 40 = 86
    (facts("b86", due=4, on_time=3, filings=5, rejections=1, items=1, closed=1), Fraction(86), "较好"),
    # half on time (20) + once in 4 (15) + all closed (40) = exactly 75
    (facts("at75", due=2, on_time=1, filings=4, rejections=1, items=2, closed=2), Fraction(75), "较好"),
    # 3 of 4 items closed instead: 20 + 15 + 30 = 65
    (facts("c65", due=2, on_time=1, filings=4, rejections=1, items=4, closed=3), Fraction(65), "一般"),
    # one third on time and nothing else to measure: the on-time share is the whole score, 33 1/3
    (facts("only", due=3, on_time=1), Fraction(100, 3), "一般"),
])
def test_scores_are_exact_and_the_grade_boundaries_inclusive(unit, expected, grade):
    (u,) = assess([unit], SEED)
    assert u.score == expected
    assert u.grade is not None and u.grade.name == grade


def test_a_measure_with_nothing_to_measure_is_left_out_and_the_others_carry_the_score():
    # nothing due yet, returned once in 2 filings (0.5), its one item closed (1): (20 × 0.5 + 40 × 1) / 60 = 83 1/3
    shares = measures(facts("x", filings=2, rejections=1, items=1, closed=1))
    assert shares == {"on_time": None, "rejections": Fraction(1, 2), "closure": Fraction(1)}
    assert score(shares, SEED.weights) == Fraction(250, 3)


def test_a_unit_with_nothing_to_assess_has_no_score_no_grade_and_comes_last_unranked():
    ranked = assess([facts("empty"), facts("low", due=1)], SEED)
    assert [u.facts.unit for u in ranked] == ["low", "empty"]
    assert ranked[0].score == 0 and ranked[0].rank == 1 and ranked[0].grade.name == "一般"
    assert ranked[1].score is None and ranked[1].grade is None and ranked[1].rank is None
    assert ranked[1].as_dict()["grade"] == "未评" and ranked[1].as_dict("en")["grade"] == "Not graded"


def test_equal_scores_share_a_rank_and_the_next_rank_skips():
    best = facts("best", due=1, on_time=1)
    tie = facts("tie", due=4, on_time=3, filings=4, items=1, closed=1)  # 90
    ranked = assess([tie, best, facts("tie2", due=4, on_time=3, filings=4, items=1, closed=1), facts("last", due=1)], SEED)
    assert [(u.facts.unit, u.rank) for u in ranked] == [("best", 1), ("tie", 2), ("tie2", 2), ("last", 4)]


def test_a_weight_of_zero_leaves_its_measure_out_of_the_score():
    zero = Assessment(weights=Weights(on_time=100, rejections=0, closure=0), grades=SEED.grades)
    (u,) = assess([facts("z", due=2, on_time=1, filings=1, rejections=1)], zero)
    assert u.score == 50


def test_the_notice_lines_name_the_top_and_bottom_grades_and_count_the_middle():
    ranked = assess([facts("a", due=1, on_time=1), facts("b", due=4, on_time=3, filings=4, rejections=1),
                     facts("c", due=2, on_time=0), facts("d", due=2, on_time=1), facts("e")], SEED)
    zh = notice_lines(ranked, SEED, "zh")
    assert zh[0] == "按考核得分排名，共评定 4 个单位：优秀 1 个，较好 1 个，一般 2 个。"
    assert zh[1] == "优秀：单位a（100.0）。"
    assert zh[2] == "一般（得分由低到高）：单位c（0.0）、单位d（50.0）。"
    assert zh[3] == "另有 1 个单位尚无可评定的事项，暂不评定。"
    assert not any("单位b" in line for line in zh)  # 较好 is counted, not named
    en = notice_lines(ranked, SEED, "en")
    assert en[1] == "Excellent: 单位a (100.0)." and all(not any("\u4e00" <= ch <= "\u9fff" for ch in line.replace(
        "单位", "")) for line in en)


# --- the spec ---

def test_the_zuofeng_template_grades_as_the_seed_does():
    from campaign_model.catalog import template_text

    spec = load_spec_text(template_text("zuofeng-2023")).spec
    assert spec.assessment is not None and spec.assessment.in_notice
    assert [(g.name, g.min) for g in spec.assessment.grades] == [("优秀", 90), ("较好", 75), ("一般", 0)]
    w = spec.assessment.weights
    assert w.on_time + w.rejections + w.closure == 100


@pytest.mark.parametrize("section, path, words", [
    ("  weights: {on_time: 40, rejections: 20, closure: 30}\n  grades: [{name: 好, min: 0}]\n",
     "assessment.weights", "权重之和应为 100"),
    ("  weights: {on_time: -10, rejections: 60, closure: 50}\n  grades: [{name: 好, min: 0}]\n",
     "assessment.weights.on_time", ""),
    ("  grades:\n    - {name: 优秀, min: 75}\n    - {name: 较好, min: 90}\n    - {name: 一般, min: 0}\n",
     "assessment.grades[1].min", "从高到低"),
    ("  grades:\n    - {name: 优秀, min: 90}\n    - {name: 一般, min: 60}\n", "assessment.grades[1].min", "应为 0"),
    ("  grades:\n    - {name: 优秀, min: 90}\n    - {name: 优秀, min: 0}\n", "assessment.grades[1].name", "重复"),
])
def test_a_bad_assessment_is_refused_naming_its_line_and_field(section, path, words):
    text = SMALL_SPEC + "assessment:\n" + section
    with pytest.raises(SpecInvalid) as caught:
        load_spec_text(text, "small.yaml")
    found = [p for p in caught.value.problems if p.path == path]
    assert found, [(p.path, p.message) for p in caught.value.problems]
    first_line = text.splitlines().index("assessment:") + 1
    assert found[0].line is not None and found[0].line > first_line
    assert words in found[0].message


# --- counting on a real campaign ---

def _act(when: str, who: str) -> Act:
    return Act(local(when), who, local(when))


def build(url: str, home: Path) -> None:
    """s1 files on time, has its issue list returned once, files it again, rectifies and gets its item closed;
    s2 files its plan late and never its issue list; d1 owes nothing (nothing to assess)."""
    from campaign_model.store.db import open_engine
    from flows.tick import tick_direct

    engine = open_engine(url)
    blobs = BlobStore(home / "files")
    rows = home / "issues.csv"
    rows.write_text("问题,类别,整改措施,责任领导,牵头股室,整改时限\n会议多落实少,松,建立督办制度,王副校长,办公室,2023-04-10\n",
                    encoding="utf-8")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(GRADED_SPEC, "small.yaml"), _act("2023-02-01T09:00", "admin"))
        for name, role, unit in (("admin", "admin", None), ("sup", "supervisor", None), ("viewer", "viewer", None),
                                 ("s1user", "unit", "s1"), ("d1user", "unit", "d1")):
            add_user(conn, name, role, unit, PASSWORD, _act("2023-02-01T09:00", "admin"))
    outbox = str(home / "outbox.jsonl")

    def tick(when: str) -> None:
        tick_direct(url, C, _act(when, "tick"), outbox)

    def file(unit: str, artifact: str, when: str, with_rows: bool = False) -> None:
        with engine.begin() as conn:
            file_artifact(conn, blobs, C, unit, artifact, _act(when, unit), files=[(b"%PDF-1.4 scan", "scan.pdf")],
                          rows_file=rows if with_rows else None, signed_by="校长" if artifact == "plan" else None)

    tick("2023-02-14T09:00")
    file("s1", "plan", "2023-02-20T10:00")
    tick("2023-03-06T09:00")
    file("s2", "plan", "2023-03-10T10:00")
    tick("2023-03-11T09:00")
    file("s1", "issue_list", "2023-04-01T10:00", with_rows=True)
    with engine.begin() as conn:
        review(conn, C, "s1", "issue_list", False, "整改措施不具体，请细化", _act("2023-04-03T10:00", "sup"))
    file("s1", "issue_list", "2023-04-04T10:00", with_rows=True)
    with engine.begin() as conn:
        review(conn, C, "s1", "issue_list", True, None, _act("2023-04-06T10:00", "sup"))
        (item,) = [i for i in ledger(conn, C) if i["unit"] == "s1"]
        update_item(conn, blobs, item["id"], "rectified", "已建立督办台账", [(b"%PDF-1.4 evidence", "佐证.pdf")],
                    _act("2023-04-08T10:00", "s1"))
        verify_item(conn, item["id"], True, "经核查整改到位，同意销号", _act("2023-04-09T15:00", "sup"))
    tick("2023-04-20T09:00")
    engine.dispose()


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("grades")
    url = f"sqlite:///{home / 'campaign.db'}"
    build(url, home)
    from campaign_model.store.db import open_engine

    engine = open_engine(url)
    svc = Services(Settings(home, url), engine, clock=lambda: AS_OF)
    yield {"svc": svc, "engine": engine, "home": home, "url": url, "client": client_for(create_app(svc))}
    engine.dispose()


def by_unit(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["unit"]: u for u in view["units"]}


def test_the_ranking_counts_filings_returns_and_closure_as_of_the_instant(graded):
    view = grade_cases.ranking(graded["svc"], C)
    units = by_unit(view)
    assert list(units) == ["s1", "s2", "d1"]  # the organizer (bureau) assesses and is not ranked
    s1, s2, d1 = units["s1"], units["s2"], units["d1"]
    assert s1["counts"] == {"due": 2, "on_time": 2, "filings": 3, "rejections": 1, "items": 1, "closed": 1}
    assert (s1["on_time"], s1["rejections"], s1["closure"]) == (1.0, 0.6667, 1.0)
    assert s1["score"] == 93.3 and s1["grade"] == "优秀" and s1["rank"] == 1  # 40 + 20 × 2/3 + 40
    assert s2["counts"] == {"due": 2, "on_time": 0, "filings": 1, "rejections": 0, "items": 0, "closed": 0}
    assert s2["closure"] is None and s2["score"] == 33.3 and s2["grade"] == "一般" and s2["rank"] == 2  # 20 of 60
    assert d1["score"] is None and d1["grade"] == "未评" and d1["rank"] is None
    assert [(g["name"], g["units"]) for g in view["grades"]] == [("优秀", 1), ("较好", 0), ("一般", 1)]
    assert view["ungraded"] == 1 and view["configured"] is True


def test_an_earlier_instant_counts_only_what_had_happened(graded):
    # 03-01: s1's plan was in on time, s2's was overdue; nothing returned, no ledger yet
    units = by_unit(grade_cases.ranking(graded["svc"], C, at=local("2023-03-01T10:00")))
    assert units["s1"]["counts"] == {"due": 1, "on_time": 1, "filings": 1, "rejections": 0, "items": 0, "closed": 0}
    assert units["s1"]["score"] == 100.0
    assert units["s2"]["counts"]["due"] == 1 and units["s2"]["score"] == 0.0 and units["s2"]["grade"] == "一般"


def test_the_ranking_filters_by_parent_and_refuses_an_unknown_one_naming_the_field(graded):
    assert [u["unit"] for u in grade_cases.ranking(graded["svc"], C, parent="d1")["units"]] == ["s1", "s2"]
    from campaign_model.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        grade_cases.ranking(graded["svc"], C, parent="nowhere")
    assert caught.value.field == "parent" and "d1" in str(caught.value)


def test_the_same_counts_on_postgresql(postgres, tmp_path):
    url = postgres.new_database()
    build(url, tmp_path)
    from campaign_model.store.db import open_engine

    engine = open_engine(url)
    try:
        units = by_unit(grade_cases.ranking(Services(Settings(tmp_path, url), engine, clock=lambda: AS_OF), C))
    finally:
        engine.dispose()
    assert units["s1"]["counts"] == {"due": 2, "on_time": 2, "filings": 3, "rejections": 1, "items": 1, "closed": 1}
    assert (units["s1"]["score"], units["s2"]["score"], units["d1"]["score"]) == (93.3, 33.3, None)


def test_a_campaign_without_an_assessment_is_graded_by_the_default(tmp_path):
    from campaign_model.store.db import open_engine

    url = f"sqlite:///{tmp_path / 'plain.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC, "small.yaml"), _act("2023-02-01T09:00", "admin"))
    view = grade_cases.ranking(Services(Settings(tmp_path, url), engine, clock=lambda: AS_OF), C)
    engine.dispose()
    assert view["configured"] is False and not view["in_notice"]
    assert [g["name"] for g in view["grades"]] == [g.name for g in DEFAULT.grades]


# --- the page, the API, the report, the command, the notice ---

def login(graded: Any, name: str) -> Any:
    from .test_pages import csrf_of

    client = client_for(graded["client"].app)
    form = client.get("/login")
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
                         follow_redirects=False)
    assert answer.status_code == 303
    return client


@pytest.mark.parametrize("user", ["admin", "sup", "viewer"])
def test_the_ranking_page_shows_rank_unit_parent_measures_score_and_grade(graded, user):
    from .test_pages import elements

    page = login(graded, user).get(f"/c/{C}/grades")
    assert page.status_code == 200
    rows = [tr for tr in elements(page.text, tag="tr") if "data-unit" in tr]
    assert [(r["data-unit"], r["data-grade"]) for r in rows] == [("s1", "优秀"), ("s2", "一般"), ("d1", "未评")]
    assert "93.3" in page.text and "33.3" in page.text and "城关学区" in page.text
    assert 'id="nav-grades"' in page.text and 'aria-current="page"' in page.text


def test_the_ranking_page_reads_in_english_and_filters_by_parent(graded):
    client = login(graded, "admin")
    page = client.get(f"/c/{C}/grades?parent=d1&lang=en")
    assert page.status_code == 200 and "Excellent" in page.text and "Not graded" not in page.text
    refused = client.get(f"/c/{C}/grades?parent=nowhere")
    assert refused.status_code == 422 and 'id="grades-error"' in refused.text and "parent" in refused.text


@pytest.mark.parametrize("user", ["s1user", "d1user"])
def test_a_unit_user_gets_the_403_page(graded, user):
    answer = login(graded, user).get(f"/c/{C}/grades")
    assert answer.status_code == 403 and "403" in answer.text


def test_the_api_answers_the_same_ranking(graded):
    from campaign_model.store.accounts import create_token

    with graded["engine"].begin() as conn:
        token, _ = create_token(conn, "sup", _act("2023-04-20T09:00", "admin"))
    answer = graded["client"].get(f"/api/v1/campaigns/{C}/grades", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.json()["units"] == grade_cases.ranking(graded["svc"], C)["units"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json", "html", "pdf"])
def test_the_grades_report_opens_in_every_format(graded, fmt, tmp_path):
    out = tmp_path / f"grades.{fmt}"
    write_report(graded["svc"], C, "grades", fmt, out, at=AS_OF)
    data = out.read_bytes()
    if fmt == "xlsx":
        ws = load_workbook(io.BytesIO(data)).active
        values = [[c.value for c in row] for row in ws.iter_rows()]
        header = next(r for r in values if r and "排名" in r)
        s1 = next(r for r in values if r and "第一小学" in r)
        assert s1[header.index("档次")] == "优秀" and s1[header.index("排名")] == 1
    elif fmt == "csv":
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert any("第一小学" in r and "优秀" in r and "93.3" in r for r in rows)
    elif fmt == "json":
        doc = json.loads(data)
        assert doc["kind"] == "grades" and [u["unit"] for u in doc["units"]] == ["s1", "s2", "d1"]
    elif fmt == "html":
        assert "考核排名" in data.decode("utf-8") and "第二小学" in data.decode("utf-8")
    else:
        assert data.startswith(b"%PDF") and len(data) > 1000


def test_campaign_grades_prints_the_ranking_and_report_writes_it(graded, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(graded["home"]), "CAMPAIGN_DB_URL": graded["url"]}
    done = subprocess.run([*CAMPAIGN, "grades", C, "--at", "2023-04-20T10:00", "--json"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert [u["unit"] for u in json.loads(done.stdout)["units"]] == ["s1", "s2", "d1"]
    out = tmp_path / "排名.xlsx"
    done = subprocess.run([*CAMPAIGN, "report", C, "--kind", "grades", "--out", str(out), "--at", "2023-04-20T10:00"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "考核排名" in done.stdout and out.stat().st_size > 1000


def test_the_notice_names_the_grades_and_ranking_when_the_spec_asks(graded):
    with graded["engine"].connect() as conn:
        data = overdue_by_parent(conn, C, AS_OF)
    markdown = render_markdown(data, "zh")
    assert "、考核排名" in markdown
    assert "优秀：第一小学（93.3）。" in markdown and "一般（得分由低到高）：第二小学（33.3）。" in markdown
    assert "另有 1 个单位尚无可评定的事项" in markdown
    subject, text, _ = notice_message(data, "zh")
    assert "考核排名" in text and "第一小学（93.3）" in text
    assert "Excellent" not in markdown and "Excellent" not in text  # the campaign's language only


def test_the_notice_has_no_grades_section_when_the_spec_does_not_ask(tmp_path):
    from campaign_model.store.db import open_engine

    url = f"sqlite:///{tmp_path / 'plain.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SMALL_SPEC + ASSESSMENT.replace("in_notice: true", "in_notice: false"),
                                             "small.yaml"), _act("2023-02-01T09:00", "admin"))
        data = overdue_by_parent(conn, C, AS_OF)
    engine.dispose()
    assert data.ranking is None and "考核排名" not in render_markdown(data, "zh")


def test_the_ranking_page_fits_a_phone_and_a_desktop(graded):
    """The page in a real Chromium at 390 and 1280 px (screenshots in test-artifacts/, looked at by the author):
    nothing is wider than the screen; every request is answered by the app itself (through the test client,
    logged in as the supervising group)."""
    from playwright.sync_api import sync_playwright

    from .test_browser import shot

    client = login(graded, "sup")

    def answer(route: Any) -> None:
        url = route.request.url.removeprefix("http://cf.test")
        got = client.get(url)
        route.fulfill(status=got.status_code, body=got.content,
                      headers={"content-type": got.headers.get("content-type", "text/html")})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            for width in (390, 1280):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("http://cf.test/**", answer)
                page.goto(f"http://cf.test/c/{C}/grades")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                assert page.locator("tr[data-unit='s1'] .grade").inner_text() == "优秀"
                shot(page, f"grades-{width}")
                page.close()
        finally:
            browser.close()
