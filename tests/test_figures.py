"""Counts that summaries report (issue 13 part 6): figures kinds (征求意见: forms sent, returned, problems,
suggestions, how many became items; 制度成果: rules planned, issued, revised) filed by units as one row —
through the filing form's number fields, a CSV or the use case — checked (returned ≤ sent, not negative, one
row), and added up per parent unit and for the campaign in the summary report (`--kind summary`), with the
ledger's own count of items from the masses' opinions beside the filed figure. Seed 004's "发出180张…收回125张"
and seed 000's funnel (9000余份 → 1282个问题、1830条建议 → 108条 → 50个整改问题; 制度 65/40/25) are filed
through their templates and read back from the report in each format.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from openpyxl import load_workbook
from sqlalchemy import func, select

from campaign_app.settings import Settings
from campaign_app.usecases import filings as filings_uc
from campaign_app.usecases.reports import write_report
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.errors import SpecInvalid
from campaign_model.rows import RowsInvalid
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.tables import filings

from .conftest import local
from .loopback import free_port
from .test_seed_walks import Walk
from .web_support import Clock

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
KEY = "figures-2023"
PASSWORD = "qingfeng-2024"
SPEC = """\
version: 1
key: figures-2023
title: 2023年作风整顿（汇总数据测试）
calendar: cn
organizer: bureau
units:
  - {key: bureau, name: 教育局}
  - {key: d1, name: 城关学区, parent: bureau, tags: [学区]}
  - {key: s1, name: 第一小学, parent: d1, tags: [学校]}
  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}
  - {key: d2, name: 石匣学区, parent: bureau, tags: [学区]}
  - {key: s3, name: 石匣小学, parent: d2, tags: [学校]}
artifacts:
  issue_list:
    title: 问题清单
    rows:
      problem: {title: 问题, required: true}
      source: {title: 来源, type: choice, choices: [自查, 群众意见, 督查]}
      deadline: {title: 整改时限, type: date, required: true}
  opinion_figures:
    title: 征求意见情况
    title_en: Opinions sought
    rows:
      forms_sent: {title: 发出征求意见表, title_en: Forms sent, type: integer, required: true}
      forms_returned: {title: 收回征求意见表, title_en: Forms returned, type: integer, required: true}
      problems: {title: 征求到的问题, type: integer}
      suggestions: {title: 征求到的建议, type: integer}
      became_items: {title: 列入整改台账, title_en: Became ledger items, type: integer}
    figures:
      at_most: {forms_returned: forms_sent}
      from_ledger: {became_items: [群众意见, mass_opinion]}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-03-06
    end: 2023-04-30
    steps:
      - key: opinions
        title: 征求意见
        due: 2023-03-31
        requires:
          - {artifact: opinion_figures, from: tag:学校}
      - key: issues
        title: 问题清单
        due: 2023-04-05
        requires:
          - {artifact: issue_list, from: tag:学校}
