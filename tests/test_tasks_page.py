"""我的待办 (my tasks): what a unit user sees first, across its campaigns, most urgent first; and 签收.

The campaign below asks every school, at 2023-03-01 10:00 (mobilization running, self-check not yet open):
to acknowledge the campaign's notice (签收, due 02-16: overdue), a plan (due 03-03, s1's was sent back
with a comment), a meeting record (due 03-04: due soon), study notes (due 03-20: later) and, in the
self-check phase, an issue list (not yet open). The 学区 d1 sees its two schools; d2's school s3 is
not its business. The store and use case run on SQLite and PostgreSQL; the pages through HTTP on SQLite;
the last test in Debian's Chromium against a real `campaign serve`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from campaign_app.settings import Settings
from campaign_app.usecases import tasks as tasks_uc
from campaign_app.usecases.services import Services
from campaign_app.web.app import create_app
from campaign_model.errors import InvalidInput, SpecInvalid
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact, review
from campaign_model.store.ledger import record_finding
from campaign_model.store.tables import audit_events, filings

from .conftest import local
from .served import campaign_serve
from .web_support import HTTPX_WARNING, client_for

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

KEY = "tasks-2023"
AT = local("2023-03-01T10:00")
PASSWORD = "qingfeng-2024"

TASK_SPEC = """\
version: 1
key: tasks-2023
title: 2023年作风整顿（待办测试）
title_en: Conduct campaign 2023 (tasks test)
calendar: cn
organizer: bureau
units:
  - {key: bureau, name: 教育局}
  - {key: d1, name: 城关学区, parent: bureau, tags: [学区]}
  - {key: s1, name: 第一小学, parent: d1, tags: [学校]}
  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}
  - {key: d2, name: 东关学区, parent: bureau, tags: [学区]}
  - {key: s3, name: 第三小学, parent: d2, tags: [学校]}
artifacts:
  notice: {title: 活动通知, title_en: Campaign notice, acknowledge: true}
  plan: {title: 实施方案}
  meeting: {title: 动员大会记录}
  study: {title: 学习笔记}
  issue_list:
    title: 问题清单
    rows:
      problem: {title: 问题, required: true}
      deadline: {title: 整改时限, type: date, required: true}
phases:
  - key: mobilization
    title: 学习动员
    title_en: Mobilization
    kind: mobilization
    start: 2023-02-14
    end: 2023-03-05
    steps:
      - key: receive
        title: 签收活动通知
        due: 2023-02-16
        requires: [{artifact: notice, from: tag:学校}]
      - key: plan
        title: 制定实施方案
        due: 2023-03-03
        requires: [{artifact: plan, from: tag:学校, review: true}]
      - key: meeting
        title: 召开动员大会
        due: 2023-03-04
        requires: [{artifact: meeting, from: tag:学校}]
      - key: study
        title: 学习笔记
        due: 2023-03-20
        requires: [{artifact: study, from: tag:学校}]
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: 2023-03-06
    end: 2023-03-31
    steps:
      - key: issues
        title: 问题清单
        due: 2023-04-05
        requires: [{artifact: issue_list, from: tag:学校}]
