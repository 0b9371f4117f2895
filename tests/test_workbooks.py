"""Blank workbooks (issue 10, item 9) and the sample files of the README's first steps: each workbook opens
in openpyxl with its header, notes, drop-downs and checks, and one filled row imports through the real
importers without edits; the CLI writes them, the dashboard's filing form links to them."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from openpyxl import load_workbook

from campaign_model.catalog import template_names, template_text
from campaign_model.rows import read_rows
from campaign_model.specfile import load_spec_text
from campaign_model.store.db import open_engine
from campaign_model.unitfile import read_units
from notifications.reports.workbook import MEDIA_TYPE, UNITS, blank_workbook

from .conftest import local
from .web_support import Clock, account, new_campaign, serve

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
UNIT_HEADERS = ["单位代码", "单位名称", "上级单位", "标签", "联系人", "职务", "邮箱", "电话"]


def kinds_of(name: str):
    return load_spec_text(template_text(name), f"{name}.yaml").spec.artifacts


def validations(ws, header_row: int = 1) -> dict[str, object]:
    """Column letter -> the data validation over its data rows (those below `header_row`)."""
    out = {}
    for v in ws.data_validations.dataValidation:
        for rng in str(v.sqref).split():
            letter = re.match(r"[A-Z]+", rng).group(0)
            assert rng.startswith(f"{letter}{header_row + 1}:"), rng  # the header row itself is free
            out[letter] = v
    return out


def header_row(ws) -> int:
    """The row of a rows kind's header: below the title row (and the issue list's line for stamp and signature)."""
    return next(r[0].row for r in ws.iter_rows(min_row=1, max_row=5) if r[0].value == "序号")


def list_choices(wb, formula: str) -> list[str]:
    sheet, cells = formula.split("!")
    ws = wb[sheet.strip("'")]
    return [c.value for row in ws[cells.replace("$", "")] for c in row]


def test_blank_units_workbook_has_notes_and_checks_and_a_filled_copy_imports(tmp_path: Path) -> None:
    name, data = blank_workbook(kinds_of("zuofeng-2023"), UNITS)
    assert name == "单位名单.xlsx"
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == UNIT_HEADERS
    assert all(c.comment is not None and c.comment.text for c in ws[1])
    assert "必填" in ws["A1"].comment.text and "必填" in ws["B1"].comment.text
    assert ws.freeze_panes == "A2"
    assert all(ws.column_dimensions[col].width >= 12 for col in "ABCDEFGH")
    parent = validations(ws)["C"]
    assert parent.type == "list" and parent.formula1 == "$B$2:$B$1001" and parent.errorStyle == "warning"
    assert wb["填写说明"]["A2"].value == "单位代码"

    # a clerk fills it in as Excel lists do: parents by name
    ws.append(["bureau", "县教育局", None, "机关", "王主任", "办公室主任", "wang@example.cn", None])
    ws.append(["d1", "城东学区", "县教育局", "学区", None, None, None, None])
    ws.append(["s1", "城东小学", "城东学区", "学校、寄宿制", "张校长", "校长", "zhang@example.cn", "13800000000"])
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    units = {u.key: u for u in read_units(path)}
    assert list(units) == ["bureau", "d1", "s1"]
    assert units["d1"].parent == "bureau" and units["s1"].parent == "d1"
    assert units["s1"].tags == ["学校", "寄宿制"] and units["s1"].contacts[0].email == "zhang@example.cn"


def _value(col):
    """A value a clerk would type in that column."""
    if col.type == "choice":
        return col.choices[0]
    if col.type == "date":
        return dt.datetime(2026, 4, 30)  # Excel keeps a typed date as a date-time
    if col.type in ("integer", "number"):
        return 12
    return f"{col.title}（示例）"


ROWS_KINDS = [(name, key) for name in template_names() for key, kind in kinds_of(name).items() if kind.rows]


def test_every_template_offers_a_rows_workbook() -> None:
    assert ("zuofeng-2023", "issue_list") in ROWS_KINDS and len(ROWS_KINDS) >= 10


@pytest.mark.parametrize(("template", "kind_key"), ROWS_KINDS)
def test_blank_rows_workbook_has_notes_and_checks_and_a_filled_row_imports(template: str, kind_key: str,
                                                                            tmp_path: Path) -> None:
    kind = kinds_of(template)[kind_key]
    name, data = blank_workbook(kinds_of(template), kind_key)
    assert name == f"{kind.title}.xlsx"
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    columns = list((kind.rows or {}).values())
    top = header_row(ws)
    # the title row, merged across; an issue list's line for the stamp, the signature and the date
    assert ws["A1"].value == kind.title and f"A1:{ws.cell(row=top, column=len(columns) + 1).column_letter}1" in {
        str(r) for r in ws.merged_cells.ranges}
    assert top == (3 if kind.is_ledger_source() else 2)
    assert [c.value for c in ws[top]] == ["序号"] + [col.title for col in columns]
    assert ws.freeze_panes == f"A{top + 1}" and ws.print_title_rows == f"${top}:${top}"
    checks = validations(ws, top)
    assert "不读取" in ws[top][0].comment.text and "A" not in checks  # 序号: numbered by the clerk, not imported
    for i, (cell, col) in enumerate(zip(ws[top][1:], columns, strict=True)):
        letter = cell.column_letter
        assert cell.comment is not None and ("必填" if col.required else "选填") in cell.comment.text
        assert ws.column_dimensions[letter].width >= 12
        if col.type == "choice":
            assert checks[letter].type == "list"
            assert list_choices(wb, checks[letter].formula1) == list(col.choices)
            assert "、".join(col.choices) in cell.comment.text
        elif col.type == "date":
            assert checks[letter].type == "date" and "2026-04-05" in cell.comment.text
        elif col.type == "integer":
            assert checks[letter].type == "whole"
        else:
            assert letter not in checks, (i, col.title)
    assert wb["选项"].sheet_state == "hidden"

    ws.append([1, *(_value(col) for col in columns)])
    ws.append([2])  # numbered, not yet filled: an empty row
    path = tmp_path / name
    wb.save(path)
    [row] = read_rows(path, kind)  # no edits: the header and the values are what the importer reads
    for key in kind.rows or {}:
        assert row[key] is not None, key
    if "deadline" in row:
        assert row["deadline"] == "2026-04-30"


def test_asking_for_a_kind_without_rows_names_those_there_are() -> None:
    from campaign_model.errors import NotFound

    with pytest.raises(NotFound) as info:
        blank_workbook(kinds_of("zuofeng-2023"), "summary_report")
    assert "issue_list / 问题整改清单" in str(info.value) and "units / 单位名单" in str(info.value)
    # a kind may also be asked for by its title
    assert blank_workbook(kinds_of("zuofeng-2023"), "问题整改清单")[0] == "问题整改清单.xlsx"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPAIGN_HOME": str(tmp_path / "home")}
    env.pop("CAMPAIGN_DB_URL", None)
    code = "import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_template_workbook_command_writes_the_blank_workbook(tmp_path: Path) -> None:
    result = _cli(tmp_path, "template", "workbook", "zuofeng-2023", "issue_list")
    assert result.returncode == 0, result.stderr
    assert "问题整改清单.xlsx" in result.stdout
    ws = load_workbook(tmp_path / "问题整改清单.xlsx").worksheets[0]
    assert [c.value for c in ws[3]] == ["序号", "存在问题", "问题类别", "问题来源", "整改措施", "责任领导", "牵头股室",
                                        "整改时限", "长效机制"]

    result = _cli(tmp_path, "template", "workbook", "zuofeng-2023", "units", "--out", "名单.xlsx")
    assert result.returncode == 0, result.stderr
    assert [c.value for c in load_workbook(tmp_path / "名单.xlsx").worksheets[0][1]] == UNIT_HEADERS

    bad = _cli(tmp_path, "template", "workbook", "zuofeng-2023", "issues")
    assert bad.returncode == 2 and "issue_list / 问题整改清单" in bad.stderr
    bad = _cli(tmp_path, "template", "workbook", "zuofeng-1999", "units")
    assert bad.returncode == 2 and "zuofeng-1999" in bad.stderr and "zuofeng-2023" in bad.stderr
    assert sorted(p.name for p in tmp_path.glob("*.xlsx")) == ["名单.xlsx", "问题整改清单.xlsx"]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id") == "blank-workbooks":
            self._inside = True
        elif tag == "a" and self._inside:
            self.hrefs.append(a["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._inside = False


def test_filing_form_links_to_the_blank_workbook_which_opens(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'campaign.db'}")
    key = new_campaign(engine)
    account(engine, "s1user", "unit", "s1", password="qingfeng-2024")
    client = serve(engine, tmp_path / "home", Clock(local("2023-03-10T10:00")))

    # logged out: the login form, not the file
    anon = client.get(f"/c/{key}/workbook/issue_list", follow_redirects=False)
    assert anon.status_code in (302, 303) and "/login" in anon.headers["location"]

    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert client.post("/login", data={"name": "s1user", "password": "qingfeng-2024", "csrf": csrf},
                       follow_redirects=False).status_code == 303
    page = client.get(f"/c/{key}/file")
    assert page.status_code == 200 and "下载空白模板" in page.text
    links = Links()
    links.feed(page.text)
    assert links.hrefs == [f"/c/{key}/workbook/issue_list"]

    answer = client.get(links.hrefs[0])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == MEDIA_TYPE
    assert "attachment" in answer.headers["content-disposition"]
    assert "filename*=UTF-8''%E9%97%AE%E9%A2%98%E6%B8%85%E5%8D%95.xlsx" in answer.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(answer.content)).worksheets[0]
    assert ws["A1"].value == "问题清单"
    assert [c.value for c in ws[3]] == ["序号", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限"]

    units = client.get(f"/c/{key}/workbook/units")
    assert units.status_code == 200 and units.headers["content-type"] == MEDIA_TYPE
    assert [c.value for c in load_workbook(io.BytesIO(units.content)).worksheets[0][1]] == UNIT_HEADERS
    missing = client.get(f"/c/{key}/workbook/plan")  # filed as files, not as rows
    assert missing.status_code == 404 and "issue_list" in missing.text


# --- the sample files of the README's first steps ---

def test_example_units_list_reads_with_parents_by_name() -> None:
    zuofeng = load_spec_text(template_text("zuofeng-2023")).spec
    units = {u.key: u for u in read_units(EXAMPLES / "units.csv")}
    assert len(units) == 13
    assert zuofeng.organizer in units and units[zuofeng.organizer].parent is None
    districts = [u for u in units.values() if "学区" in u.tags]
    schools = [u for u in units.values() if "学校" in u.tags]
    assert len(districts) == 2 and len(schools) == 10
    assert {u.parent for u in districts} == {zuofeng.organizer}
    assert {u.parent for u in schools} == {d.key for d in districts}  # written as 城关学区 / 东关学区
    assert "城关学区" in (EXAMPLES / "units.csv").read_text(encoding="utf-8").split("\n")[4]
    assert all(u.contacts and u.contacts[0].email.endswith("example.cn") for u in schools)
    # the organizer is also in the template, listed identically there, so `create --units` merges them
    [inline] = [u for u in load_spec_text(template_text("zuofeng-2023")).units if u.key == zuofeng.organizer]
    assert inline == units[zuofeng.organizer]


def test_example_issue_list_fits_the_zuofeng_issue_list() -> None:
    kind = kinds_of("zuofeng-2023")["issue_list"]
    rows = read_rows(EXAMPLES / "issues.xlsx", kind)
    assert len(rows) == 3
    assert all(r["problem"] and r["measure"] and r["leader"] and r["deadline"].startswith("2026-") for r in rows)
    assert [r["category"] for r in rows] == ["慢", "懒", "松"]


def test_example_scan_is_a_one_page_pdf() -> None:
    data = (EXAMPLES / "signed-scan.pdf").read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)", data).group(1))
    assert data[start:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", data[start:])]
    assert [data[o:].split(b" ", 1)[0] for o in offsets] == [str(n).encode() for n in range(1, len(offsets) + 1)]
    assert b"/Count 1" in data and data.count(b"/Type /Page ") == 1
