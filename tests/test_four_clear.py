"""四个明确 as seed 000 defines them (issue 13 part 4): 明确责任领导和牵头股室、明确整改措施、明确整改时限、明确长效机制.

A filed issue list's rows carry all four into the ledger items (长效机制 as `mechanism`, migration 0012, on
SQLite and PostgreSQL); the blank issue list a school downloads is laid out as the bureaus' own form (title,
the line for stamp and signature, 序号, the seed's headers, wrapped text, printed landscape) and, filled in
with openpyxl and uploaded, files without edits; a bad 整改时限 is refused naming its row, its column and its
cell, and nothing is filed; headers written by hand or in English read the same; the ledger report has the
column in every format and reads back; a supervisor's finding takes the mechanism; the ledger's list and an
item's page show it, looked at in Chromium at 390 and 1280 px.

The campaign is seed 002's template, zuofeng-2023, with its 2023 dates; the school files on 2023-03-20.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from campaign_model.catalog import template_text
from campaign_model.rows import RowsInvalid, read_rows
from campaign_model.specfile import load_spec_text
from campaign_model.store.accounts import add_user, create_token
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign
from campaign_model.store.db import open_engine
from campaign_model.store.filings import file_artifact
from campaign_model.store.ledger import item_doc, record_finding
from campaign_model.store.queries import ledger
from campaign_model.store.tables import audit_events, filings, ledger_items
from notifications.reports.ledger_import import import_ledger

from .conftest import local
from .web_support import Clock, bearer, serve

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KEY = "zuofeng-2023"
PASSWORD = "four-clear-passw0rd"
PDF = b"%PDF-1.4 signed and stamped issue list"
FILED = "2023-03-20T10:00"
HEADER = ["序号", "存在问题", "问题类别", "问题来源", "整改措施", "责任领导", "牵头股室", "整改时限", "长效机制"]
SHOTS = Path(os.environ.get("CAMPAIGN_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"


def act(when: str, actor: str = "局办公室") -> Act:
    return Act(local(when), actor, local(when))


def create(engine: Any) -> None:
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(template_text(KEY), f"{KEY}.yaml"), act("2023-02-14T09:00"))


def kind() -> Any:
    return load_spec_text(template_text(KEY), f"{KEY}.yaml").spec.artifacts["issue_list"]


def count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- the template's issue list, and a filed one becoming items (SQLite and PostgreSQL) ---

def test_the_issue_list_columns_are_the_four_namings_in_the_seeds_words():
    rows = kind().rows
    assert [c.title for c in rows.values()] == HEADER[1:]
    assert [k for k in rows] == ["problem", "category", "source", "measure", "leader", "office", "deadline", "mechanism"]
    assert [k for k, c in rows.items() if c.required] == ["problem", "category", "measure", "leader", "deadline"]
    # seed 000's 整改清单: every item names all four, 长效机制 included
    rect = load_spec_text(template_text("qunzhongluxian-2014"), "q.yaml").spec.artifacts["rectification_list"].rows
    assert {"measure", "leader", "office", "deadline", "mechanism"} <= {k for k, c in rect.items() if c.required}
    assert rect["mechanism"].title == "长效机制" and rect["problem"].title == "存在问题"


def test_a_filed_issue_list_with_all_four_becomes_items_with_them(engine, tmp_path):
    create(engine)
    blobs = BlobStore(tmp_path / "files")
    with engine.begin() as conn:
        done = file_artifact(conn, blobs, KEY, "school-2", "issue_list", act(FILED, "张校长"),
                             files=[(PDF, "签字盖章.pdf")], rows_file=EXAMPLES / "issues.xlsx", signed_by="张校长")
    assert done["rows"] == done["ledger_items"] == 3
    with engine.connect() as conn:
        stored = conn.execute(select(ledger_items).order_by(ledger_items.c.row_no)).all()
        assert [(r.measure, r.leader, r.office, r.deadline, r.mechanism) for r in stored] == [
            ("建立周例会督办制度，会议事项逐项明确责任人和时限", "李副校长", "办公室", dt.date(2026, 5, 29),
             "《周例会督办制度》：会议事项台账管理，每月通报落实情况"),
            ("修订课后服务考核办法，每月公示家长满意度", "王副校长", "教务处", dt.date(2026, 6, 30),
             "《课后服务考核办法》：满意度每月公示、每学期评议，结果计入绩效"),
            ("建立采购比价和台账月查制度，财务每月抽查", "张校长", "总务处", dt.date(2026, 9, 30),
             "《大宗物资采购比价制度》：台账月查、每学期审计一次")]
        # the item's document (its page) and the ledger's JSON (the API, `campaign ledger --json`)
        doc = item_doc(conn, stored[0].id, local(FILED))
        docs = ledger(conn, KEY, "school-2", None, local(FILED))
    assert doc["mechanism"] == stored[0].mechanism and doc["measure"] and doc["leader"] == "李副校长"
    assert {d["id"]: d["mechanism"] for d in docs} == {r.id: r.mechanism for r in stored}


# --- through the site: the blank workbook, filled and uploaded; a bad cell refused ---

@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The campaign on a SQLite file, a school's account (school-1) and the supervising group's, the server's
    clock at 2023-03-20 10:00 (the self-check under way, issue lists due 04-05)."""
    home = tmp_path_factory.mktemp("four-clear")
    engine = open_engine(f"sqlite:///{home / 'campaign.db'}")
    create(engine)
    tokens = {}
    with engine.begin() as conn:
        for name, role, unit in (("school1", "unit", "school-1"), ("duchazu", "supervisor", None)):
            add_user(conn, name, role, unit, PASSWORD, act("2023-02-14T09:00"))
            tokens[name], _ = create_token(conn, name, act("2023-02-14T09:00"))
    client = serve(engine, home, Clock(local(FILED)))
    client.engine, client.tokens = engine, tokens
    yield client
    engine.dispose()