"""
HEADER = "发出征求意见表,收回征求意见表,征求到的问题,征求到的建议,列入整改台账"


def act(when: str, actor: str = "admin") -> Act:
    return Act(local(when), actor, local(when))


def services(home: Path, url: str, engine, when: str = "2023-04-10T10:00") -> Services:
    return Services(Settings(home, url), engine, clock=Clock(local(when)))


def csv_file(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'figures.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "figures.yaml"), act("2023-03-01T09:00"))
    yield services(tmp_path / "home", url, engine), tmp_path
    engine.dispose()


def report(svc: Services, tmp: Path, key: str, fmt: str, when: str) -> Path:
    out = tmp / f"summary.{fmt}"
    write_report(svc, key, "summary", fmt, out, at=local(when))
    return out


def test_figures_are_added_up_per_parent_unit_and_for_the_campaign_with_the_ledger_count_beside(small) -> None:
    svc, tmp = small
    filings_uc.file_artifact(svc, act("2023-03-20T10:00", "s1"), KEY, "s1", "opinion_figures",
                             rows=csv_file(tmp, "s1.csv", f"{HEADER}\n60,40,30,20,3\n"))
    filings_uc.file_artifact(svc, act("2023-03-21T10:00", "s2"), KEY, "s2", "opinion_figures",
                             rows=csv_file(tmp, "s2.csv", f"{HEADER}\n40,35,,5,1\n"))
    # s3 files nothing; s1's issue list holds two items from the masses' opinions, s3's one
    filings_uc.file_artifact(svc, act("2023-04-01T10:00", "s1"), KEY, "s1", "issue_list", rows=csv_file(
        tmp, "i1.csv", "问题,来源,整改时限\n食堂收费不公示,群众意见,2023-06-30\n作业过多,群众意见,2023-06-30\n迟到早退,自查,2023-05-31\n"))
    filings_uc.file_artifact(svc, act("2023-04-01T11:00", "s3"), KEY, "s3", "issue_list", rows=csv_file(
        tmp, "i3.csv", "问题,来源,整改时限\n家长会太少,群众意见,2023-06-30\n"))
    doc = json.loads(report(svc, tmp, KEY, "json", "2023-04-10T10:00").read_text(encoding="utf-8"))
    assert doc["kind"] == "summary" and "audit_head" in doc
    (kind,) = doc["figures"]
    groups = {g["parent"]: g for g in kind["groups"]}
    assert groups["d1"]["values"] == {"forms_sent": 100, "forms_returned": 75, "problems": 30, "suggestions": 25,
                                      "became_items": 4}
    assert (groups["d1"]["units_owing"], groups["d1"]["units_filed"], groups["d1"]["ledger"]) == (2, 2, {"became_items": 2})
    assert (groups["d2"]["units_owing"], groups["d2"]["units_filed"]) == (1, 0)
    assert groups["d2"]["values"]["forms_sent"] is None and groups["d2"]["ledger"] == {"became_items": 1}
    assert kind["total"]["values"]["forms_sent"] == 100 and kind["total"]["ledger"] == {"became_items": 3}
    s2 = next(u for u in kind["units"] if u["unit"] == "s2")
    assert s2["values"]["problems"] is None  # left empty: unknown, not zero
    # the CSV: the sums by parent unit with the campaign's total row, the share returned, the ledger beside
    rows = list(csv.reader(io.StringIO(report(svc, tmp, KEY, "csv", "2023-04-10T10:00").read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["上级单位", "应报单位", "已报单位", "发出征求意见表", "收回征求意见表", "征求到的问题", "征求到的建议",
                       "列入整改台账", "台账计数：列入整改台账", "收回征求意见表占发出征求意见表"]
    assert rows[1] == ["城关学区", "2", "2", "100", "75", "30", "25", "4", "2", "75.0%"]
    assert rows[2] == ["石匣学区", "1", "0", "", "", "", "", "", "1", ""]
    assert rows[3] == ["合计", "3", "2", "100", "75", "30", "25", "4", "3", "75.0%"]
    page = report(svc, tmp, KEY, "html", "2023-04-10T10:00").read_text(encoding="utf-8")
    assert "征求意见情况：2/3 个单位已填报；合计 发出征求意见表 100" in page
    assert "台账中来源为群众意见的事项 3 项（填报 4）" in page
    # before any filing the report says so, figure by figure
    early = json.loads(report(svc, tmp, KEY, "json", "2023-03-15T10:00").read_text(encoding="utf-8"))
    assert early["figures"][0]["total"]["units_filed"] == 0


def test_a_figures_filing_that_breaks_its_checks_is_refused_naming_the_figure_and_stores_nothing(small) -> None:
    svc, tmp = small
    cases = [
        (f"{HEADER}\n60,70,1,1,1\n", "forms_returned", "70 超过发出征求意见表 60"),
        (f"{HEADER}\n-5,0,1,1,1\n", "forms_sent", "不能为负数"),
        (f"{HEADER}\n60,40,1,1,1\n50,20,1,1,1\n", None, "数字填报只填一行，现有 2 行"),
        (f"{HEADER}\n六十,40,1,1,1\n", "forms_sent", "不是整数"),
    ]
    for n, (text, column, message) in enumerate(cases):
        with pytest.raises(RowsInvalid) as exc:
            filings_uc.file_artifact(svc, act("2023-03-20T10:00", "s1"), KEY, "s1", "opinion_figures",
                                     rows=csv_file(tmp, f"bad{n}.csv", text))
        assert message in str(exc.value)
        assert [p["column"] for p in exc.value.problems] == [column]
    with svc.read() as conn:
        assert conn.execute(select(func.count()).select_from(filings)).scalar_one() == 0


@pytest.mark.parametrize("edit, message", [
    ("forms_sent: {title: 发出征求意见表, title_en: Forms sent, type: integer",
     "forms_sent: {title: 发出征求意见表, title_en: Forms sent, type: text"),
    ("at_most: {forms_returned: forms_sent}", "at_most: {forms_returned: forms_given}"),
    ("from_ledger: {became_items: [群众意见, mass_opinion]}", "from_ledger: {became_item: [群众意见]}"),
    ("from_ledger: {became_items: [群众意见, mass_opinion]}", "from_ledger: {became_items: []}"),
])
def test_a_bad_figures_kind_is_refused_with_its_line(edit: str, message: str) -> None:
    with pytest.raises(SpecInvalid) as exc:
        load_spec_text(SPEC.replace(edit, message), "figures.yaml")
    text = str(exc.value)
    assert re.search(r"figures\.yaml:\d+: artifacts\.opinion_figures\.", text), text


# --- seed 004 and seed 000 through their templates


def test_seed_004_180_forms_sent_125_returned_appear_in_the_summary_report(tmp_path: Path) -> None:
    w = Walk("xuexishijian", tmp_path)
    svc = services(tmp_path / "home", w.url, w.engine, "2023-07-01T10:00")
    header = "发出征求意见表（张）,收回征求意见表（张）,征得意见建议（条）,整理归纳后（条）,信箱收到建议意见（个）,已解决（个）"
    # the seed's bureau-wide counts as the three owing units filed them (6月26日至30日)
    for unit, line in (("renshi", "60,41,6,3,25,21"), ("shiyan-xiaoxue", "70,50,8,5,,"), ("yizhong", "50,34,6,3,,")):
        filings_uc.file_artifact(svc, w.act("2023-06-30T10:00", unit), w.key, unit, "opinion_figures",
                                 rows=csv_file(tmp_path, f"{unit}.csv", f"{header}\n{line}\n"))
    filings_uc.file_artifact(svc, w.act("2023-06-30T11:00", "bureau"), w.key, "bureau", "institution_figures",
                             rows=csv_file(tmp_path, "rules.csv", "拟出台制度（个）,已出台制度（个）\n6,4\n"))
    doc = json.loads(report(svc, tmp_path, w.key, "json", "2023-07-01T10:00").read_text(encoding="utf-8"))
    kinds = {k["artifact"]: k for k in doc["figures"]}
    assert kinds["opinion_figures"]["total"]["values"] == {"forms_sent": 180, "forms_returned": 125, "opinions": 20,
                                                           "sorted": 11, "mailbox": 25, "solved": 21}
    assert kinds["institution_figures"]["total"]["values"] == {"planned": 6, "issued": 4, "revised": None}
    book = load_workbook(report(svc, tmp_path, w.key, "xlsx", "2023-07-01T10:00"))
    sums = book.worksheets[0]
    cells = [[c.value for c in row] for row in sums.iter_rows()]
    total = next(r for r in cells if r and r[0] == "合计")
    assert total[3:5] == [180, 125]
    assert "收回征求意见表（张）占发出征求意见表（张）" in cells[1]
    assert round(total[cells[1].index("收回征求意见表（张）占发出征求意见表（张）")], 4) == round(125 / 180, 4)


def test_seed_000_funnel_and_rules_appear_in_the_summary_report_with_the_ledger_beside(tmp_path: Path) -> None:
    w = Walk("qunzhongluxian-2014", tmp_path)
    svc = services(tmp_path / "home", w.url, w.engine, "2014-12-31T10:00")
    header = "发放调查问卷和民主评议表（份）,征求到的问题（个）,征求到的建议（条）,梳理汇总为（条）,列入整改清单（个）"
    # 9000余份 → 1282个问题、1830条建议 → 108条 → 50个整改问题, as the four schools filed them
    lines = {"erzhong": "3000,400,600,36,17", "shifan": "2500,350,500,30,13", "sucheng": "2000,300,400,24,11",
             "guaier": "1500,232,330,18,9"}
    for unit, line in lines.items():
        filings_uc.file_artifact(svc, w.act("2014-05-28T10:00", unit), w.key, unit, "opinion_figures",
                                 rows=csv_file(tmp_path, f"{unit}.csv", f"{header}\n{line}\n"))
    for unit, line in (("erzhong", "20,12,8"), ("shifan", "15,10,5"), ("sucheng", "15,9,6"), ("guaier", "15,9,6")):
        filings_uc.file_artifact(svc, w.act("2014-12-15T10:00", unit), w.key, unit, "institution_figures",
                                 rows=csv_file(tmp_path, f"{unit}-rules.csv", f"制度建设计划（项）,制定、完善（项）,修订（项）\n{line}\n"))
    # two schools' rectification lists (来源 征求意见) put two items in the ledger
    for unit in ("erzhong", "shifan"):
        w.file(unit, "rectification_list", "2014-09-15T10:00")
    doc = json.loads(report(svc, tmp_path, w.key, "json", "2014-12-31T10:00").read_text(encoding="utf-8"))
    kinds = {k["artifact"]: k for k in doc["figures"]}
    opinions = kinds["opinion_figures"]["total"]
    assert opinions["values"] == {"forms_sent": 9000, "forms_returned": None, "problems": 1282, "suggestions": 1830,
                                  "sorted": 108, "became_items": 50}
    assert opinions["ledger"] == {"became_items": 2}
    assert kinds["institution_figures"]["total"]["values"] == {"planned": 65, "issued": 40, "revised": 25}
    page = report(svc, tmp_path, w.key, "html", "2014-12-31T10:00").read_text(encoding="utf-8")
    for text in ("9000", "1282", "1830", "制度建设计划（项） 65", "台账中来源为征求意见/群众意见的事项 2 项（填报 50）"):
        assert text in html.unescape(page), text
    pdf = report(svc, tmp_path, w.key, "pdf", "2014-12-31T10:00")
    assert pdf.read_bytes().startswith(b"%PDF")


# --- the filing form's number fields, served, and in a browser at phone and desktop widths


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[tuple[str, object]]:
    root = tmp_path_factory.mktemp("figures-site")
    url = f"sqlite:///{root / 'campaign.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "figures.yaml"), act("2023-03-01T09:00"))
        for name, unit in (("s1user", "s1"), ("s2user", "s2"), ("s3user", "s3")):
            add_user(conn, name, "unit", unit, PASSWORD, act("2023-03-01T09:00"))
        add_user(conn, "office", "admin", None, PASSWORD, act("2023-03-01T09:00"))
    app = create_app(Services(Settings(root / "home", url), engine, clock=Clock(local("2023-03-20T10:00"))))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}", engine
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@contextmanager
def logged_in(address: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=address, follow_redirects=False, timeout=30) as client:
        form = client.get("/login")
        fields = {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.text)}
        assert client.post("/login", data={**fields, "name": name, "password": PASSWORD}).status_code == 303
        yield client


def stored_rows(engine, unit_filings_before: int) -> list:
    with engine.connect() as conn:
        return [r for (r,) in conn.execute(select(filings.c.rows).order_by(filings.c.id)).all()][unit_filings_before:]


def test_the_filing_form_takes_the_figures_as_numbers_and_refuses_returned_above_sent(site) -> None:
    address, engine = site
    with logged_in(address, "s2user") as client:
        form = client.get(f"/c/{KEY}/file?artifact=opinion_figures")
        assert form.status_code == 200
        fieldset = re.search(r'<fieldset class="figures-form" id="figures-opinion_figures".*?</fieldset>', form.text, re.S)
        assert fieldset is not None
        for key, title in (("forms_sent", "发出征求意见表"), ("forms_returned", "收回征求意见表"), ("became_items", "列入整改台账")):
            assert f'<label for="fig-opinion_figures-{key}">{title}' in fieldset.group(0)
            assert f'id="fig-opinion_figures-{key}" min="0" step="1"' in fieldset.group(0)
        found = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert found is not None
        csrf = html.unescape(found.group(1))
        keys = ["opinion_figures.forms_sent", "opinion_figures.forms_returned", "opinion_figures.problems",
                "opinion_figures.suggestions", "opinion_figures.became_items"]
        before = len(stored_rows(engine, 0))

        def post(values: list[str]) -> httpx.Response:
            data = {"csrf": csrf, "unit": "s2", "artifact": "opinion_figures", "figure_key": keys, "figure": values}
            return client.post(f"/c/{KEY}/file", data=data)

        refused = post(["40", "45", "3", "", "1"])
        assert refused.status_code == 422
        errors = re.search(r'<ul id="filing-errors" class="error">(.*?)</ul>', refused.text, re.S)
        assert errors and "收回征求意见表" in errors.group(1) and "45 超过发出征求意见表 40" in html.unescape(errors.group(1))
        assert 'value="45"' in refused.text  # the numbers typed stay in the form
        assert len(stored_rows(engine, 0)) == before
        done = post(["40", "35", "3", "", "1"])
        assert done.status_code == 303 and "filed=s2/opinion_figures/1" in done.headers["location"]
    assert stored_rows(engine, before) == [[{"forms_sent": 40, "forms_returned": 35, "problems": 3,
                                             "suggestions": None, "became_items": 1}]]


def test_the_number_fields_in_a_browser_at_phone_and_desktop_widths(site) -> None:
    from playwright.sync_api import sync_playwright

    address, engine = site
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            for width, user in ((390, "s1user"), (1280, "s3user")):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{address}/login")
                page.fill("input[name=name]", user)
                page.fill("input[name=password]", PASSWORD)
                page.press("input[name=password]", "Enter")
                page.wait_for_load_state()
                page.goto(f"{address}/c/{KEY}/file")
                # the number fields show only while their artifact is the one chosen
                page.select_option("#artifact", "issue_list")
                assert not page.locator("#figures-opinion_figures").is_visible()
                page.select_option("#artifact", "opinion_figures")
                assert page.locator("#figures-opinion_figures").is_visible()
                page.get_by_label("发出征求意见表").fill("60")
                page.get_by_label("收回征求意见表").fill("41")
                page.get_by_label("列入整改台账").fill("2")
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=str(ARTIFACTS / f"figures-form-{width}.png"), full_page=True)
                page.click("#file-submit")
                page.wait_for_load_state()
                assert page.locator("#filing-ok").is_visible()
                page.close()
        finally:
            browser.close()
    with engine.connect() as conn:
        got = conn.execute(select(filings.c.rows).order_by(filings.c.id.desc()).limit(2)).scalars().all()
    assert [r[0]["forms_sent"] for r in got] == [60, 60] and all(r[0]["forms_returned"] == 41 for r in got)
    assert (ARTIFACTS / "figures-form-390.png").stat().st_size > 0


def test_the_summary_report_is_offered_on_the_reports_page_and_downloads(site) -> None:
    address, _ = site
    with logged_in(address, "office") as client:
        page = client.get(f"/c/{KEY}/reports")
        assert page.status_code == 200
        card = re.search(r'<section class="report-card" id="report-summary".*?</section>', page.text, re.S)
        assert card and "汇总数据（征求意见、制度成果）" in card.group(0) and 'value="pdf"' in card.group(0)
        got = client.get(f"/c/{KEY}/reports/download", params={"kind": "summary", "format": "csv",
                                                                  "date": "2023-03-20", "time": "10:00"})
        assert got.status_code == 200, got.text[:300]
        assert got.content.decode("utf-8-sig").splitlines()[0].startswith("上级单位,应报单位,已报单位,发出征求意见表")
