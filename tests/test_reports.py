"""Reports of a small known campaign, driven with explicit instants: the phase audit and the ledger
read back from XLSX cell by cell, CSV safe against formula injection, JSON, HTML, the PDF rendered
to PNG and looked at, the closure chart, the ledger import, and the command line.

The campaign: three schools under one district. Plans (due 02-28): s1 on time, s2 late after three
reminders, s3 waived. Issue lists (due 04-05, reviewed): s1 rejected then re-filed and accepted on
time, s2 late and accepted, s3 missing; the self-check phase is forced on 04-10. The bureau's
summary (due 04-30) is not yet due at the audit's instant, 04-12 12:00.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from campaign_model.errors import InvalidInput
from campaign_model.ledger import STATE_ZH
from campaign_model.specfile import load_spec_text
from campaign_model.store import ledger as lifecycle
from campaign_model.store.audit import Act
from campaign_model.store.blobs import BlobStore
from campaign_model.store.campaigns import create_campaign, load_ctx
from campaign_model.store.filings import file_artifact, review, waive
from campaign_model.store.phases import force_advance
from campaign_model.store.reports import (
    add_ledger_items,
    closure_series,
    ledger_rows,
    phase_audit,
)
from flows.tick import tick_direct
from notifications.reports import write_report
from notifications.reports.audit import phase_audit_report
from notifications.reports.build import closure_report, ledger_report
from notifications.reports.flat import render_csv
from notifications.reports.html import render_html
from notifications.reports.ledger_import import import_ledger

from .conftest import SMALL_SPEC, local

ROOT = Path(__file__).resolve().parent.parent
KEY = "small-2023"
SPEC = SMALL_SPEC.replace("  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}\n",
                          "  - {key: s2, name: 第二小学, parent: d1, tags: [学校]}\n"
                          "  - {key: s3, name: 第三小学, parent: d1, tags: [学校]}\n")
HEAD = "problem,category,measure,leader,office,deadline\n"
S1_V1 = HEAD + "会议多落实少,慢,精简会议,王副局长,办公室,2023-06-30\n"
S1_V2 = S1_V1 + "作业负担重,庸,控制作业总量,李副校长,教务处,2023-05-31\n"
EVIL = '=HYPERLINK("http://evil.example","点击")'
S2 = HEAD + '"=HYPERLINK(""http://evil.example"",""点击"")",推,规范收费,赵校长,总务处,2023-07-15\n'
AUDIT_AT = local("2023-04-12T12:00")
LEDGER_AT = local("2023-05-12T09:00")
FORCE_REASON = "上级要求按期转段，第三小学限期补报"


def act(who: str, when: str) -> Act:
    return Act(local(when), who, local(when))


def d(text: str) -> dt.datetime:
    """A naive local wall-clock time, as Excel keeps it."""
    return dt.datetime.fromisoformat(text)


class Campaign:
    def __init__(self, engine, url: str, tmp: Path):
        self.engine, self.url, self.tmp = engine, url, tmp
        self.blobs = BlobStore(tmp / "files")

    def tick(self, when: str) -> None:
        tick_direct(self.url, KEY, act("tick", when), str(self.tmp / "outbox.jsonl"))

    def file(self, unit: str, artifact: str, when: str, rows: str | None = None) -> None:
        scan = self.tmp / f"{unit}-{artifact}-{when[:10]}.pdf"
        scan.write_bytes(f"{unit} {artifact} {when}".encode())
        kw: dict = {"files": [scan], "signed_by": "校长"} if artifact == "plan" else {"files": [scan]}
        if rows is not None:
            kw = {"rows_file": scan.with_suffix(".csv")}
            kw["rows_file"].write_text(rows, encoding="utf-8")
        with self.engine.begin() as conn:
            file_artifact(conn, self.blobs, KEY, unit, artifact, act(unit, when), **kw)

    def do(self, fn, *args) -> dict:
        with self.engine.begin() as conn:
            return fn(conn, *args)

    def run_phases(self) -> None:
        self.tick("2023-02-14T08:00")
        self.file("s1", "plan", "2023-02-20T10:00")
        self.tick("2023-02-24T10:00")  # "3 days before": s2 and s3 reminded
        self.do(waive, KEY, "s3", "plan", "方案由学区统一制定", act("admin", "2023-02-27T15:00"))
        self.tick("2023-02-28T09:30")
        self.tick("2023-03-01T10:00")
        self.file("s2", "plan", "2023-03-02T10:00")
        self.tick("2023-03-06T00:30")  # mobilization completes at its end; self-check starts
        self.file("s1", "issue_list", "2023-04-03T16:00", S1_V1)
        self.do(review, KEY, "s1", "issue_list", False, "整改措施不具体", act("督导组", "2023-04-03T17:00"))
        self.file("s1", "issue_list", "2023-04-04T09:00", S1_V2)
        self.do(review, KEY, "s1", "issue_list", True, None, act("督导组", "2023-04-04T11:00"))
        self.tick("2023-04-04T12:00")
        self.tick("2023-04-06T10:00")
        self.file("s2", "issue_list", "2023-04-07T09:00", S2)
        self.do(review, KEY, "s2", "issue_list", True, "同意", act("督导组", "2023-04-07T15:00"))
        self.tick("2023-04-10T10:00")
        with self.engine.begin() as conn:
            force_advance(conn, load_ctx(conn, KEY), FORCE_REASON, act("局长", "2023-04-10T11:00"), True)

    def run_ledger(self) -> None:
        """Item ids: 2, 3 (s1's re-filed list), 4 (s2); 1 was s1's first list, replaced."""
        evidence = self.tmp / "佐证.pdf"
        evidence.write_bytes(b"evidence")
        update = lambda i, state, note, when, files=(): self.do(  # noqa: E731
            lambda c: lifecycle.update_item(c, self.blobs, i, state, note, list(files), act("学校", when)))
        verify = lambda i, close, comment, when: self.do(  # noqa: E731
            lambda c: lifecycle.verify_item(c, i, close, comment, act("督导组", when)))
        update(3, "in_progress", "已制定作业公示制度", "2023-04-15T10:00")
        update(2, "in_progress", "每周例会压缩至30分钟", "2023-04-18T10:00")
        update(3, "rectified", "作业总量已公示", "2023-04-20T10:00", [evidence])
        verify(3, True, "核查属实，同意销号", "2023-04-21T10:00")
        update(4, "rectified", "收费已规范", "2023-04-25T10:00", [evidence])
        verify(4, True, "同意销号", "2023-04-26T10:00")
        verify(4, False, "回头看发现反弹", "2023-05-10T10:00")


@pytest.fixture
def known(engine, db_url, tmp_path) -> Campaign:
    with engine.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "small.yaml"), act("admin", "2023-02-01T09:00"))
    c = Campaign(engine, db_url, tmp_path)
    c.run_phases()
    return c


# --- the phase completion audit ---

PHASES = [
    ["学习动员", d("2023-02-14"), d("2023-03-05"), d("2023-02-14T00:00"), d("2023-03-05T23:59:59"), "按条件转段",
     None, 3, 1, 1, 0, 1, 0],
    ["自查自纠", d("2023-03-06"), d("2023-03-31"), d("2023-03-06T00:00"), d("2023-04-10T11:00"), "特批转段",
     FORCE_REASON, 3, 1, 1, 1, 0, 0],
    ["总结提高", d("2023-04-06"), d("2023-04-30"), d("2023-04-10T11:00"), None, "进行中", None, 1, 0, 0, 0, 0, 1],
]
DUE_PLAN, DUE_LIST, DUE_SUMMARY = d("2023-02-28T23:59:59"), d("2023-04-05T23:59:59"), d("2023-04-30T23:59:59")
ROWS = [
    [1, "学习动员", "第一小学", "实施方案", "制定实施方案", DUE_PLAN, d("2023-02-20T10:00"), 1, "按时报送", "无需审核",
     None, None, 0, 0, 0, None],
    [2, "学习动员", "第二小学", "实施方案", "制定实施方案", DUE_PLAN, d("2023-03-02T10:00"), 1, "逾期报送", "无需审核",
     None, None, 0, 3, 0, None],
    [3, "学习动员", "第三小学", "实施方案", "制定实施方案", DUE_PLAN, None, 0, "免报", "无需审核", None, None, 0, 1, 0,
     "方案由学区统一制定"],
    [4, "自查自纠", "第一小学", "问题清单", "问题清单", DUE_LIST, d("2023-04-04T09:00"), 2, "按时报送", "通过", "督导组",
     None, 1, 0, 0, None],
    [5, "自查自纠", "第二小学", "问题清单", "问题清单", DUE_LIST, d("2023-04-07T09:00"), 1, "逾期报送", "通过", "督导组",
     "同意", 0, 2, 0, None],
    [6, "自查自纠", "第三小学", "问题清单", "问题清单", DUE_LIST, None, 0, "逾期未报", None, None, None, 0, 3, 0, None],
    [7, "总结提高", "教育局", "总结报告", "总结报告", DUE_SUMMARY, None, 0, "未到期", "无需审核", None, None, 0, 0, 0, None],
]
OVERRIDES = [
    [1, "学习动员", "免报", "第三小学", "实施方案", d("2023-02-27T15:00"), "admin", "方案由学区统一制定"],
    [2, "自查自纠", "特批转段", None, None, d("2023-04-10T11:00"), "局长", FORCE_REASON],
]
TITLE = "2023年作风整顿（测试）阶段完成情况审计表"


def sheet(path: Path, name: str) -> list[list]:
    return [list(r) for r in load_workbook(path)[name].iter_rows(values_only=True)]


def test_the_phase_audit_in_excel_cell_by_cell(known, tmp_path):
    with known.engine.connect() as conn:
        audit = phase_audit(conn, KEY, at=AUDIT_AT)
    out = tmp_path / "audit.xlsx"
    write_report(phase_audit_report(audit), "xlsx", out)
    wb = load_workbook(out)
    assert wb.sheetnames == ["阶段概况", "材料明细", "特批记录"]
    assert sheet(out, "阶段概况") == [
        [f"{TITLE}——一、各阶段完成情况（截至 2023-04-12 12:00）"] + [None] * 12,
        ["阶段", "计划开始", "计划结束", "实际开始", "完成时间", "转段方式", "特批理由", "应报", "按时报送", "逾期报送",
         "逾期未报", "免报", "未到期"], *PHASES]
    assert sheet(out, "材料明细") == [
        [f"{TITLE}——二、应报材料明细（截至 2023-04-12 12:00）"] + [None] * 15,
        ["序号", "阶段", "单位", "材料", "步骤", "截止时间", "报送时间", "报送版本数", "结果", "审核结论", "审核人", "审核意见",
         "退回次数", "催办次数", "督办次数", "免报理由"], *ROWS]
    assert sheet(out, "特批记录") == [
        [f"{TITLE}——三、特批（强制转段、免报）记录（截至 2023-04-12 12:00）"] + [None] * 7,
        ["序号", "阶段", "类型", "单位", "材料", "时间", "操作人", "理由"], *OVERRIDES]
    ws = wb["材料明细"]
    assert ws.freeze_panes == "A3" and all(c.font.b for c in ws[2]) and ws["A1"].font.b
    assert ws["F3"].number_format == "yyyy-mm-dd hh:mm" and ws.column_dimensions["C"].width >= 10
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$2:$2"


def test_one_phase_only_and_an_unknown_phase(known):
    from sqlalchemy import event

    statements = []
    event.listen(known.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with known.engine.connect() as conn:
        phase_audit(conn, KEY, at=AUDIT_AT)
    # set-based: the campaign, its phases, the audit log's overrides, one joined query; never one per unit
    assert len(statements) == 4, statements
    with known.engine.connect() as conn:
        audit = phase_audit(conn, KEY, "self_check", AUDIT_AT)
        assert [r["unit"] for r in audit.rows] == ["s1", "s2", "s3"]
        assert [(o["kind"], o["by"]) for o in audit.overrides] == [("forced_advance", "局长")]
        # before the due instant the missing list is only pending
        early = phase_audit(conn, KEY, "self_check", local("2023-04-05T12:00"))
        assert [r["outcome"] for r in early.rows] == ["on_time", "late", "pending"]
        with pytest.raises(Exception, match="nope"):
            phase_audit(conn, KEY, "nope", AUDIT_AT)


def test_the_phase_audit_as_json_csv_and_html(known):
    with known.engine.connect() as conn:
        report = phase_audit_report(phase_audit(conn, KEY, at=AUDIT_AT))
    doc = json.loads(json.dumps(report.document, default=lambda v: v.isoformat()))
    assert doc["kind"] == "phase-audit" and doc["at"] == "2023-04-12T12:00:00+08:00"
    assert [r["outcome"] for r in doc["rows"]] == ["on_time", "late", "waived", "on_time", "late", "missing", "pending"]
    s1 = doc["rows"][3]
    assert (s1["due"], s1["filed_at"], s1["versions"], s1["rejections"], s1["review"], s1["reviewer"]) == (
        "2023-04-05T23:59:59+08:00", "2023-04-04T09:00:00+08:00", 2, 1, "accepted", "督导组")
    assert doc["phases"][1]["forced"] is True and doc["phases"][1]["force_reason"] == FORCE_REASON
    assert [(o["kind"], o["by"], o["at"]) for o in doc["overrides"]] == [
        ("waiver", "admin", "2023-02-27T15:00:00+08:00"), ("forced_advance", "局长", "2023-04-10T11:00:00+08:00")]

    lines = render_csv(report).split("\r\n")
    assert lines[0].startswith("阶段,计划开始,") and lines[2].startswith("自查自纠,2023-03-06,2023-03-31,")
    assert "6,自查自纠,第三小学,问题清单,问题清单,2023-04-05 23:59,,0,逾期未报,,,,0,3,0," in lines

    page = render_html(report)
    assert page.count("<table>") == 3 and "<th>催办次数</th>" in page and '<td class="text bad">逾期未报</td>' in page
    assert "size: A4 landscape" in page and "Noto Sans CJK SC" in page
    assert not any(s in page for s in ("src=", "href=", "@import", "url(", "<script"))


# --- the ledger ---

def ledger_cells(unit_column: bool) -> list[list]:
    rows = [
        ["第一小学", "会议多落实少", "慢", "精简会议", "王副局长", "办公室", d("2023-06-30"), None, "每周例会压缩至30分钟",
         STATE_ZH["in_progress"]],
        ["第一小学", "作业负担重", "庸", "控制作业总量", "李副校长", "教务处", d("2023-05-31"), None, "核查属实，同意销号",
         STATE_ZH["closed"]],
        ["第二小学", EVIL, "推", "规范收费", "赵校长", "总务处", d("2023-07-15"), None, "回头看发现反弹",
         STATE_ZH["reopened"]],
    ]
    return [[n, *(r if unit_column else r[1:])] for n, r in enumerate(rows, start=1)]


def test_the_ledger_in_excel_cell_by_cell(known, tmp_path):
    known.run_ledger()
    with known.engine.connect() as conn:
        report = ledger_report(ledger_rows(conn, KEY), KEY, "2023年作风整顿（测试）", LEDGER_AT)
        s1 = ledger_report(ledger_rows(conn, KEY, "s1"), KEY, "2023年作风整顿（测试）", LEDGER_AT, "s1")
    out = tmp_path / "ledger.xlsx"
    write_report(report, "xlsx", out)
    assert sheet(out, "整改台账") == [
        ["2023年作风整顿（测试）问题整改台账（截至 2023-05-12 09:00）"] + [None] * 10,
        ["序号", "单位", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限", "长效机制", "进展", "状态"],
        *ledger_cells(True)]
    # formula-like text is text in Excel too, never a formula
    assert load_workbook(out)["整改台账"]["C5"].data_type == "s"
    one = tmp_path / "s1.xlsx"
    write_report(s1, "xlsx", one)
    assert sheet(one, "整改台账") == [
        ["2023年作风整顿（测试）问题整改台账（第一小学）（截至 2023-05-12 09:00）"] + [None] * 9,
        # the nine, and 长效机制: the four namings (四个明确) of seed 000
        ["序号", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限", "长效机制", "进展", "状态"],
        *ledger_cells(False)[:2]]


def test_csv_is_safe_against_formula_injection(known, tmp_path):
    known.run_ledger()
    with known.engine.connect() as conn:
        report = ledger_report(ledger_rows(conn, KEY), KEY, "活动", LEDGER_AT)
    report.tables[0].rows[0]["measure"] = "+1 -2 @SUM(A1)"
    report.tables[0].rows[1]["measure"] = "\tcmd"
    out = tmp_path / "ledger.csv"
    write_report(report, "csv", out)
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data  # BOM: Excel reads the Chinese right
    import csv

    rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["序号", "单位", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限", "长效机制", "进展", "状态"]
    assert rows[3][2] == "'" + EVIL and rows[1][4] == "'+1 -2 @SUM(A1)" and rows[2][4] == "'\tcmd"
    assert rows[1][:4] == ["1", "第一小学", "会议多落实少", "慢"] and rows[1][7] == "2023-06-30"


def test_the_ledger_as_json(known):
    known.run_ledger()
    with known.engine.connect() as conn:
        report = ledger_report(ledger_rows(conn, KEY), KEY, "活动", LEDGER_AT)
    doc = json.loads(json.dumps(report.document, default=lambda v: v.isoformat()))
    assert [(i["id"], i["unit"], i["state"], i["deadline"]) for i in doc["items"]] == [
        (2, "s1", "in_progress", "2023-06-30"), (3, "s1", "closed", "2023-05-31"), (4, "s2", "reopened", "2023-07-15")]
    assert doc["items"][1]["closed_at"] == "2023-04-21T10:00:00+08:00" and doc["at"] == "2023-05-12T09:00:00+08:00"


# --- rendering: PDF looked at as an image, the closure chart ---

def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG, decoded by hand (no imaging library)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (0, 2, 4, 6)
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [r if color != 6 else bytes(v for i, v in enumerate(r) if i % 4 != 3) for r in rows]


def ink(path: Path) -> float:
    """The share of pixels that are not (near) white."""
    width, height, rows = png_pixels(path)
    channels = len(rows[0]) // width
    dark = sum(1 for r in rows for x in range(width) if min(r[x * channels:(x + 1) * channels]) < 200)
    return dark / (width * height)


@pytest.fixture(scope="module")
def browser_tools() -> None:
    missing = [t for t in ("chromium", "pdftoppm", "pdftotext") if not shutil.which(t)]
    assert not missing, f"missing {missing}: apt-get install chromium poppler-utils fonts-noto-cjk"


def test_the_pdf_has_the_report_on_it(known, tmp_path, browser_tools):
    with known.engine.connect() as conn:
        report = phase_audit_report(phase_audit(conn, KEY, at=AUDIT_AT))
    pdf = tmp_path / "审计.pdf"
    write_report(report, "pdf", pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert TITLE in text and "逾期未报" in text and FORCE_REASON in text
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    page = next(tmp_path.glob("page*.png"))
    width, height, _ = png_pixels(page)
    assert width > height  # A4 landscape
    assert 0.01 < ink(page) < 0.5  # text and table lines, neither blank nor a black page


def test_the_closure_chart(known, tmp_path, browser_tools):
    known.run_ledger()
    with known.engine.connect() as conn:
        series = closure_series(conn, KEY)
        assert closure_series(conn, KEY, local("2023-04-21T08:00"))[-1] == {
            "day": dt.date(2023, 4, 21), "total": 3, "closed": 1, "in_progress": 2}
    # from the day s1's list was accepted (its first list's items are no longer current) to the reopen
    assert len(series) == 37 and series[0] == {"day": dt.date(2023, 4, 4), "total": 2, "closed": 0, "in_progress": 2}
    assert [(p["day"].isoformat(), p["closed"]) for p in series if p["day"].day in (20, 21, 25, 26)] == [
        ("2023-04-20", 0), ("2023-04-21", 1), ("2023-04-25", 1), ("2023-04-26", 2)]
    assert series[-1] == {"day": dt.date(2023, 5, 10), "total": 3, "closed": 1, "in_progress": 2}
    report = closure_report(series, KEY, "2023年作风整顿（测试）", LEDGER_AT)
    svg = tmp_path / "closure.svg"
    write_report(report, "svg", svg)
    root = ET.parse(svg).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    lines = {p.get("class"): p.get("points").split() for p in root.findall("s:polyline", ns)}
    assert set(lines) == {"series-total", "series-closed"} and all(len(v) == 37 for v in lines.values())
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "2023年作风整顿（测试）整改台账销号进度" in texts and "已销号" in texts and "04-04" in texts and "05-10" in texts
    png = tmp_path / "closure.png"
    write_report(report, "png", png)
    assert png_pixels(png)[:2] == (960, 440) and 0.005 < ink(png) < 0.5
    xlsx = tmp_path / "closure.xlsx"
    write_report(report, "xlsx", xlsx)
    rows = sheet(xlsx, "销号进度")
    assert rows[1] == ["日期", "问题总数", "已销号", "未销号", "销号率"] and len(rows) == 39
    assert rows[19] == [d("2023-04-21"), 3, 1, 2, pytest.approx(1 / 3)]
    assert "<svg" in render_html(report) and ET.fromstring(closure_report([], KEY, "空", LEDGER_AT).chart_svg) is not None


# --- the ledger import ---

def test_an_exported_ledger_imports_back(known, tmp_path):
    known.run_ledger()
    with known.engine.connect() as conn:
        report = ledger_report(ledger_rows(conn, KEY, "s1"), KEY, "活动", LEDGER_AT, "s1")
    out = tmp_path / "s1.xlsx"
    write_report(report, "xlsx", out)
    items = import_ledger(out)
    assert [(i["row"], i["problem"], i["measure"], i["leader"], i["office"], i["deadline"], i["progress"], i["state"])
            for i in items] == [
        (3, "会议多落实少", "精简会议", "王副局长", "办公室", dt.date(2023, 6, 30), "每周例会压缩至30分钟", "in_progress"),
        (4, "作业负担重", "控制作业总量", "李副校长", "教务处", dt.date(2023, 5, 31), "核查属实，同意销号", "closed")]
    # a closed item needs evidence and a supervisor: an import cannot bring it in closed
    with pytest.raises(InvalidInput, match="第 4 行 / row 4"):
        known.do(add_ledger_items, KEY, items, act("admin", "2023-05-12T10:00"), "s3", "s1.xlsx")
    summary = known.do(add_ledger_items, KEY, items[:1], act("admin", "2023-05-12T10:00"), "s3", "s1.xlsx")
    assert summary["items"] == 1 and summary["units"] == ["s3"]
    with known.engine.connect() as conn:
        [s3] = ledger_rows(conn, KEY, "s3")
    assert (s3["problem"], s3["leader"], s3["deadline"], s3["progress"], s3["state"], s3["source"]) == (
        "会议多落实少", "王副局长", dt.date(2023, 6, 30), "每周例会压缩至30分钟", "in_progress", "import")


def test_a_bureau_workbook_with_its_own_headers(known, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["城关学区作风整顿问题整改台账"])
    ws.append([])
    ws.append(["序号", "单位", "存在问题", "问题类别", "整改措施", "责任人", "牵头科室", "完成时限", "整改进展", "完成情况"])
    ws.append([1, "第三小学", "值班制度落实不严", "松", "完善值班台账", "周副校长", "办公室", dt.datetime(2023, 6, 1), None, None])
    ws.append([2, "s2", "服务意识不强", "庸", "开展作风培训", "赵校长", "人事股", "长期坚持", "每月一次培训", "正在整改"])
    ws.append([3, None, None, None, None, None, None, None, None, None])  # a numbered but blank template row
    path = tmp_path / "台账.xlsx"
    wb.save(path)
    items = import_ledger(path)
    assert [(i["row"], i["unit"], i["deadline"], i["long_term"], i["state"]) for i in items] == [
        (4, "第三小学", dt.date(2023, 6, 1), False, "open"), (5, "s2", None, True, "in_progress")]
    known.do(add_ledger_items, KEY, items, act("admin", "2023-05-12T10:00"), None, "台账.xlsx")
    with known.engine.connect() as conn:
        rows = ledger_rows(conn, KEY)
    s2 = [r for r in rows if r["unit"] == "s2" and r["source"] == "import"]
    assert [(r["problem"], r["long_term"], r["progress"]) for r in s2] == [("服务意识不强", True, "每月一次培训")]
    cells = ledger_report(rows, KEY, "活动", LEDGER_AT).tables[0]
    # in the order of the unit list: s2 before s3
    assert [r["deadline"] for r in cells.rows if r["source"] == "import"] == ["长期坚持", dt.date(2023, 6, 1)]


def test_a_bad_workbook_is_refused_with_every_row(known, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限", "进展", "状态"])
    ws.append([1, "问题一", "慢", None, "王", "办公室", "明年", None, "差不多"])
    ws.append([2, "问题二", "慢", "措施", "王", "办公室", None, None, None])
    path = tmp_path / "bad.xlsx"
    wb.save(path)
    with pytest.raises(InvalidInput) as err:
        import_ledger(path)
    text = str(err.value)
    for expected in ("第 2 行 / row 2, 列 整改措施", "第 2 行 / row 2, 列 整改时限: 不是有效日期", "无法识别 '差不多'",
                     "第 3 行 / row 3, 列 整改时限: 不能为空"):
        assert expected in text, text
    ws.delete_cols(4)  # no 整改措施 column at all
    wb.save(path)
    with pytest.raises(InvalidInput, match="缺少列 整改措施"):
        import_ledger(path)
    items = [{"row": 2, "unit": "nowhere", "problem": "p", "category": None, "measure": "m", "leader": "l",
              "office": "o", "deadline": None, "long_term": True, "progress": None, "state": "open"}]
    with pytest.raises(InvalidInput, match="nowhere"):
        known.do(add_ledger_items, KEY, items, act("admin", "2023-05-12T10:00"), None, "x.xlsx")


# --- the command line ---

# registers the commands the way cli.py does, unless cli.py already has them
RUN = ("import sys; sys.argv[0] = 'campaign'; from campaign_app.cli import app, main; "
       "from campaign_app.cli_report import report_app; "
       "[app.registered_commands.append(c) for c in report_app.registered_commands "
       " if c.name not in {x.name for x in app.registered_commands}]; main()")


@pytest.fixture
def cli_campaign(tmp_path) -> str:
    """The known campaign in a SQLite file that a command-line process can open."""
    from campaign_model.store.db import open_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    eng = open_engine(url)
    with eng.begin() as conn:
        create_campaign(conn, load_spec_text(SPEC, "small.yaml"), act("admin", "2023-02-01T09:00"))
    c = Campaign(eng, url, tmp_path)
    c.run_phases()
    c.run_ledger()
    eng.dispose()
    return url


def test_reports_from_the_command_line(cli_campaign, tmp_path, browser_tools):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CAMPAIGN_HOME": str(tmp_path / "home"), "CAMPAIGN_DB_URL": cli_campaign}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-c", RUN, *args], check=False, capture_output=True, text=True,
                                env=env, cwd=tmp_path, timeout=180)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    out = tmp_path / "out"
    out.mkdir()
    audit = run("report", KEY, "--kind", "phase-audit", "--at", "2023-04-12T12:00", "--out", str(out / "审计.xlsx"))
    assert audit.returncode == 0 and "审计.xlsx" in audit.stdout, audit.stderr
    assert sheet(out / "审计.xlsx", "材料明细")[2:] == ROWS
    one = run("report", KEY, "--kind", "phase-audit", "--phase", "self_check", "--at", "2023-04-12T12:00",
              "--format", "json", "--out", str(out / "audit.json"))
    assert one.returncode == 0, one.stderr
    assert [r["unit"] for r in json.loads((out / "audit.json").read_text(encoding="utf-8"))["rows"]] == ["s1", "s2", "s3"]
    assert run("report", KEY, "--kind", "ledger", "--unit", "s1", "--out", str(out / "s1.csv")).returncode == 0
    assert (out / "s1.csv").read_text(encoding="utf-8-sig").startswith("序号,问题,类别,整改措施,")
    notice = run("report", KEY, "--kind", "notice", "--at", "2023-04-12T12:00", "--out", str(out / "通报.xlsx"))
    assert notice.returncode == 0, notice.stderr
    assert sheet(out / "通报.xlsx", "通报")[2][2:4] == ["第三小学", "问题清单"]  # the notice's own sheet
    assert run("report", KEY, "--kind", "notice", "--at", "2023-04-12T12:00", "--out", str(out / "n.html")).returncode == 0
    assert "第三小学" in (out / "n.html").read_text(encoding="utf-8")
    assert run("report", KEY, "--kind", "closure", "--out", str(out / "c.svg")).returncode == 0
    assert ET.parse(out / "c.svg").getroot().tag.endswith("svg")
    pdf = run("report", KEY, "--kind", "ledger", "--format", "pdf", "--out", str(out / "ledger.pdf"))
    assert pdf.returncode == 0 and (out / "ledger.pdf").read_bytes().startswith(b"%PDF-"), pdf.stderr

    imported = run("ledger-import", KEY, str(out / "s1.csv"), "--unit", "s3", "--at", "2023-05-12T10:00", "--json")
    assert imported.returncode == 2 and "row 3" in imported.stderr  # s1's second item is closed
    bureau = tmp_path / "import.xlsx"
    wb = Workbook()
    wb.active.append(["序号", "问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限", "进展", "状态"])
    wb.active.append([1, "=1+1", "慢", "措施", "王", "办公室", "2023/6/30", None, None])
    wb.active["B2"].data_type = "s"  # text that looks like a formula, as our own export writes it
    wb.save(bureau)
    imported = run("ledger-import", KEY, str(bureau), "--unit", "s3", "--at", "2023-05-12T10:00", "--json")
    assert imported.returncode == 0 and json.loads(imported.stdout)["items"] == 1, imported.stderr
    assert run("report", KEY, "--kind", "ledger", "--unit", "s3", "--out", str(out / "s3.csv")).returncode == 0
    assert "'=1+1,慢,措施,王,办公室,2023-06-30,," in (out / "s3.csv").read_text(encoding="utf-8-sig")

    for args, words in [(("--kind", "bogus"), "--kind"), (("--kind", "ledger", "--format", "svg"), "--format"),
                        (("--kind", "ledger", "--phase", "self_check"), "--phase"),
                        (("--kind", "phase-audit", "--phase", "nope"), "nope"),
                        (("--kind", "ledger", "--unit", "nope"), "nope"),
                        (("--kind", "ledger", "--at", "next week"), "--at")]:
        bad = run("report", KEY, *args, "--out", str(out / "x.xlsx"))
        assert bad.returncode == 2 and words in bad.stderr and "错误" in bad.stderr, (args, bad.stderr)
    bad = run("report", KEY, "--kind", "ledger", "--out", str(tmp_path / "no" / "x.xlsx"))
    assert bad.returncode == 2 and "--out" in bad.stderr
    missing = run("report", "nope", "--kind", "ledger", "--out", str(out / "x.xlsx"))
    assert missing.returncode == 2 and "nope" in missing.stderr
    assert run("report", "--help").returncode == 0