def login(site: Any, name: str) -> Any:
    from .web_support import client_for

    client = client_for(site.app)
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf},
                       follow_redirects=False).status_code == 303
    return client


def blank(site: Any) -> openpyxl.Workbook:
    answer = login(site, "school1").get(f"/c/{KEY}/workbook/issue_list")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    return openpyxl.load_workbook(io.BytesIO(answer.content))


def upload(site: Any, wb: openpyxl.Workbook, tmp_path: Path) -> Any:
    path = tmp_path / "问题整改清单.xlsx"
    wb.save(path)
    return site.post(f"/api/v1/campaigns/{KEY}/filings", headers=bearer(site.tokens["school1"]),
                     data={"unit": "school-1", "artifact": "issue_list", "signed_by": "王校长"},
                     files=[("files", ("签字盖章.pdf", PDF, "application/pdf")),
                            ("rows", (path.name, path.read_bytes(), "application/octet-stream"))])


def test_the_blank_issue_list_is_laid_out_as_the_bureaus_form(site):
    ws = blank(site).worksheets[0]
    assert ws["A1"].value == "问题整改清单" and ws["A1"].font.b and ws["A1"].font.sz >= 14
    assert "填报单位（盖章）" in ws["A2"].value and "签字" in ws["A2"].value and "填报日期" in ws["A2"].value
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:I1", "A2:I2"}
    assert [c.value for c in ws[3]] == HEADER and all(c.font.b for c in ws[3])
    assert ws.freeze_panes == "A4" and ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    width = {c.value: ws.column_dimensions[c.column_letter].width for c in ws[3]}
    assert width["存在问题"] >= 30 and width["整改措施"] >= 30 and width["长效机制"] >= 24
    assert width["序号"] <= 8 and width["责任领导"] <= 14 and width["整改时限"] >= 12
    wrapped = {c.value for c in ws[3] if ws.column_dimensions[c.column_letter].alignment.wrap_text}
    assert wrapped == {"存在问题", "整改措施", "长效机制"}
    notes = {c.value: c.comment.text for c in ws[3]}
    assert "必填" in notes["整改时限"] and "2026-04-05" in notes["整改时限"] and "选填" in notes["长效机制"]
    assert "不读取" in notes["序号"]


