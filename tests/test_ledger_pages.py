"""The ledger's pages (整改台账) through HTTP as a browser uses them: the list filtered and paged by the
database, an item's page for each role, the evidence previewed inline only when it is a PDF, PNG or
JPEG (by name and by content), and a supervision finding (督查发现) recorded from the browser.

The site is test_pages' (the small campaign on a real SQLite file, ticked at 2023-03-10 10:00, the
server's clock); the items are supervision findings stored as the use case stores them.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import event, select

from campaign_model.store.ledger import record_finding, update_item
from campaign_model.store.tables import ledger_items

from .conftest import local
from .served import campaign_serve, cli
from .test_pages import PDF, C, act, csrf_of, elements, has_id, prepared, site  # noqa: F401 - fixtures

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FOUND = local("2023-03-01T10:00")


def _find(site: Any, unit: str, problem: str, deadline: dt.date | None, *, category: str | None = None,
          source: str = "supervision", long_term: bool = False, at: dt.datetime = FOUND) -> int:
    with site.engine.begin() as conn:
        return int(record_finding(conn, C, unit, problem, deadline, act(at, "sup"), category=category,
                                  source=source, long_term=long_term)["id"])


def rows(html: str) -> list[dict[str, Any]]:
    return [tr for tr in elements(html, tag="tr") if "data-item" in tr]


def ids(html: str) -> list[int]:
    return [int(tr["data-item"]) for tr in rows(html)]


@pytest.fixture
def many(site) -> dict[str, list[int]]:
    """120 items: s1 has 70 (20 overdue, category 松, source supervision; 50 due later, category 散,
    source mass_opinion), s2 has 50 (self_check, due later, 10 of them reported in progress)."""
    made: dict[str, list[int]] = {"late": [], "s1later": [], "s2": []}
    for n in range(20):
        made["late"].append(_find(site, "s1", f"会议多、落实少 第{n}项", dt.date(2023, 3, 5), category="松"))
    for n in range(50):
        made["s1later"].append(_find(site, "s1", f"群众反映办事拖拉 第{n}项", dt.date(2023, 4, 30), category="散",
                                     source="mass_opinion"))
    for n in range(50):
        made["s2"].append(_find(site, "s2", f"自查问题 第{n}项", dt.date(2023, 5, 31), source="self_check"))
    with site.engine.begin() as conn:
        for item in made["s2"][:10]:
            update_item(conn, _blobs(site), item, "in_progress", "已制定方案", [], act(local("2023-03-02T09:00"), "s2user"))
    return made


# --- the list: filtered, counted and paged by the database ---

def test_the_list_pages_fifty_items_with_counts_per_state_and_no_history_loaded(site, many):
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    admin = site.login("admin")
    event.listen(site.engine, "before_cursor_execute", seen)
    try:
        page = admin.get(f"/c/{C}/ledger").text
    finally:
        event.remove(site.engine, "before_cursor_execute", seen)

    assert len(rows(page)) == 50 and len(set(ids(page))) == 50
    assert ids(page)[:20] == many["late"]  # owed work first, the earliest deadline first
    listing = [s for s in statements if "FROM ledger_items" in s and "LIMIT" in s]
    assert listing and all("ledger_events" not in s for s in statements)  # compact rows: no history read
    assert "共 120 条" in page and "第 1 / 3 页" in page
    counts = {a["id"]: a for a in elements(page, tag="a") if a.get("id", "").startswith("count-")}
    text = page.split('id="ledger-counts"')[1].split("</nav>")[0]
    assert re.search(r"未整改 <b>110</b>", text) and re.search(r"整改中 <b>10</b>", text)
    assert re.search(r"逾期 <b>20</b>", text) and counts["count-overdue"]["href"] == f"/c/{C}/ledger?overdue=yes"

    last = admin.get(f"/c/{C}/ledger", params={"page": 3}).text
    assert len(rows(last)) == 20 and not set(ids(last)) & set(ids(page))
    assert admin.get(f"/c/{C}/ledger", params={"page": 99}).text.count('data-item="') == 20  # past the end: the last
    assert admin.get(f"/c/{C}/ledger", params={"page": 0}).status_code == 422
    assert admin.get(f"/c/{C}/ledger", params={"page": 10**12}).status_code == 422


def test_each_filter_narrows_the_list_and_the_links_keep_the_filters(site, many):
    admin = site.login("admin")
    get = lambda **q: admin.get(f"/c/{C}/ledger", params=q).text  # noqa: E731 - in Chinese, the cookie's default

    assert sorted(ids(get(overdue="yes"))) == many["late"]
    assert ids(get(overdue="yes", unit="s2")) == []
    assert sorted(ids(get(category="散"))) == many["s1later"]
    assert sorted(ids(get(source="self_check", state="in_progress"))) == many["s2"][:10]
    s1 = get(unit="s1")
    assert "共 70 条" in s1 and {tr["data-unit"] for tr in rows(s1)} == {"s1"}
    assert re.search(r'<option value="s1" selected>', s1)
    assert "逾期 <b>20</b>" in s1.split('id="ledger-counts"')[1]

    # the overdue mark says by how many days (due 03-05, the site's clock 03-10)
    late = get(overdue="yes")
    assert "逾期 5 天" in late and "5 days overdue" in site.login("admin").get(f"/c/{C}/ledger?overdue=yes&lang=en").text
    # the source in words, the problem cut short in the row and whole in its title, the row links to its page
    row = get(source="supervision").split(f'id="item-{many["late"][0]}"')[1].split("</tr>")[0]
    assert "督查发现" in row and f'href="/c/{C}/ledger/{many["late"][0]}"' in row

    # the pager and the language switch keep every filter
    page = get(unit="s1", source="mass_opinion")
    assert "共 50 条" in page and not has_id(page, "ledger-pager")
    page = get(unit="s1")
    nxt = parse_qs(urlsplit(elements(page, id="page-next")[0]["href"]).query)
    assert nxt == {"unit": ["s1"], "page": ["2"]}
    switch = parse_qs(urlsplit(elements(site.login("admin").get(f"/c/{C}/ledger?unit=s1&overdue=yes&page=1").text,
                                        id="lang-switch")[0]["href"]).query)
    assert switch == {"unit": ["s1"], "overdue": ["yes"], "page": ["1"], "lang": ["en"]}
    state_link = parse_qs(urlsplit(elements(page, id="count-in_progress")[0]["href"]).query)
    assert state_link == {"unit": ["s1"], "state": ["in_progress"]}


def test_a_unit_user_lists_only_its_own_items_and_may_not_filter_to_another_unit(site, many):
    school = site.login("s2user")
    page = school.get(f"/c/{C}/ledger").text
    assert "共 50 条" in page and {tr["data-unit"] for tr in rows(page)} == {"s2"}
    assert [o["value"] for o in elements(page, tag="option") if o.get("value") in ("s1", "s2")] == ["s2"]
    assert school.get(f"/c/{C}/ledger", params={"unit": "s1"}).status_code == 403
    assert "共 120 条" in site.login("d1user").get(f"/c/{C}/ledger").text  # the 学区 sees both schools
    assert not has_id(page, "finding-form")


# --- an item's page ---

@pytest.fixture
def item(site) -> int:
    return _find(site, "s1", "食堂采购未按规定公示", dt.date(2023, 3, 5), category="散")


@pytest.mark.parametrize("user, status", [("admin", 200), ("sup", 200), ("viewer", 200), ("d1user", 200),
                                          ("s1user", 200), ("s2user", 403), ("stranger", 403)])
def test_an_items_page_shows_the_whole_item_to_those_who_may_see_it(site, item, user, status):
    answer = site.login(user).get(f"/c/{C}/ledger/{item}")

    assert answer.status_code == status
    if status == 200:
        page = answer.text
        assert page.split('id="item-problem">')[1].startswith("食堂采购未按规定公示")
        assert has_id(page, "history") and "督查发现" in page and "逾期 5 天" in page
        assert has_id(page, "progress-form") == (user in ("admin", "s1user", "d1user"))
        assert not has_id(page, "verify-form")  # nothing to verify while the item is open
    else:
        assert "食堂采购" not in answer.text


def test_an_item_elsewhere_or_nowhere_is_not_found_and_a_bad_id_is_refused(site, item):
    admin = site.login("admin")
    assert admin.get(f"/c/other-2023/ledger/{item}").status_code == 404
    assert admin.get(f"/c/{C}/ledger/{item + 1000}").status_code == 404
    assert admin.get(f"/c/{C}/ledger/0").status_code == 422
    assert admin.get(f"/c/{C}/ledger/{2**63}").status_code == 422
    assert admin.get(f"/c/{C}/ledger/{item}/evidence/0").status_code == 404


def test_the_history_shows_who_when_and_the_states_before_and_after(site, item):
    school = site.login("s1user")
    page = school.get(f"/c/{C}/ledger/{item}").text
    moved = school.post(f"/c/{C}/ledger/{item}/progress", data={"state": "in_progress", "note": "已召开专题会",
                                                                "csrf": csrf_of(page)}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == f"/c/{C}/ledger/{item}?done=in_progress"

    page = school.get(moved.headers["location"]).text
    history = page.split('id="history"')[1].split("</table>")[0]
    entries = history.split('class="history-entry"')[1:]
    assert len(entries) == 2
    assert "2023-03-10 10:00" in entries[1] and "第一小学" in entries[1] and "未整改 → 整改中" in entries[1]
    assert "已召开专题会" in entries[1] and has_id(page, "ledger-ok")

    # a refusal comes back on the item's page, naming what is missing, nothing stored
    refused = school.post(f"/c/{C}/ledger/{item}/progress", data={"state": "rectified", "note": " ", "csrf": csrf_of(page)})
    assert refused.status_code == 422 and has_id(refused.text, "ledger-error")
    assert elements(refused.text, id="ledger-error")[0].get("data-field") == "note"  # a note or evidence
    assert elements(refused.text, id="progress-note")[0].get("aria-invalid") == "true"
    with site.engine.connect() as conn:
        assert conn.execute(select(ledger_items.c.state).where(ledger_items.c.id == item)).scalar_one() == "in_progress"


# --- evidence: previewed inline only when it is what it says ---

def _evidence(site: Any, item: int, *files: tuple[bytes, str]) -> None:
    with site.engine.begin() as conn:
        update_item(conn, _blobs(site), item, "rectified", "整改完成",
                    list(files), act(local("2023-03-09T09:00"), "s1user"))


def _blobs(site: Any) -> Any:
    return site.app.state.services.blobs


def test_a_pdf_or_an_image_is_previewed_inline_in_a_sandbox_and_anything_else_is_downloaded(site, item):
    _evidence(site, item, (PDF, "整改报告.pdf"), (PNG, "公示照片.png"), (b"PK\x03\x04 word", "制度.docx"),
              (b"<script>alert(1)</script>", "假的.pdf"))
    school = site.login("s1user")
    page = school.get(f"/c/{C}/ledger/{item}").text
    base = f"/c/{C}/ledger/{item}/evidence"

    assert [f["src"] for f in elements(page, tag="iframe")] == [f"{base}/0/preview"]  # not the false "PDF"
    assert [i["src"] for i in elements(page, tag="img", class_="preview preview-img")] == [f"{base}/1/preview"]
    assert len(elements(page, tag="a", class_="download")) == 4

    pdf = school.get(f"{base}/0/preview")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline;")
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-security-policy"].split(";")[0] == "sandbox" and pdf.headers["x-frame-options"] == "SAMEORIGIN"
    png = school.get(f"{base}/1/preview")
    assert png.headers["content-type"] == "image/png" and png.headers["content-disposition"].startswith("inline;")
    for n in (2, 3):  # a Word file, and a "PDF" that is not one: attachments of a neutral type
        other = school.get(f"{base}/{n}/preview")
        assert other.headers["content-type"] == "application/octet-stream"
        assert other.headers["content-disposition"].startswith("attachment;")
        assert other.headers["content-security-policy"] == "sandbox"
    assert school.get(f"{base}/0").headers["content-disposition"].startswith("attachment;")

    assert site.login("s2user").get(f"{base}/0/preview").status_code == 403
    assert school.get(f"{base}/4/preview").status_code == 404
    assert school.get(f"{base}/99999/preview").status_code == 422


def test_the_supervisor_closes_and_reopens_from_the_items_page(site, item):
    _evidence(site, item, (PDF, "整改报告.pdf"))
    sup = site.login("sup")
    page = sup.get(f"/c/{C}/ledger/{item}").text
    assert has_id(page, "verify-close") and not has_id(page, "progress-form")
    closed = sup.post(f"/c/{C}/ledger/{item}/verify", data={"decision": "close", "comment": "公示到位，同意销号",
                                                          "csrf": csrf_of(page)}, follow_redirects=False)
    assert closed.headers["location"] == f"/c/{C}/ledger/{item}?done=closed"
    page = sup.get(closed.headers["location"]).text
    assert "ledger-state-closed" in elements(page, id="ledger-item")[0]["class"] and has_id(page, "verify-reopen")

    reopened = sup.post(f"/c/{C}/ledger/{item}/verify", data={"decision": "reopen", "comment": "回头看发现反弹",
                                                            "deadline": "2023-04-15", "csrf": csrf_of(page)},
                        follow_redirects=False)
    assert reopened.headers["location"] == f"/c/{C}/ledger/{item}?done=reopened"
    page = site.login("s1user").get(reopened.headers["location"]).text
    assert "ledger-state-reopened" in elements(page, id="ledger-item")[0]["class"]
    assert "2023-04-15" in page.split('id="item-deadline">')[1][:20] and has_id(page, "progress-form")
    bad = sup.post(f"/c/{C}/ledger/{item}/verify", data={"decision": "reopen", "comment": "x", "deadline": "4月15日",
                                                        "csrf": csrf_of(sup.get(f"/c/{C}/ledger").text)})
    assert bad.status_code == 422 and elements(bad.text, id="ledger-error")[0]["data-field"] == "deadline"


# --- a supervision finding from the browser ---

def _post_finding(client: Any, **fields: str) -> Any:
    token = csrf_of(client.get(f"/c/{C}/ledger").text)
    return client.post(f"/c/{C}/findings", data={"csrf": token, **fields}, follow_redirects=False)


@pytest.mark.parametrize("fields, field, words", [
    ({"unit": "", "problem": "会风不正", "deadline": "2023-04-30"}, "unit", "请选择单位"),
    ({"unit": "s1", "problem": "  ", "deadline": "2023-04-30"}, "problem", "请写明发现的问题"),
    ({"unit": "s1", "problem": "会风不正", "deadline": ""}, "deadline", "整改时限"),
    ({"unit": "s1", "problem": "会风不正", "deadline": "4月30日"}, "deadline", "2023-06-30"),
    ({"unit": "s1", "problem": "会风不正", "deadline": "2023-03-01"}, "deadline", "早于发现时刻"),
    ({"unit": "s9", "problem": "会风不正", "deadline": "2023-04-30"}, "unit", "s9"),
])
def test_a_finding_with_a_bad_field_is_refused_naming_it_and_nothing_is_stored(site, fields, field, words):
    sup = site.login("sup")
    before = site.count(ledger_items)

    answer = _post_finding(sup, **fields)

    assert answer.status_code in (404, 422)
    message = elements(answer.text, id="finding-error")
    assert message and words in answer.text.split('id="finding-error"')[1].split("</p>")[0]
    assert elements(answer.text, id=f"finding-{field}")[0].get("aria-invalid") == "true"
    assert "open" in elements(answer.text, id="finding")[0]  # the form stays open with what was typed
    if fields["problem"].strip():
        assert "会风不正" in answer.text.split('id="finding-problem"')[1].split("</textarea>")[0]
    assert site.count(ledger_items) == before


def test_a_finding_recorded_from_the_browser_appears_in_the_list_as_a_supervision_finding(site):
    sup = site.login("sup")
    answer = _post_finding(sup, unit="s2", problem="值班脱岗，电话无人接听", category="懒", measure="建立值班抽查制度",
                           leader="李校长", office="办公室", deadline="2023-04-30")
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    item = int(target.fragment.removeprefix("item-"))
    assert parse_qs(target.query) == {"unit": ["s2"], "source": ["supervision"], "found": [str(item)]}

    page = sup.get(answer.headers["location"]).text
    row = page.split(f'id="item-{item}"')[1].split("</tr>")[0]
    assert has_id(page, "finding-ok") and "督查发现" in row and "值班脱岗" in row and "第二小学" in row
    whole = site.login("s2user").get(f"/c/{C}/ledger/{item}").text
    assert "建立值班抽查制度" in whole and "李校长" in whole and "2023-04-30" in whole

    long_term = _post_finding(sup, unit="s1", problem="学习制度坚持不够", long_term="1")
    assert long_term.status_code == 303
    assert _post_finding(site.login("s1user"), unit="s1", problem="x", deadline="2023-04-30").status_code == 403
    assert sup.post(f"/c/{C}/findings", data={"unit": "s1", "problem": "x", "deadline": "2023-04-30"}).status_code == 403


# --- in a real browser against the real `campaign serve` ---

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`campaign serve` on a loopback port over the browser test's campaign (its self-check running now),
    with a supervisor (督导组) and a school's head."""
    from .test_browser import PASSWORD, ROOT, spec_around

    home = tmp_path_factory.mktemp("ledger-browser")
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": f"sqlite:///{home / 'campaign.db'}",
           "PYTHONPATH": str(ROOT)}
    spec = home / "spec.yaml"
    spec.write_text(spec_around(dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()), encoding="utf-8")
    cli(env, "create", str(spec))
    cli(env, "user", "add", "duchazu", "--role", "supervisor", "--display-name", "督导组王组长",
              "--password-stdin", stdin=PASSWORD + "\n")
    cli(env, "user", "add", "s1-head", "--role", "unit", "--unit", "s1", "--display-name", "张校长",
              "--password-stdin", stdin=PASSWORD + "\n")
    with campaign_serve(env) as address:
        yield address


