"""In a real browser (Debian's Chromium through Playwright) against the real `campaign serve`: an administrator
waives one obligation from its matrix cell and forces one advance from the overview, each with a reason the
audit log then shows, and downloads a phase-audit XLSX from the reports page whose cells are read back.
Screenshots at 390 and 1280 px (the drawn timeline among them) go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .served import campaign_serve, cli

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
PASSWORD = "overrides-test-passw0rd"
KEY = "override-test"


def spec_around(today: dt.date) -> str:
    """Self-check runs now, the schools' issue lists due yesterday (so both are overdue), the summary next."""
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return f"""\
version: 1
key: {KEY}
title: 作风整顿（特批测试）
calendar: cn
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, tags: [学区]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校]}}
artifacts:
  report: {{title: 自查报告}}
  summary: {{title: 总结报告}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-20)}
    end: {d(10)}
    steps:
      - key: report
        title: 报送自查报告
        due: {d(-1)}
        requires:
          - {{artifact: report, from: tag:学校}}
  - key: summary
    title: 总结提高
    kind: summary
    start: {d(11)}
    end: {d(40)}
    steps:
      - key: summary
        title: 总结报告
        due: end
        requires:
          - {{artifact: summary, from: organizer}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("overrides-home")
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": f"sqlite:///{home / 'campaign.db'}",
           "PYTHONPATH": str(ROOT), "CAMPAIGN_ACTOR": "测试"}
    spec = home / "spec.yaml"
    spec.write_text(spec_around(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()), encoding="utf-8")
    cli(env, "create", str(spec))
    cli(env, "tick", KEY)  # opens self-check and marks the issue lists overdue
    cli(env, "user", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    with campaign_serve(env) as address:
        yield address


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        yield b
        b.close()


def log_in(page: Page, server: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#name", "admin")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_be_visible()


def shots(browser: Browser, server: str, path: str, name: str) -> None:
    """The page at a phone's width and a desktop's, logged in."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        page = browser.new_page(viewport={"width": width, "height": 900})
        log_in(page, server)
        page.goto(server + path)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        page.close()


def test_an_admin_waives_from_the_matrix_forces_an_advance_and_downloads_the_phase_audit(server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, server)

    # the overview: the timeline drawn to scale, and the override the unmet gate calls for
    page.goto(f"{server}/c/{KEY}")
    expect(page.locator("#timeline svg.timeline-chart")).to_be_visible()
    expect(page.locator("#timeline g.today")).to_have_count(1)
    expect(page.locator("#advance-missing li")).to_have_count(2)
    shots(browser, server, f"/c/{KEY}", "overrides-overview")

    # 免报 from the matrix: the overdue cell of 第一小学 opens its waiver
    page.goto(f"{server}/c/{KEY}/matrix")
    page.click("td[data-unit=s1][data-artifact=report] a.waive-link")
    expect(page.locator("#waive-what")).to_contain_text("第一小学")
    expect(page.locator("#waive-what")).to_contain_text("自查报告")
    shots(browser, server, page.url.removeprefix(server), "overrides-waive")
    page.click("#waive-submit")  # no reason: the browser itself asks for one (required), nothing is sent
    expect(page.locator("#waive-form")).to_be_visible()
    page.fill("#waive-reason", "该校并入第二小学，经局务会同意免报")
    page.click("#waive-submit")
    expect(page.locator("#waive-result")).to_be_visible()
    expect(page.locator("td[data-unit=s1][data-artifact=report]")).to_contain_text("免报")
    expect(page.locator("td[data-unit=s2][data-artifact=report] a.waive-link")).to_be_visible()
    shots(browser, server, f"/c/{KEY}/matrix", "overrides-matrix")

    # 特批转段 from the overview: 第二小学 is still missing
    page.goto(f"{server}/c/{KEY}")
    expect(page.locator("#advance-missing")).to_contain_text("第二小学")
    page.fill("#advance-reason", "局党组会议研究同意转段")
    page.click("#advance-submit")
    expect(page.locator("#advance-result")).to_be_visible()
    expect(page.locator("tr[data-phase=self_check] .forced")).to_be_visible()
    expect(page.locator("tr[data-phase=self_check] .badge")).to_contain_text("已完成")

    # both reasons are in the audit log
    page.goto(f"{server}/audit?campaign={KEY}")
    expect(page.locator("main")).to_contain_text("该校并入第二小学，经局务会同意免报")
    expect(page.locator("main")).to_contain_text("局党组会议研究同意转段")

    # the phase audit of self-check, as XLSX, read back
    page.goto(f"{server}/c/{KEY}/reports")
    shots(browser, server, f"/c/{KEY}/reports", "reports-page")
    page.select_option("#phase-audit-phase", "self_check")
    with page.expect_download() as done:
        page.click("#phase-audit-download")
    download = done.value
    assert download.suggested_filename.startswith("作风整顿（特批测试）-阶段完成情况审计-自查自纠-")
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "audit.xlsx"
    download.save_as(saved)
    book = openpyxl.load_workbook(saved)
    rows = [[c for c in row] for ws in book.worksheets for row in ws.iter_rows(values_only=True)]
    s1 = next(r for r in rows if "第一小学" in r)
    s2 = next(r for r in rows if "第二小学" in r)
    assert "免报" in s1 and "该校并入第二小学，经局务会同意免报" in s1
    assert "逾期未报" in s2
    assert any("特批转段" in str(c) for r in rows for c in r if c) and any("局党组会议研究同意转段" in str(c)
                                                                   for r in rows for c in r if c)
    page.close()