def fill(ws: Any, rows: list[list[Any]]) -> None:
    for n, values in enumerate(rows, start=4):
        for c, value in enumerate(values, start=1):
            ws.cell(row=n, column=c, value=value)


@pytest.fixture(scope="module")
def filed(site: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """school-1's issue list: the blank workbook downloaded, filled in with openpyxl as a clerk fills it, uploaded."""
    wb = blank(site)
    fill(wb.worksheets[0], [
        [1, "请假制度执行不严，个别教师迟到早退", "散", "自查", "严格执行请销假和考勤公示", "刘副校长", "办公室",
         dt.datetime(2023, 5, 31), "《教职工考勤管理办法》，每月公示考勤"],
        [2, "家校沟通渠道不畅，家长反映问题回应慢", "推", "群众意见", "设立校长接待日，家长来信三日内答复", "王校长",
         "德育处", "2023/6/30", None],
        [3]])  # numbered, left empty: not an item
    return upload(site, wb, tmp_path_factory.mktemp("filled"))


def test_the_blank_issue_list_filled_and_uploaded_files_the_four_namings(site, filed):
    assert filed.status_code == 201, filed.text
    assert (filed.json()["rows"], filed.json()["ledger_items"]) == (2, 2)
    items = site.get(f"/api/v1/campaigns/{KEY}/ledger", params={"unit": "school-1"},
                     headers=bearer(site.tokens["duchazu"])).json()
    assert [(i["problem"][:6], i["measure"][:6], i["leader"], i["office"], i["deadline"], i["mechanism"])
            for i in sorted(items, key=lambda i: i["id"])] == [
        ("请假制度执行", "严格执行请销", "刘副校长", "办公室", "2023-05-31", "《教职工考勤管理办法》，每月公示考勤"),
        ("家校沟通渠道", "设立校长接待", "王校长", "德育处", "2023-06-30", None)]


def test_a_bad_deadline_is_refused_with_its_row_column_and_cell_and_nothing_is_filed(site, tmp_path):
    before = [count(site.engine, t) for t in (filings, ledger_items, audit_events)]
    wb = blank(site)
    fill(wb.worksheets[0], [
        [1, "会议多", "慢", None, "精简会议", "李副校长", "办公室", dt.datetime(2023, 5, 31), "会议审批制度"],
        [2, "作业多", "庸", None, "控制作业总量", "教务主任", "教务处", "下月底", None],
        [3, "", "松", None, "", "张", None, "2023-02-30", None]])
    answer = upload(site, wb, tmp_path)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    lines = error["message"].splitlines()
    assert lines[0] == ("问题整改清单.xlsx: 第 5 行 / row 5, 列 整改时限 (deadline): 不是有效日期 '下月底'，应写作 2023-04-05、"
                        "2023/4/5 或 2023年4月5日 (not a valid date; write 2023-04-05, 2023/4/5 or 2023年4月5日)"
                        "（单元格 H5 / cell H5）")
    assert any(line.startswith("问题整改清单.xlsx: 第 6 行 / row 6, 列 存在问题 (problem): 必填项为空") and "B6" in line
               for line in lines)
    assert any("第 6 行 / row 6, 列 整改时限 (deadline)" in line and "2023-02-30" in line and "H6" in line for line in lines)
    assert {(f["row"], f["column"]) for f in error["fields"]} >= {(5, "deadline"), (6, "problem"), (6, "measure"),
                                                                 (6, "deadline")}
    assert [count(site.engine, t) for t in (filings, ledger_items, audit_events)] == before  # nothing changed


def test_on_the_filing_page_a_school_is_told_the_bad_cell_and_nothing_is_filed(site, tmp_path):
    before = [count(site.engine, t) for t in (filings, ledger_items, audit_events)]
    wb = blank(site)
    fill(wb.worksheets[0], [[1, "作业多", "庸", None, "控制作业总量", "教务主任", "教务处", "下月底", None]])
    path = tmp_path / "问题整改清单.xlsx"
    wb.save(path)
    school = login(site, "school1")
    csrf = re.search(r'name="csrf" value="([^"]+)"', school.get(f"/c/{KEY}/file").text).group(1)
    answer = school.post(f"/c/{KEY}/file", data={"unit": "school-1", "artifact": "issue_list", "signed_by": "王校长",
                                                 "csrf": csrf},
                         files=[("files", ("签字盖章.pdf", PDF, "application/pdf")),
                                ("rows", (path.name, path.read_bytes(), "application/octet-stream"))])
    assert answer.status_code == 422
    errors = answer.text.split('id="filing-errors"')[1].split("</ul>")[0]
    assert "第 4 行 / row 4, 列 整改时限 (deadline): 不是有效日期 &#39;下月底&#39;" in errors and "（单元格 H4）" in errors
    assert [count(site.engine, t) for t in (filings, ledger_items, audit_events)] == before


def test_headers_written_by_hand_or_in_english_read_the_same(tmp_path):
    row = ["会议多", "慢", "精简会议", "李副校长", "办公室", dt.datetime(2023, 5, 31), "会议审批制度"]
    headers = {
        "hand": ["序号", "问题", "类别", "整改措施", "责任人", "责任股室", "完成时限", "长效机制"],
        "english": ["No.", "Problem", "Category", "Measures", "Leader responsible", "Lead office", "Deadline",
                    "Long-term mechanism"],
        "both": ["序号（No.）", "存在问题（Problem）", "问题类别 (Category)", "整改措施（Measure）", "责任领导（Leader）",
                 "牵头股室（Office）", "整改时限（Deadline）", "长效机制（Mechanism）"],
    }
    read = {}
    for name, header in headers.items():
        wb = openpyxl.Workbook()
        wb.active.append(["第一中学问题整改清单"])
        wb.active.append(header)
        wb.active.append([1, *row])
        wb.save(tmp_path / f"{name}.xlsx")
        read[name] = read_rows(tmp_path / f"{name}.xlsx", kind())
    assert read["hand"] == read["english"] == read["both"] == [
        {"problem": "会议多", "category": "慢", "source": None, "measure": "精简会议", "leader": "李副校长",
         "office": "办公室", "deadline": "2023-05-31", "mechanism": "会议审批制度"}]
    # a column named twice (its title and a bureau's word for it) is refused, not guessed
    wb = openpyxl.Workbook()
    wb.active.append(["存在问题", "问题", "问题类别", "整改措施", "责任领导", "整改时限"])
    wb.active.append(["a", "b", "慢", "c", "d", "2023-05-31"])
    wb.save(tmp_path / "twice.xlsx")
    with pytest.raises(RowsInvalid, match="重复"):
        read_rows(tmp_path / "twice.xlsx", kind())


# --- the ledger report and its import; a finding's mechanism ---

def test_the_ledger_report_has_the_mechanism_after_the_deadline_in_every_format(site, filed, tmp_path):
    assert filed.status_code == 201, filed.text
    sup = bearer(site.tokens["duchazu"])

    def get(fmt: str) -> Any:
        answer = site.get(f"/api/v1/campaigns/{KEY}/reports/ledger", params={"format": fmt, "unit": "school-1"},
                          headers=sup)
        assert answer.status_code == 200, answer.text
        return answer

    expected = ["序号", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限", "长效机制", "进展", "状态"]
    out = tmp_path / "ledger.xlsx"
    out.write_bytes(get("xlsx").content)
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert [c.value for c in ws[2]] == expected
    assert ws["H3"].value == "《教职工考勤管理办法》，每月公示考勤" and ws["H3"].alignment.wrap_text
    rows = list(csv.reader(get("csv").content.decode("utf-8-sig").splitlines()))
    assert rows[0] == expected and rows[1][7] == "《教职工考勤管理办法》，每月公示考勤"
    doc = json.loads(get("json").content)
    assert [i["mechanism"] for i in doc["items"]] == ["《教职工考勤管理办法》，每月公示考勤", None]
    page = get("html").text
    assert "<th>长效机制</th>" in page and page.index("<th>整改时限</th>") < page.index("<th>长效机制</th>")
    if shutil.which("pdftotext"):  # make test installs poppler-utils; the PDF is Chromium's print of the page
        pdf = tmp_path / "ledger.pdf"
        pdf.write_bytes(get("pdf").content)
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "长效机制" in text and "教职工考勤管理办法" in text
    # the exported workbook reads back with its mechanism (ledger-import)
    items = import_ledger(out)
    assert [(i["problem"][:6], i["mechanism"]) for i in items] == [("请假制度执行", "《教职工考勤管理办法》，每月公示考勤"),
                                                                 ("家校沟通渠道", None)]
    # an English campaign's report: the column is "Long-term mechanism", and it reads back as well
    from campaign_model.store.reports import ledger_rows
    from notifications.reports import write_report
    from notifications.reports.build import ledger_report

    with site.engine.connect() as conn:
        english = ledger_report(ledger_rows(conn, KEY, "school-1"), KEY, "Work style 2023", local(FILED), "school-1", "en")
    write_report(english, "xlsx", tmp_path / "en.xlsx")
    assert [c.value for c in openpyxl.load_workbook(tmp_path / "en.xlsx").worksheets[0][2]] == [
        "No.", "Problem", "Category", "Measure", "Leader", "Office", "Deadline", "Long-term mechanism", "Progress", "State"]
    assert [(i["mechanism"], i["leader"], i["state"]) for i in import_ledger(tmp_path / "en.xlsx")] == [
        ("《教职工考勤管理办法》，每月公示考勤", "刘副校长", "open"), (None, "王校长", "open")]


def test_a_supervisors_finding_takes_the_mechanism_and_the_pages_show_it(site):
    sup = login(site, "duchazu")
    page = sup.get(f"/c/{KEY}/ledger")
    assert 'id="finding-mechanism"' in page.text and '<label for="finding-mechanism">' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = sup.post(f"/c/{KEY}/findings", data={
        "unit": "culture-center", "problem": "文化馆开放时间未按公示执行", "category": "散", "measure": "按公示时间开放并签到",
        "leader": "赵馆长", "office": "办公室", "deadline": "2023-05-15", "mechanism": "开放时间巡查和群众评议制度",
        "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    item = int(answer.headers["location"].rsplit("#item-", 1)[1])
    listed = sup.get(answer.headers["location"]).text
    row = listed.split(f'id="item-{item}"')[1].split("</tr>")[0]
    assert "开放时间巡查和群众评议制度" in row and 'data-label="长效机制"' in row
    whole = sup.get(f"/c/{KEY}/ledger/{item}").text
    assert re.search(r'id="item-mechanism">开放时间巡查和群众评议制度<', whole)
    assert sup.get(f"/c/{KEY}/ledger/{item}?lang=en").text.count("Long-term mechanism") == 1
    # the API's finding takes it too, with the leader and the office
    made = site.post(f"/api/v1/campaigns/{KEY}/findings", headers=bearer(site.tokens["duchazu"]), json={
        "unit": "school-2", "problem": "值班脱岗", "deadline": "2023-05-31", "leader": "李校长", "office": "办公室",
        "mechanism": "值班抽查制度"})
    assert made.status_code == 201, made.text
    assert (made.json()["mechanism"], made.json()["leader"], made.json()["office"]) == ("值班抽查制度", "李校长", "办公室")


# --- looked at: the ledger's list and an item's page in Chromium; the blank workbook as a clerk sees it ---

def sheet_html(ws: Any) -> str:
    """The sheet drawn as a spreadsheet draws it: column widths (a character ≈ 7 px), merged title rows, bold
    headers, wrapped cells, grid lines; the first rows only. To look at the layout, not to test openpyxl."""
    import html

    widths = [ws.column_dimensions[openpyxl.utils.get_column_letter(c)].width or 8.43 for c in range(1, ws.max_column + 1)]
    merged = {r.min_row: r.max_col - r.min_col + 1 for r in ws.merged_cells.ranges}
    out = ["<table style='border-collapse:collapse;table-layout:fixed;font:14px sans-serif'>",
           "".join(f"<col style='width:{round(w * 7.5)}px'>" for w in widths)]
    for row in ws.iter_rows(min_row=1, max_row=8):
        n = row[0].row
        cells = row[:1] if n in merged else row
        out.append("<tr>")
        for c in cells:
            wrap = c.alignment.wrap_text or ws.column_dimensions[c.column_letter].alignment.wrap_text
            value = c.value.strftime("%Y-%m-%d") if isinstance(c.value, dt.datetime) else (c.value or "")
            rgb = c.fill.fgColor.rgb if c.fill.fill_type and isinstance(c.fill.fgColor.rgb, str) else "FFFFFFFF"
            space = "pre" if n in merged else "normal" if wrap else "nowrap"  # the signature line keeps its blanks
            style = (f"border:1px solid #999;padding:3px;vertical-align:top;white-space:{space};"
                     f"overflow:hidden;font-weight:{'bold' if c.font.b else 'normal'};font-size:{(c.font.sz or 11) * 1.3}px;"
                     f"background:#{rgb[-6:]};"
                     f"text-align:{c.alignment.horizontal or 'left'}")
            span = f" colspan={merged[n]}" if n in merged else ""
            out.append(f"<td{span} style='{style}'>{html.escape(str(value))}</td>")
        out.append("</tr>")
    return "<!doctype html><meta charset=utf-8><body style='margin:8px'>" + "".join(out) + "</table>"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`campaign serve` over the campaign with school-1's issue list (examples/issues.xlsx) filed and a finding."""
    from .served import campaign_serve

    home = tmp_path_factory.mktemp("four-clear-served")
    url = f"sqlite:///{home / 'campaign.db'}"
    engine = open_engine(url)
    create(engine)
    with engine.begin() as conn:
        add_user(conn, "duchazu", "supervisor", None, PASSWORD, act("2023-02-14T09:00"))
        file_artifact(conn, BlobStore(home / "files"), KEY, "school-1", "issue_list", act(FILED, "张校长"),
                      files=[(PDF, "签字盖章.pdf")], rows_file=EXAMPLES / "issues.xlsx", signed_by="张校长")
        record_finding(conn, KEY, "school-2", "值班脱岗，电话无人接听", dt.date(2026, 12, 31), act(FILED, "duchazu"),
                       category="懒", measure="建立值班抽查制度", leader="李校长", office="办公室",
                       mechanism="值班抽查和通报制度，每月抽查不少于两次")
    engine.dispose()
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DB_URL": url, "PYTHONPATH": str(ROOT)}
    with campaign_serve(env) as address:
        yield address


def test_in_chromium_the_list_and_an_item_show_the_mechanism_at_390_and_1280(served, site):
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    wb = blank(site)
    (SHOTS / "four-clear-blank.html").write_text(sheet_html(wb.worksheets[0]), encoding="utf-8")
    example = openpyxl.load_workbook(EXAMPLES / "issues.xlsx").worksheets[0]
    (SHOTS / "four-clear-example.html").write_text(sheet_html(example), encoding="utf-8")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        for name in ("blank", "example"):  # the workbooks as a clerk sees them
            page = browser.new_page(viewport={"width": 1280, "height": 400})
            page.goto((SHOTS / f"four-clear-{name}.html").as_uri())
            page.screenshot(path=str(SHOTS / f"four-clear-workbook-{name}-1280.png"), full_page=True)
            page.close()
        for width in (390, 1280):
            context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{served}/login", timeout=90_000)
            page.fill("#name", "duchazu")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            expect(page.locator("#current-user")).to_be_visible()
            page.goto(f"{served}/c/{KEY}/ledger")
            mechanisms = page.locator("td.mechanism")
            expect(mechanisms).to_have_count(4)
            expect(page.locator("#ledger")).to_contain_text("《周例会督办制度》")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(SHOTS / f"four-clear-ledger-{width}.png"), full_page=True)
            page.click("#ledger a.item-link >> nth=0")
            expect(page.locator("#item-mechanism")).not_to_have_text("—")
            for field in ("#item-leader", "#item-office", "#item-measure", "#item-deadline"):
                expect(page.locator(field)).not_to_have_text("—")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(SHOTS / f"four-clear-item-{width}.png"), full_page=True)
            context.close()
        browser.close()
    assert not errors, errors
