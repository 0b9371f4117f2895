"""The units page (/c/{key}/units) and a unit's page: who may see and change what, the forms' answers, the
import's preview with its row errors; then the whole thing in Debian's Chromium against a real
`campaign serve`: an administrator imports an XLSX with a bad row (sees the row and column, nothing imported),
uploads the corrected file, confirms, and renames, moves and closes units.

The HTTP tests carry bearer tokens (the pages take them as the API does; CSRF is a session's matter, and
the browser test goes through the login form and the forms' CSRF fields).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaign_model.store.db import open_engine
from campaign_model.store.tables import audit_events, obligations, units

from .served import campaign_serve, cli
from .web_support import HTTPX_WARNING, account, bearer, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

C = "small-2023"
ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
ROLES = {"admin": ("admin", None), "sup": ("supervisor", None), "viewer": ("viewer", None),
         "d1user": ("unit", "d1"), "s1user": ("unit", "s1")}


class Site:
    def __init__(self, engine: Any, home: Path):
        self.engine = engine
        self.client = serve(engine, home)
        self.tokens = {name: account(engine, name, role, unit) for name, (role, unit) in ROLES.items()}

    def get(self, who: str, url: str) -> Any:
        return self.client.get(url, headers=bearer(self.tokens[who]))

    def post(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers=bearer(self.tokens[who]), follow_redirects=False, **kw)

    def state(self) -> tuple[Any, ...]:
        with self.engine.connect() as conn:
            return (conn.execute(select(units).order_by(units.c.id)).all(),
                    conn.execute(select(obligations).order_by(obligations.c.id)).all(),
                    conn.execute(select(audit_events.c.seq)).all())


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    engine = open_engine(f"sqlite:///{tmp_path / 'campaign.db'}")
    new_campaign(engine)
    yield Site(engine, tmp_path / "home")
    engine.dispose()


def xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


HEADER = ["单位代码", "单位名称", "上级单位", "标签", "联系人", "职务", "电话", "邮箱"]
CURRENT = [["bureau", "教育局", None, None], ["d1", "城关学区", "bureau", "学区"],
           ["s1", "第一小学", "d1", "学校", "张校长", None, None, "s1@example.cn"], ["s2", "第二小学", "d1", "学校"]]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


CHANGING = [("/c/small-2023/units", {"unit_key": "s9", "name": "第九小学"}),
            ("/c/small-2023/units/s1/rename", {"name": "改名"}),
            ("/c/small-2023/units/s1/move", {"parent": "bureau"}),
            ("/c/small-2023/units/s2/merge", {"into": "s1", "reason": "合并"}),
            ("/c/small-2023/units/s2/close", {"reason": "停办"}),
            ("/c/small-2023/units/s1/contacts", {"contact_name": "谁"}),
            ("/c/small-2023/units/import/confirm", {"sha256": "0" * 64, "name": "u.csv", "suffix": ".csv"})]


def test_only_the_administrator_may_change_units(site):
    before = site.state()
    for who in ("sup", "viewer", "d1user", "s1user"):
        for url, data in CHANGING:
            assert site.post(who, url, data=data).status_code == 403, (who, url)
        answer = site.post(who, "/c/small-2023/units/import",
                           files={"file": ("u.csv", "单位代码,单位名称\nx,y\n".encode(), "text/csv")})
        assert answer.status_code == 403
        assert site.get(who, "/c/small-2023/units.xlsx").status_code == 403
        page = site.get(who, "/c/small-2023/units").text
        assert 'id="add-form"' not in page and 'id="import-form"' not in page
        assert 'id="close-form"' not in site.get(who if who != "s1user" else "s1user", "/c/small-2023/units/s1").text
    assert site.state() == before


def test_a_unit_user_sees_its_subtree_and_no_other_units_contacts(site):
    d1 = site.get("d1user", "/c/small-2023/units").text
    assert 'data-unit="d1"' in d1 and 'data-unit="s1"' in d1 and 'data-unit="s2"' in d1
    assert 'data-unit="bureau"' not in d1
    assert "张校长" not in d1 and "s1@example.cn" not in d1  # s1's contact is not the 学区's to see
    assert "张校长" not in site.get("d1user", "/c/small-2023/units/s1").text
    s1 = site.get("s1user", "/c/small-2023/units").text
    assert "张校长" in s1 and 'data-unit="s2"' not in s1
    assert site.get("s1user", "/c/small-2023/units/s2").status_code == 403
    admin = site.get("admin", "/c/small-2023/units").text
    assert "s1@example.cn" in admin and 'data-unit="bureau"' in admin


def test_close_without_a_reason_is_refused_on_the_page_and_with_one_waives(site):
    before = site.state()
    refused = site.post("admin", "/c/small-2023/units/s2/close", data={"reason": "  "})
    assert refused.status_code == 422
    assert 'id="unit-error"' in refused.text and 'data-field="reason"' in refused.text
    assert site.state() == before

    done = site.post("admin", "/c/small-2023/units/s2/close", data={"reason": "学校停办"})
    assert done.status_code == 303 and done.headers["location"].startswith("/c/small-2023/units/s2?done=closed")
    page = site.get("admin", done.headers["location"]).text
    assert "已撤销，未报材料免报 2 项" in page and page.count("学校停办") >= 3  # the reason, on each waived row
    tree = site.get("admin", "/c/small-2023/units").text
    assert "已撤销" in tree and "学校停办" in tree
    matrix = site.get("admin", "/c/small-2023/matrix").text
    assert 'data-closed-unit="s2"' in matrix and matrix.count("学校停办") >= 3  # the unit's reason, and each cell's
    assert "学校停办" not in site.get("d1user", "/c/small-2023/matrix").text  # beyond a unit user's scope


def test_a_move_that_would_loop_is_refused_naming_the_parent_field(site):
    answer = site.post("admin", "/c/small-2023/units/d1/move", data={"parent": "s1"})
    assert answer.status_code == 422 and 'data-field="parent"' in answer.text and "成环" in answer.text


def test_add_form_errors_keep_what_was_typed(site):
    answer = site.post("admin", "/c/small-2023/units", data={"unit_key": "s1", "name": "又一所", "email": "x@y.cn"})
    assert answer.status_code == 422 and 'data-field="contact"' in answer.text and 'value="又一所"' in answer.text
    answer = site.post("admin", "/c/small-2023/units", data={"unit_key": "s1", "name": "又一所"})
    assert answer.status_code == 409 and "第一小学" in answer.text and 'data-field="unit_key"' in answer.text
    added = site.post("admin", "/c/small-2023/units", data={"unit_key": "s3", "name": "第三小学", "parent": "d1",
                                                            "tags": "学校", "contact": "赵校长", "phone": "0931-1"})
    assert added.status_code == 303
    assert "已新增，应报材料 2 项" in site.get("admin", added.headers["location"]).text


def test_import_shows_each_row_error_and_imports_nothing_then_the_corrected_list_applies(site):
    bad = xlsx([["XX县教育局单位名单"], HEADER, *CURRENT, ["s3", "第三小学", "城西学区", "学校"],
                ["s4", None, "d1", "学校", None, None, None, "s4@example.cn"]])
    before = site.state()
    answer = site.post("admin", "/c/small-2023/units/import", files={"file": ("单位名单.xlsx", bad, XLSX_TYPE)})
    assert answer.status_code == 422
    page = answer.text
    assert 'id="import-problems"' in page and 'id="confirm-form"' not in page
    assert 'data-row="7" data-column="上级单位"' in page and "城西学区" in page  # the workbook's own row 7
    assert 'data-row="8" data-column="单位名称"' in page and 'data-row="8" data-column="邮箱"' in page
    assert site.state() == before

    good = xlsx([HEADER, *CURRENT, ["s3", "第三小学", "城关学区", "学校"]])
    preview = site.post("admin", "/c/small-2023/units/import", files={"file": ("单位名单.xlsx", good, XLSX_TYPE)})
    assert preview.status_code == 200 and 'id="confirm-form"' in preview.text and "第三小学 (s3)" in preview.text
    assert site.state() == before
    from .test_pages import elements

    hidden = {e["name"]: e["value"] for e in elements(preview.text, tag="input", type="hidden")}
    confirmed = site.post("admin", "/c/small-2023/units/import/confirm", data=hidden)
    assert confirmed.status_code == 303 and "added=1" in confirmed.headers["location"]
    assert 'data-unit="s3"' in site.get("admin", "/c/small-2023/units").text


def test_the_units_workbook_reads_back_as_the_current_units(site, tmp_path):
    from campaign_model.unitfile import read_units

    answer = site.get("admin", "/c/small-2023/units.xlsx")
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX_TYPE
    path = tmp_path / "units.xlsx"
    path.write_bytes(answer.content)
    listed = {u.key: u for u in read_units(path)}
    assert sorted(listed) == ["bureau", "d1", "s1", "s2"]
    assert listed["s1"].parent == "d1" and listed["s1"].tags == ["学校"]
    assert listed["s1"].contacts[0].email == "s1@example.cn"


# --- in the browser, against `campaign serve` ---

PASSWORD = "units-page-passw0rd"


def spec_around(today: dt.date) -> str:
    d = lambda n: (today + dt.timedelta(days=n)).isoformat()  # noqa: E731
    return f"""\
