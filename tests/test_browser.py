"""The dashboard in a real browser: Debian's Chromium driven by Playwright against `campaign serve`.

The server is the real command in a subprocess, on a loopback port, over a campaign dated around
today (it reads the real clock). Screenshots go to test-artifacts/screenshots/ (CAMPAIGN_TEST_ARTIFACTS
to change it) so that a failed run can be looked at.
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
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .served import campaign_serve, cli

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-test-passw0rd"


def spec_around(today: dt.date) -> str:
    """A campaign whose self-check phase runs now, with the issue list due in three days."""
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return f"""\
version: 1
key: browser-test
title: 作风整顿（浏览器测试）
calendar: all-days
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, tags: [学区]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校]}}
artifacts:
  issue_list:
    title: 问题清单
    rows:
      problem: {{title: 问题, required: true}}
      measure: {{title: 整改措施}}
      deadline: {{title: 整改时限, type: date, required: true}}
  summary: {{title: 总结报告}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-5)}
    end: {d(20)}
    steps:
      - key: issues
        title: 问题清单
        due: {d(3)}
        requires:
          - {{artifact: issue_list, from: tag:学校, signoff: true}}
  - key: summary
    title: 总结提高
    kind: summary
    start: {d(21)}
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
    home = tmp_path_factory.mktemp("browser-home")
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": f"sqlite:///{home / 'campaign.db'}",
           "PYTHONPATH": str(ROOT)}
    spec = home / "spec.yaml"
    spec.write_text(spec_around(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()), encoding="utf-8")
    cli(env, "create", str(spec))
    cli(env, "user", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    cli(env, "user", "add", "s1-head", "--role", "unit", "--unit", "s1", "--display-name", "张校长",
              "--password-stdin", stdin=PASSWORD + "\n")
    with campaign_serve(env) as address:
        yield address


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                                    "--no-first-run"])
        yield b
        b.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, server: str, name: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_be_visible()


def test_a_unit_files_its_issue_list_and_the_admin_sees_the_matrix_turn_green(server, browser, tmp_path):
    scan = tmp_path / "签字盖章扫描件.pdf"
    scan.write_bytes(b"%PDF-1.4 signed and stamped\n%%EOF\n")
    bad = tmp_path / "问题清单.csv"
    bad.write_text("问题,整改措施,整改时限\n会议多落实少,建立督办制度,2026-12-31\n公文运转慢,限时办结,下月底\n", encoding="utf-8")
    good = tmp_path / "问题清单-改.csv"
    good.write_text("问题,整改措施,整改时限\n会议多落实少,建立督办制度,2026-12-31\n公文运转慢,限时办结,2027-01-31\n",
                    encoding="utf-8")
    errors: list[str] = []

    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, server, "s1-head")
    page.goto(f"{server}/c/browser-test/file")
    page.select_option("#artifact", "issue_list")
    page.fill("#signed_by", "张校长")
    page.set_input_files("#files", str(scan))
    page.set_input_files("#rows", str(bad))
    page.click("#file-submit")
    problems = page.locator("#filing-errors")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("第 3 行")
    expect(problems).to_contain_text("下月底")
    shot(page, "1-unit-issue-list-row-error")

    page.select_option("#artifact", "issue_list")
    page.fill("#signed_by", "张校长")
    page.set_input_files("#files", str(scan))
    page.set_input_files("#rows", str(good))
    page.click("#file-submit")
    expect(page.locator("#filing-ok")).to_be_visible()
    shot(page, "2-unit-issue-list-filed")

    # the unit user's matrix shows its own unit only
    page.goto(f"{server}/c/browser-test/matrix")
    expect(page.locator('#matrix td[data-unit="s2"]')).to_have_count(0)
    context.close()

    admin = browser.new_context(locale="zh-CN").new_page()
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(admin, server, "admin")
    admin.goto(f"{server}/c/browser-test/matrix")
    cell = admin.locator('#matrix td[data-unit="s1"][data-artifact="issue_list"]')
    expect(cell).to_have_class(re.compile(r"\blight-green\b"))
    expect(admin.locator('#matrix td[data-unit="s2"][data-artifact="issue_list"]')).to_have_class(
        re.compile(r"\blight-(yellow|none)\b"))
    shot(admin, "3-admin-matrix-green")

    admin.goto(f"{server}/c/browser-test/ledger")
    expect(admin.locator("#ledger")).to_contain_text("公文运转慢")
    shot(admin, "4-admin-ledger")
    assert errors == []


def test_the_public_board_needs_no_login_and_shows_no_names(server, browser):
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(f"{server}/public/browser-test")
    board = page.locator("#public-board")
    expect(board).to_be_visible()
    expect(board).to_contain_text("自查自纠")
    text = board.inner_text()
    assert "张校长" not in text and "会议多落实少" not in text
    shot(page, "5-public-board")


def test_the_dashboard_switches_to_english_and_back(server, browser):
    page = browser.new_context(locale="zh-CN").new_page()
    log_in(page, server, "admin")
    page.goto(f"{server}/c/browser-test")
    expect(page.locator("#timeline")).to_be_visible()
    page.click("#lang-switch")
    expect(page.locator("#logout")).to_have_text("Log out")
    shot(page, "6-overview-english")
    page.click("#lang-switch")
    expect(page.locator("#logout")).to_have_text("退出")


def test_a_page_without_a_session_sends_the_browser_to_the_login_form(server, browser):
    page = browser.new_context().new_page()
    page.goto(f"{server}/c/browser-test/matrix")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("#login-submit")).to_be_visible()