"""


def act(when: str, actor: str = "s1-clerk") -> Act:
    return Act(local(when), actor, local(when))


def build(engine: Any, url: str, home: Path) -> None:
    """The campaign as it stands at AT: s1's plan sent back, s2's awaiting review, two findings for s1, ticked."""
    from flows.tick import tick_direct

    blobs = BlobStore(home / "files")
    scan = home / "plan.pdf"
    scan.parent.mkdir(parents=True, exist_ok=True)
    scan.write_bytes(b"%PDF-1.4 plan")
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(TASK_SPEC, "tasks.yaml"), act("2023-02-01T09:00", "admin"))
        add_user(conn, "li-sup", "supervisor", None, None, act("2023-02-01T09:00", "admin"), display_name="李组长")
        file_artifact(conn, blobs, KEY, "s1", "plan", act("2023-02-20T10:00"), files=[scan])
        review(conn, KEY, "s1", "plan", False, "缺少校长签字，请补签后重报", act("2023-02-22T15:30", "li-sup"))
        file_artifact(conn, blobs, KEY, "s2", "plan", act("2023-02-25T10:00", "s2-clerk"), files=[scan])
        record_finding(conn, KEY, "s1", "值班记录缺失", dt.date(2023, 2, 25), act("2023-02-20T11:00", "li-sup"))
        record_finding(conn, KEY, "s1", "台账不全", dt.date(2023, 4, 30), act("2023-02-20T11:00", "li-sup"))
        record_finding(conn, KEY, "s3", "围栏破损", dt.date(2023, 2, 25), act("2023-02-20T11:00", "li-sup"))
    tick_direct(url, KEY, Act(AT, "tick", AT), str(home / "outbox.jsonl"))


@pytest.fixture
def svc(engine, db_url, tmp_path) -> Services:
    build(engine, db_url, tmp_path)
    return Services(Settings(tmp_path, db_url), engine, clock=lambda: AT)


def kinds(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(t["unit"], t["artifact"], t["urgency"]) for t in doc["tasks"]]


# --- the list: order, scope, rejection, counts ---

def test_a_schools_tasks_come_most_urgent_first(svc):
    doc = tasks_uc.my_tasks(svc, AT, unit="s1")

    assert kinds(doc) == [("s1", "notice", "overdue"), ("s1", "plan", "rejected"), ("s1", "meeting", "due_soon"),
                          ("s1", "study", "open"), ("s1", "issue_list", "not_open")]
    notice, plan, meeting, study, issues = doc["tasks"]
    assert notice["days_overdue"] == 13 and notice["due_date"] == "2023-02-16" and notice["weekday"] == 3  # a Thursday
    assert notice["acknowledge"] is True and plan["acknowledge"] is False
    assert meeting["days_left"] == 3 and study["days_left"] == 19
    assert issues["opens"] == "2023-03-06" and issues["waits_for_previous"] is False
    assert notice["campaign"] == KEY and notice["phase_title"] == "学习动员" and notice["step_title"] == "签收活动通知"
    assert doc["several_units"] is False


def test_a_rejected_filing_shows_the_reviewers_comment_who_and_when(svc):
    plan = next(t for t in tasks_uc.my_tasks(svc, AT, unit="s1")["tasks"] if t["artifact"] == "plan")

    assert plan["state"] == "rejected"
    assert plan["rejection"] == {"comment": "缺少校长签字，请补签后重报", "by": "li-sup", "by_name": "李组长",
                                 "at": "2023-02-22T15:30:00+08:00"}


def test_the_header_counts_and_the_ledger_items_most_overdue_first(svc):
    doc = tasks_uc.my_tasks(svc, AT, unit="s1")

    assert doc["counts"] == {"overdue": 1, "rejected": 1, "due_soon": 1, "ledger": 2, "ledger_overdue": 1,
                             "awaiting_review": 0, "awaiting_check": 0}
    assert [(i["problem"], i["overdue"]) for i in doc["ledger"]] == [("值班记录缺失", True), ("台账不全", False)]
    assert doc["ledger"][0]["days_overdue"] == 4 and doc["ledger"][1]["days_left"] == 60


def test_a_district_sees_its_schools_tasks_and_no_others(svc):
    doc = tasks_uc.my_tasks(svc, AT, unit="d1")

    assert {t["unit"] for t in doc["tasks"]} == {"s1", "s2"}
    assert doc["units"] == ["d1", "s1", "s2"] and doc["several_units"] is True
    assert [t["unit_name"] for t in doc["tasks"][:2]] == ["第一小学", "第二小学"]  # both notices overdue, s1 first
    assert [t["urgency"] for t in doc["tasks"]] == ["overdue", "overdue", "rejected", "due_soon", "due_soon", "open",
                                                    "open", "not_open", "not_open"]
    # s2's plan is filed and waits for the reviewer: listed apart, not as a task
    assert [(t["unit"], t["artifact"]) for t in doc["awaiting_review"]] == [("s2", "plan")]
    assert {i["unit"] for i in doc["ledger"]} == {"s1"}  # s3's finding belongs to d2


def test_a_user_without_a_unit_or_of_a_unit_in_no_campaign_has_no_tasks(svc):
    for unit in (None, "zz"):
        doc = tasks_uc.my_tasks(svc, AT, unit=unit)
        assert doc["tasks"] == [] and doc["ledger"] == [] and doc["campaigns"] == []


def test_the_tasks_span_every_campaign_the_unit_takes_part_in(svc, engine):
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(TASK_SPEC.replace(f"key: {KEY}", "key: other-2023", 1), "other.yaml"),
                        act("2023-02-01T09:00", "admin"))
    doc = tasks_uc.my_tasks(svc, AT, unit="s1")

    assert [c["key"] for c in doc["campaigns"]] == ["other-2023", KEY]
    # the other campaign was never ticked: its phases have not started, so its tasks are not yet open
    assert {t["campaign"] for t in doc["tasks"] if t["urgency"] == "not_open"} == {"other-2023", KEY}
    assert {t["campaign"] for t in doc["tasks"] if t["urgency"] == "overdue"} == {KEY}


# --- 签收 ---

def test_acknowledging_files_with_no_files_signed_by_the_user_and_the_task_disappears(svc, engine):
    done = tasks_uc.acknowledge(svc, Act(AT, "s1-clerk", AT), KEY, "s1", "notice", signer="王老师", step="receive")

    assert done["state"] == "filed" and done["files"] == [] and done["signed_by"] == "王老师" and done["late"] is True
    doc = tasks_uc.my_tasks(svc, AT, unit="s1")
    assert "notice" not in [t["artifact"] for t in doc["tasks"]] and doc["counts"]["overdue"] == 0
    with engine.connect() as conn:
        row = conn.execute(select(filings.c.signed_by, filings.c.files, filings.c.rows)).all()
        event = conn.execute(select(audit_events.c.action, audit_events.c.actor, audit_events.c.subject)
                             .order_by(audit_events.c.seq.desc()).limit(1)).one()
    assert ("王老师", [], None) in [tuple(r) for r in row]
    assert tuple(event) == ("filing.created", "s1-clerk", "obligation:s1/notice/receive")


def test_only_an_acknowledged_kind_is_acknowledged_and_it_takes_no_files(svc, tmp_path):
    with pytest.raises(InvalidInput) as refused:
        tasks_uc.acknowledge(svc, Act(AT, "s1-clerk", AT), KEY, "s1", "plan", signer="王老师")
    assert refused.value.field == "artifact"
    scan = tmp_path / "notice.pdf"
    scan.write_bytes(b"%PDF-1.4 notice")
    with svc.write() as conn, pytest.raises(InvalidInput) as with_files:
        file_artifact(conn, svc.blobs, KEY, "s1", "notice", Act(AT, "s1-clerk", AT), files=[scan], signed_by="王老师")
    assert with_files.value.field == "files"
    with svc.write() as conn, pytest.raises(InvalidInput) as unsigned:
        file_artifact(conn, svc.blobs, KEY, "s1", "notice", Act(AT, "s1-clerk", AT))
    assert unsigned.value.field == "signed_by"
    assert [t["artifact"] for t in tasks_uc.my_tasks(svc, AT, unit="s1")["tasks"]][0] == "notice"


def test_an_acknowledged_kind_with_rows_is_refused_by_validation():
    bad = TASK_SPEC.replace("notice: {title: 活动通知, title_en: Campaign notice, acknowledge: true}",
                            "notice: {title: 活动通知, acknowledge: true, rows: {who: {title: 签收人}}}")
    with pytest.raises(SpecInvalid) as refused:
        load_spec_text(bad, "bad.yaml")
    assert any(p.path == "artifacts.notice.acknowledge" and p.line == 15 and "rows" in p.message
               for p in refused.value.problems), refused.value.problems
    assert load_spec_text(TASK_SPEC, "tasks.yaml").spec.artifacts["notice"].acknowledge is True


# --- the page, through HTTP ---

@pytest.fixture
def site(tmp_path) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'campaign.db'}"
    engine = open_engine(url)
    build(engine, url, tmp_path)
    with engine.begin() as conn:
        for name, role, unit in (("s1user", "unit", "s1"), ("d1user", "unit", "d1"), ("admin", "admin", None),
                                 ("stranger", "unit", "zz")):
            add_user(conn, name, role, unit, PASSWORD, act("2023-02-01T09:00", "admin"),
                     display_name="王老师" if name == "s1user" else None)
    yield create_app(Services(Settings(tmp_path, url), engine, clock=lambda: AT))
    engine.dispose()


def login(app: Any, name: str) -> Any:
    client = client_for(app)
    form = client.get("/login")
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def task_order(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<li class="task urgency-(\w+)"[^>]*data-unit="(\w+)" data-artifact="(\w+)"', html)


def test_a_school_user_lands_on_its_tasks_with_the_campaign_cards_below(site):
    page = login(site, "s1user").get("/")

    assert page.status_code == 200 and 'id="tasks"' in page.text and 'id="campaigns"' in page.text
    assert [a for _, _, a in task_order(page.text)] == ["notice", "plan", "meeting", "study", "issue_list"]
    assert 'id="count-overdue">1<' in page.text and 'id="count-ledger">2<' in page.text
    assert "缺少校长签字，请补签后重报" in page.text and "李组长" in page.text
    assert "2023-02-16</time>（周四）" in page.text and "逾期 13 天" in page.text and "将于 2023-03-06 开始" in page.text
    assert '/c/tasks-2023/file?unit=s1&amp;artifact=plan&amp;step=plan' in page.text
    assert f'href="/c/{KEY}/ledger/' in page.text
    english = login(site, "s1user").get("/?lang=en").text
    assert "My tasks" in english and "13 day(s) overdue" in english and "(Thu)" in english and "Mobilization" in english


def test_a_district_user_sees_the_units_names_and_the_awaiting_review_list(site):
    page = login(site, "d1user").get("/").text

    assert {u for _, u, _ in task_order(page)} == {"s1", "s2"}
    assert 'class="task-unit">第二小学<' in page and 'id="awaiting-review"' in page


def test_the_other_roles_keep_the_campaign_cards_with_the_filings_awaiting_review(site):
    admin = login(site, "admin").get("/").text
    assert 'id="campaigns"' in admin and 'id="tasks"' not in admin and 'id="task-counts"' not in admin
    # s2's plan waits for a reviewer: the admin's card says so and links to the review queue
    assert f'href="/c/{KEY}/reviews" class="awaiting-review-link">待审核 1 份<' in admin
    stranger = login(site, "stranger").get("/").text
    assert 'id="no-tasks"' in stranger and 'id="no-campaigns"' in stranger


def test_acknowledging_from_the_page_records_it_and_needs_the_csrf_field(site):
    client = login(site, "s1user")
    page = client.get("/").text
    form = {"unit": "s1", "artifact": "notice", "step": "receive"}

    refused = client.post(f"/c/{KEY}/acknowledge", data=form, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post(f"/c/{KEY}/acknowledge", data={**form, "csrf": csrf_of(page)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/?acknowledged=1"
    after = client.get(done.headers["location"]).text
    assert 'id="acknowledged"' in after and "notice" not in [a for _, _, a in task_order(after)]


def test_a_bad_acknowledgement_comes_back_to_the_list_naming_the_problem(site):
    client = login(site, "s1user")
    token = csrf_of(client.get("/").text)

    wrong_kind = client.post(f"/c/{KEY}/acknowledge", data={"unit": "s1", "artifact": "plan", "csrf": token})
    assert wrong_kind.status_code == 422 and 'id="task-problem"' in wrong_kind.text and "报送页面" in wrong_kind.text
    other_unit = client.post(f"/c/{KEY}/acknowledge", data={"unit": "s2", "artifact": "notice", "csrf": token})
    assert other_unit.status_code == 403 and 'id="task-problem"' in other_unit.text


def test_the_api_twin_lists_the_same_tasks(site):
    client = login(site, "s1user")
    doc = client.get("/api/v1/me/tasks").json()

    assert [t["artifact"] for t in doc["tasks"]] == ["notice", "plan", "meeting", "study", "issue_list"]
    assert doc["counts"]["rejected"] == 1
    assert login(site, "admin").get("/api/v1/me/tasks").json()["tasks"] == []


# --- in a real browser against `campaign serve` ---

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def spec_around(today: dt.date) -> str:
    """The campaign of the tests above, dated around today (the server reads the real clock)."""
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    dates = {"2023-02-14": d(-10), "2023-03-05": d(10), "2023-02-16": d(-3), "2023-03-03": d(2), "2023-03-04": d(5),
             "2023-03-20": d(15), "2023-03-06": d(11), "2023-03-31": d(25), "2023-04-05": d(20)}
    text = TASK_SPEC.replace("calendar: cn", "calendar: all-days")
    for old, new in dates.items():
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`campaign serve` over the campaign as it stands now: s1's plan sent back yesterday, the mobilization ticked."""
    from flows.tick import tick_direct

    home = tmp_path_factory.mktemp("tasks-browser")
    url = f"sqlite:///{home / 'campaign.db'}"
    now = dt.datetime.now(dt.UTC)
    ago = lambda days, actor: Act(now - dt.timedelta(days=days), actor, now)  # noqa: E731
    scan = home / "plan.pdf"
    scan.write_bytes(b"%PDF-1.4 plan")
    engine = open_engine(url)
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(spec_around(now.astimezone(SHANGHAI).date()), "tasks.yaml"),
                        ago(12, "admin"))
        add_user(conn, "li-sup", "supervisor", None, None, ago(12, "admin"), display_name="李组长")
        add_user(conn, "s1-head", "unit", "s1", PASSWORD, ago(12, "admin"), display_name="张校长")
        file_artifact(conn, BlobStore(home / "files"), KEY, "s1", "plan", ago(2, "s1-head"), files=[scan])
        review(conn, KEY, "s1", "plan", False, "缺少校长签字，请补签后重报", ago(1, "li-sup"))
        record_finding(conn, KEY, "s1", "值班记录缺失，需建立值班登记制度", (now - dt.timedelta(days=4)).date(),
                       ago(8, "li-sup"))
    engine.dispose()
    tick_direct(url, KEY, Act(now, "tick", now), str(home / "outbox.jsonl"))
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": url, "PYTHONPATH": str(ROOT)}
    with campaign_serve(env) as address:
        yield address


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def urgencies(page: Any) -> list[tuple[str, str]]:
    return [(li.get_attribute("data-artifact"), li.get_attribute("data-urgency"))
            for li in page.locator("#tasks > li").all()]


