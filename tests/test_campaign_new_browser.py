"""新建活动 in Debian's Chromium against a real `campaign serve`: the administrator starts from the
zuofeng-2023 template re-dated to 2027, sees the holiday-data warning, moves a step's relative due date
and sees the resolved date and weekday change before saving, saves, has an invalid window refused with
the message beside the field, corrects it, and creates the campaign, whose obligations carry the edited
due date. Screenshots at 390 and 1280 px go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from campaign_model.store.accounts import add_user
from campaign_model.store.audit import Act
from campaign_model.store.db import open_engine
from campaign_model.store.tables import campaigns, obligations

from .served import ROOT, campaign_serve

SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
PASSWORD = "qingfeng-2024"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("new-campaign-browser")
    url = f"sqlite:///{home / 'campaign.db'}"
    now = dt.datetime.now(dt.UTC)
    engine = open_engine(url)
    with engine.begin() as conn:
        add_user(conn, "ban", "admin", None, PASSWORD, Act(now, "setup", now), display_name="局办公室王主任")
    engine.dispose()
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": url, "PYTHONPATH": str(ROOT)}
    with campaign_serve(env) as address:
        yield address, url


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Any, address: str) -> None:
    page.goto(f"{address}/login")
    page.fill("#name", "ban")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")


def fits(page: Any, width: int) -> bool:
    return bool(page.evaluate(f"document.documentElement.scrollWidth <= {width}"))


def test_an_administrator_creates_a_campaign_from_a_template_in_the_browser(server):
    from playwright.sync_api import expect, sync_playwright

    address, url = server
    with sync_playwright() as p, closing(p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                            args=["--no-sandbox", "--disable-gpu"])) as browser:
        desk = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(desk, address)
        desk.click("#new-campaign")
        expect(desk.locator("h1")).to_have_text("新建活动")
        desk.check("#template-zuofeng-2023")
        desk.fill("#template-year", "2027")
        shot(desk, "campaign-new-1280")
        desk.click("#template-submit")

        # the editor: the warning beside the calendar, the plan's due date resolved
        expect(desk.locator("#spec-valid")).to_be_visible()
        expect(desk.locator("#f-calendar-problem-1")).to_contain_text("2027 年尚无官方节假日数据")
        due = "#f-phases-0-steps-1-due"
        expect(desk.locator(f"{due}-count")).to_have_value("10")
        expect(desk.locator(f"{due}-resolved")).to_have_text("＝2027-03-01 星期一 23:59")
        draft = desk.url

        # start + 12 workdays: resolved at once, nothing saved yet
        desk.fill(f"{due}-count", "12")
        expect(desk.locator(f"{due}-resolved")).to_have_text("＝2027-03-03 星期三 23:59")
        stored = yaml.safe_load(desk.request.get(f"{draft}/spec.yaml").text())
        assert stored["phases"][0]["steps"][1]["due"] == "start + 10 workdays"
        desk.locator(f"{due}-resolved").scroll_into_view_if_needed()
        shot(desk, "draft-editor-1280-resolved")
        desk.click("#save")
        expect(desk.locator("#saved")).to_be_visible()
        expect(desk.locator(f"{due}-resolved")).to_have_text("＝2027-03-03 星期三 23:59")
        stored = yaml.safe_load(desk.request.get(f"{draft.split('?')[0]}/spec.yaml").text())
        assert stored["phases"][0]["steps"][1]["due"] == "start + 12 workdays"

        # a window that ends before it starts is refused, the message beside the end date
        desk.fill("#f-phases-0-end", "2027-02-01")
        desk.click("#save")
        expect(desk.locator("#refused")).to_be_visible()
        expect(desk.locator("#f-phases-0-end-problem-1")).to_contain_text("结束日期 2027-02-01 早于开始日期 2027-02-15")
        expect(desk.locator("#f-phases-0-end")).to_have_attribute("aria-invalid", "true")
        expect(desk.locator("#create-campaign")).to_be_disabled()
        desk.locator("#f-phases-0-end").scroll_into_view_if_needed()
        shot(desk, "draft-editor-1280-refused")
        desk.fill("#f-phases-0-end", "2027-03-05")
        desk.click("#save")
        expect(desk.locator("#saved")).to_be_visible()
        expect(desk.locator("#create-campaign")).to_be_enabled()
        assert fits(desk, 1280)

        desk.click("#create-campaign")
        expect(desk.locator("h1")).to_have_text("2027年教文广新体系统干部作风整顿")
        assert "/c/zuofeng-2027" in desk.url
        shot(desk, "campaign-created-1280")

        # on a phone: the new page and the editor fit, and read in English too
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        log_in(phone, address)
        phone.goto(f"{address}/campaigns/new")
        assert fits(phone, 390)
        shot(phone, "campaign-new-390")
        phone.check("#template-xuexishijian")
        phone.fill("#template-year", "2027")
        phone.click("#template-submit")
        expect(phone.locator("#spec-valid")).to_be_visible()
        assert fits(phone, 390)
        shot(phone, "draft-editor-390")
        phone.fill("#f-phases-0-steps-0-due-count", "3")
        expect(phone.locator("#f-phases-0-steps-0-due-resolved")).to_contain_text("星期")
        phone.goto(phone.url.split("?")[0] + "?lang=en")
        expect(phone.locator("h1")).to_contain_text("Timeline editor")
        assert fits(phone, 390)
        shot(phone, "draft-editor-390-en")

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            cid = conn.execute(select(campaigns.c.id).where(campaigns.c.key == "zuofeng-2027")).scalar_one()
            dues = {r.due_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M") for r in conn.execute(
                select(obligations.c.due_at).where(obligations.c.campaign_id == cid,
                                                   obligations.c.artifact == "implementation_plan"))}
    finally:
        engine.dispose()
    assert dues == {"2027-03-03 23:59"}