version: 1
key: units-test
title: 作风整顿（单位管理测试）
calendar: all-days
organizer: bureau
units:
  - {{key: bureau, name: 教育局}}
  - {{key: d1, name: 城关学区, parent: bureau, tags: [学区]}}
  - {{key: s1, name: 第一小学, parent: d1, tags: [学校], contacts: [{{name: 张校长, role: 校长, email: s1@example.cn}}]}}
  - {{key: s2, name: 第二小学, parent: d1, tags: [学校]}}
artifacts:
  plan: {{title: 实施方案}}
phases:
  - key: self_check
    title: 自查自纠
    kind: self_check
    start: {d(-5)}
    end: {d(20)}
    steps:
      - key: plan
        title: 实施方案
        due: {d(3)}
        requires:
          - {{artifact: plan, from: tag:学校}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("units-home")
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": f"sqlite:///{home / 'campaign.db'}",
           "PYTHONPATH": str(ROOT), "CAMPAIGN_ACTOR": "局办公室"}
    spec = home / "spec.yaml"
    spec.write_text(spec_around(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()), encoding="utf-8")
    cli(env, "create", str(spec))
    cli(env, "user", "add", "admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    with campaign_serve(env) as address:
        yield address


def test_admin_imports_fixes_confirms_renames_moves_and_closes_in_the_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    bad, good = tmp_path / "bad" / "单位名单.xlsx", tmp_path / "good" / "单位名单.xlsx"
    bad.parent.mkdir()
    good.parent.mkdir()
    listed = [HEADER, *CURRENT, ["d2", "城西学区", "bureau", "学区"], ["s3", "第三小学", "城关学区", "学校", "赵校长", "校长",
                                                                    "13900000000", "s3@example.cn"]]
    bad.write_bytes(xlsx([*listed, ["s4", "第四小学", "城南学区", "学校"]]))
    good.write_bytes(xlsx([*listed, ["s4", "第四小学", "城关学区", "学校"]]))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server}/login")
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        expect(page.locator("#current-user")).to_be_visible()
        page.goto(f"{server}/c/units-test")
        page.click("#nav-units")
        expect(page.locator("#unit-s1")).to_contain_text("张校长")

        # a bad row: its row number and column shown, nothing imported
        page.set_input_files("#import-file", str(bad))
        page.click("#import-preview")
        problems = page.locator("#import-problems")
        expect(problems).to_contain_text("第 8 行")
        expect(problems).to_contain_text("上级单位")
        expect(problems).to_contain_text("城南学区")
        expect(page.locator("#confirm-form")).to_have_count(0)
        page.screenshot(path=str(SHOTS / "units-import-error-1280.png"), full_page=True)
        page.goto(f"{server}/c/units-test/units")
        expect(page.locator("#unit-s3")).to_have_count(0)

        # corrected: the preview, then confirmed
        page.set_input_files("#import-file", str(good))
        page.click("#import-preview")
        expect(page.locator("#preview-added")).to_contain_text("第三小学 (s3)")
        expect(page.locator("#preview-added")).to_contain_text("城西学区 (d2)")
        page.click("#import-confirm")
        expect(page.locator("#units-ok")).to_contain_text("新增 3")
        expect(page.locator("#unit-d1 #unit-s3")).to_contain_text("赵校长")

        # rename s3, move s4 under the new 学区, close s2 with a reason
        page.click("#unit-s3 .unit-link")
        page.fill("#rename-name", "城关第三小学")
        page.click("#rename-submit")
        expect(page.locator("#unit-ok")).to_contain_text("已改名")
        expect(page.locator("h1")).to_contain_text("城关第三小学")
        page.goto(f"{server}/c/units-test/units/s4")
        page.select_option("#move-parent", "d2")
        page.fill("#move-reason", "划入城西学区")
        page.click("#move-submit")
        expect(page.locator("#unit-parent")).to_contain_text("城西学区")
        page.goto(f"{server}/c/units-test/units/s2")
        page.click("#close-submit")  # the reason is required: the browser keeps the form
        expect(page.locator("#unit-ok")).to_have_count(0)
        page.fill("#close-reason", "学校停办，学生并入第一小学")
        page.click("#close-submit")
        expect(page.locator("#unit-ok")).to_contain_text("已撤销")
        row = page.locator("#unit-obligations tr[data-artifact=plan]")
        expect(row).to_contain_text("免报")
        expect(row).to_contain_text("学校停办，学生并入第一小学")
        page.screenshot(path=str(SHOTS / "units-closed-unit-1280.png"), full_page=True)

        page.goto(f"{server}/c/units-test/units")
        expect(page.locator("#unit-d2 #unit-s4")).to_be_visible()
        expect(page.locator("#unit-s2")).to_contain_text("学校停办")
        page.screenshot(path=str(SHOTS / "units-tree-1280.png"), full_page=True)
        page.goto(f"{server}/c/units-test/matrix")
        expect(page.locator("tr[data-unit=s4]")).to_be_visible()
        expect(page.locator("tr[data-unit=s2]")).to_have_count(0)  # a closed unit leaves the rows and counts,
        closed = page.locator("tr[data-closed-unit=s2]")  # and is listed apart, its obligations waived with the reason
        expect(closed.locator("td[data-artifact=plan]")).to_contain_text("免报")
        expect(closed.locator("td[data-artifact=plan]")).to_contain_text("学校停办，学生并入第一小学")
        page.screenshot(path=str(SHOTS / "units-matrix-closed-1280.png"), full_page=True)

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{server}/c/units-test/units")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(SHOTS / "units-tree-390.png"), full_page=True)
        phone.goto(f"{server}/c/units-test/units/s1")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(SHOTS / "units-unit-390.png"), full_page=True)
        browser.close()