def test_a_school_sees_its_tasks_acknowledges_the_notice_and_goes_to_file(server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p, closing(p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                            args=["--no-sandbox", "--disable-gpu"])) as browser:
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(f"{server}/login")
        phone.fill("#name", "s1-head")
        phone.fill("#password", PASSWORD)
        phone.click("#login-submit")
        expect(phone.locator("h1")).to_have_text("我的待办")
        assert urgencies(phone) == [("notice", "overdue"), ("plan", "rejected"), ("meeting", "due_soon"),
                                    ("study", "open"), ("issue_list", "not_open")]
        expect(phone.locator("#count-overdue")).to_have_text("1")
        expect(phone.locator("#count-ledger")).to_have_text("1")
        expect(phone.locator(".rejection-comment")).to_contain_text("缺少校长签字")
        expect(phone.locator("#ledger-tasks")).to_contain_text("值班记录缺失")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "tasks-390")

        phone.locator('li[data-artifact="notice"] button.acknowledge-button').click()
        expect(phone.locator("#acknowledged")).to_be_visible()
        assert [a for a, _ in urgencies(phone)] == ["plan", "meeting", "study", "issue_list"]
        expect(phone.locator("#count-overdue")).to_have_text("0")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "tasks-390-acknowledged")

        phone.locator('li[data-artifact="plan"] a.file-link').click()
        expect(phone.locator("#filing-form")).to_be_visible()
        assert phone.locator("#artifact").input_value() == "plan" and phone.locator("#unit").input_value() == "s1"
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        shot(phone, "tasks-390-file-form")

        desk = browser.new_page(viewport={"width": 1280, "height": 900})
        desk.goto(f"{server}/login")
        desk.fill("#name", "s1-head")
        desk.fill("#password", PASSWORD)
        desk.click("#login-submit")
        expect(desk.locator("h1")).to_have_text("我的待办")
        assert [a for a, _ in urgencies(desk)] == ["plan", "meeting", "study", "issue_list"]
        assert desk.evaluate("document.documentElement.scrollWidth") <= 1280
        shot(desk, "tasks-1280")
        desk.locator('li[data-artifact="meeting"] a.file-link').click()
        expect(desk.locator("#filing-form")).to_be_visible()
        assert desk.locator("#artifact").input_value() == "meeting"
        desk.goto(f"{server}/?lang=en")
        expect(desk.locator("h1")).to_have_text("My tasks")
        shot(desk, "tasks-1280-en")