def _shot(page: Any, name: str) -> None:
    from .test_browser import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"ledger-{name}.png"), full_page=True)


def _log_in(browser: Any, server: str, name: str, width: int) -> Any:
    from .test_browser import PASSWORD

    page = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{server}/login", timeout=90_000)
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#current-user")).to_be_visible()
    return page


def one_page_pdf(text: str) -> bytes:
    """A real one-page PDF that shows `text` (Helvetica): what a browser's PDF viewer draws."""
    content = f"BT /F1 18 Tf 30 150 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 300] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def _viewer_shown(page: Any) -> None:
    """Chromium's PDF viewer took the preview frame (its extension's frame appears inside it)."""
    page.locator("iframe.preview-pdf").first.scroll_into_view_if_needed()
    for _ in range(60):
        if any(f.url.startswith("chrome-extension://") for f in page.frames):
            page.wait_for_timeout(1500)  # let it draw the page before a screenshot
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"no PDF viewer in {[f.url for f in page.frames]}")


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def test_in_a_browser_a_school_rectifies_a_finding_with_a_pdf_and_the_supervisor_closes_it(served, tmp_path):
    from playwright.sync_api import sync_playwright

    from .test_browser import CHROMIUM

    report = tmp_path / "食堂公示整改报告.pdf"
    report.write_bytes(one_page_pdf("Canteen prices posted weekly - rectification report"))
    due = (dt.date.today() + dt.timedelta(days=14)).isoformat()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])

        # the supervisor records a finding against the school from the ledger page (desktop)
        sup = _log_in(browser, served, "duchazu", 1280)
        sup.on("pageerror", lambda exc: errors.append(str(exc)))
        sup.goto(f"{served}/c/browser-test/ledger")
        sup.click("#finding summary")
        sup.select_option("#finding-unit", "s1")
        sup.fill("#finding-problem", "食堂采购价格未按规定公示")
        sup.click("#finding-submit")
        expect(sup.locator("#finding-error")).to_contain_text("整改时限")  # no deadline: named, kept open
        expect(sup.locator("#finding-problem")).to_have_value("食堂采购价格未按规定公示")
        _shot(sup, "1-finding-refused-1280")
        sup.fill("#finding-category", "散")
        sup.fill("#finding-measure", "每周在校务公开栏公示采购价格")
        sup.fill("#finding-deadline", due)
        sup.click("#finding-submit")
        expect(sup.locator("#finding-ok")).to_be_visible()
        row = sup.locator("#ledger tbody tr.found")
        expect(row).to_contain_text("督查发现")
        expect(row).to_contain_text("未整改")
        item = row.get_attribute("data-item")
        _shot(sup, "2-finding-listed-1280")

        # the school, on a phone: open → in progress → rectified with the PDF
        school = _log_in(browser, served, "s1-head", 390)
        school.on("pageerror", lambda exc: errors.append(str(exc)))
        school.goto(f"{served}/c/browser-test/ledger")
        _fits(school, 390)
        _shot(school, "3-school-list-390")
        school.click(f"#item-{item} a.item-link")
        expect(school.locator("#item-problem")).to_have_text("食堂采购价格未按规定公示")
        school.check("#progress-in_progress")
        school.fill("#progress-note", "已召开专题会，明确专人负责")
        school.click("#progress-submit")
        expect(school.locator("#ledger-ok")).to_be_visible()
        expect(school.locator("#item-state")).to_have_text("整改中")
        school.check("#progress-rectified")
        school.fill("#progress-note", "已在校务公开栏公示，附整改报告")
        school.set_input_files("#progress-evidence", str(report))
        school.click("#progress-submit")
        expect(school.locator("#item-state")).to_have_text("已整改待核验")
        preview = school.locator("#evidence-0 iframe.preview-pdf")
        expect(preview).to_be_visible()
        src = preview.get_attribute("src")
        answer = school.request.get(f"{served}{src}")
        assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
        assert answer.headers["content-disposition"].startswith("inline")
        assert answer.headers["content-security-policy"].split(";")[0] == "sandbox"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.body() == report.read_bytes()
        expect(school.locator("#history tbody tr")).to_have_count(3)
        _viewer_shown(school)
        _fits(school, 390)
        _shot(school, "4-school-rectified-with-pdf-390")

        # the supervisor sees the PDF previewed on the item's page and closes the item (销号)
        sup.goto(f"{served}/c/browser-test/ledger/{item}")
        expect(sup.locator("#evidence-0 iframe.preview-pdf")).to_be_visible()
        _viewer_shown(sup)
        _shot(sup, "5-supervisor-item-1280")
        sup.fill("#verify-comment", "公示到位，佐证齐全，同意销号")
        sup.click("#verify-close")
        expect(sup.locator("#item-state")).to_have_text("已销号")
        expect(sup.locator("#history tbody tr")).to_have_count(4)
        expect(sup.locator("#history tbody tr").last).to_contain_text("督导组王组长")
        _viewer_shown(sup)
        _shot(sup, "6-supervisor-closed-1280")
        sup.goto(f"{served}/c/browser-test/ledger?state=closed")
        expect(sup.locator(f"#item-{item}")).to_contain_text("已销号")

        # the school's phone after the 销号, in English
        school.goto(f"{served}/c/browser-test/ledger/{item}?lang=en")
        expect(school.locator("#item-state")).to_have_text("closed")
        _viewer_shown(school)
        _fits(school, 390)
        _shot(school, "7-school-closed-english-390")
        browser.close()
    assert errors == []


def test_every_field_of_the_ledgers_pages_has_its_label(site, item):
    _evidence(site, item, (PDF, "整改报告.pdf"))
    pages = [site.login("sup").get(f"/c/{C}/ledger").text, site.login("sup").get(f"/c/{C}/ledger/{item}").text,
             site.login("s1user").get(f"/c/{C}/ledger/{_find(site, 's1', '值班脱岗', dt.date(2023, 4, 30))}").text]
    for page in pages:
        fields = [e for tag in ("input", "select", "textarea") for e in elements(page, tag=tag) if e.get("type") != "hidden"]
        labelled = {e["for"] for e in elements(page, tag="label") if e.get("for")}
        assert fields and all(f.get("id") in labelled for f in fields), [f for f in fields if f.get("id") not in labelled]
    assert elements(pages[0], id="finding-form") and elements(pages[1], id="verify-form")
    assert elements(pages[2], id="progress-form")
