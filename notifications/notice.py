"""The notice (通报) as documents: Markdown (Chinese or English), an Excel sheet, an email message.

Pure rendering of `NoticeData`: no database, no clock, so a notice can be re-rendered and tested as is.
Given the audit chain's head (`audit_head`, read with the data), each form ends with it (审计链校验码
SEQ:HASH): a notice sent to the supervising group anchors the chain outside the database.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from campaign_model.grades import notice_lines
from campaign_model.store.notice_query import NoticeData, NoticeGroup, NoticeItem

from .reports.cellsafe import anchor_sheet, text_cells
from .reports.model import anchor_line

STATUS = {"zh": ("逾期未报", "退回未重报"), "en": ("not filed", "rejected, not re-filed")}
HEADER = ["序号", "上级单位", "单位", "材料", "步骤", "截止时间", "逾期天数", "状态"]
_DIGITS = "零一二三四五六七八九"


def notice_title(data: NoticeData, lang: str = "zh") -> str:
    if lang == "en":
        return f"Notice on the filing of materials: {data.title_en or data.title}"
    return f"关于{data.title}材料报送情况的通报"


def signer(data: NoticeData, lang: str = "zh") -> str | None:
    """Who signs the notice: the campaign's leading group office (spec messages.issuer), else the organizer."""
    if lang == "en":
        return data.issuer_en or data.issuer or data.organizer_name
    return data.issuer or data.organizer_name


def _cn_number(n: int) -> str:
    """Section numbers as an official document writes them (一、二、……十一、)."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


NO_PARENT = {"zh": "无上级单位", "en": "No parent unit"}


def parent_label(g: NoticeGroup, lang: str = "zh") -> str:
    """The heading of a group: its parent unit, or the document's own words for units without one (the
    store's placeholder name carries an English gloss, which has no place in an official document)."""
    return NO_PARENT[lang] if g.parent_key is None else g.parent_name


def _grades(data: NoticeData, lang: str) -> list[str] | None:
    """The assessment's section (grades and ranking), when the spec's `assessment.in_notice` asks for it."""
    if data.ranking is None or data.assessment is None:
        return None
    return notice_lines(data.ranking, data.assessment, lang)


def _status(item: NoticeItem, lang: str) -> str:
    return STATUS[lang][1 if item.rejected else 0]


def _cell(text: str) -> str:
    # a unit or material name with a pipe would split the Markdown table row
    return text.replace("|", "\\|").replace("\n", " ")


def _summary_zh(d: NoticeData) -> str:
    when = f"{d.at.year}年{d.at.month}月{d.at.day}日 {d.at:%H:%M}"
    head = (f"截至{when}，本次活动已到期应报材料 {d.due_total} 项，其中按时报送 {d.filed_on_time} 项，"
            f"逾期补报 {d.filed_late} 项" + (f"，免报 {d.waived} 项" if d.waived else ""))
    if not d.groups:
        return head + "；所有到期材料均已报送，无逾期未报单位。"
    rejected = f"（其中退回未重报 {d.rejected_overdue} 项）" if d.rejected_overdue else ""
    return head + f"；仍有 {d.units_overdue} 个单位的 {d.items_overdue} 项材料逾期未报{rejected}，现予通报。"


def _summary_en(d: NoticeData) -> str:
    head = (f"As of {d.at.isoformat(timespec='minutes')}, {d.due_total} required materials were due: "
            f"{d.filed_on_time} filed on time, {d.filed_late} filed late" + (f", {d.waived} waived" if d.waived else ""))
    if not d.groups:
        return head + ". Every material due has been filed; no unit is overdue."
    rejected = f" ({d.rejected_overdue} rejected and not re-filed)" if d.rejected_overdue else ""
    return head + f". {d.units_overdue} unit(s) still owe {d.items_overdue} overdue item(s){rejected}."


def _section(n: int, g: NoticeGroup, lang: str) -> list[str]:
    if lang == "en":
        name = parent_label(g, lang)
        lines = [f"## {n}. {name} ({g.units} unit(s), {len(g.items)} item(s))", "",
                 "| Unit | Material | Due | Days overdue | Status |"]
    else:
        lines = [f"## {_cn_number(n)}、{parent_label(g)}（{g.units} 个单位，{len(g.items)} 项）", "",
                 "| 单位 | 材料 | 截止时间 | 逾期天数 | 状态 |"]
    lines.append("|---|---|---|---:|---|")
    for i in g.items:
        material = (i.artifact_title_en or i.artifact_title) if lang == "en" else i.artifact_title
        lines.append(f"| {_cell(i.unit_name)} | {_cell(material)} | {i.due:%Y-%m-%d %H:%M} | {i.days_overdue} "
                     f"| {_status(i, lang)} |")
    return lines + [""]


def render_markdown(data: NoticeData, lang: str = "zh", audit_head: tuple[int, str] | None = None) -> str:
    if lang not in STATUS:
        raise ValueError(f"unknown language {lang!r}")
    lines = [data.doc_number, ""] if data.doc_number else []
    lines += [f"# {notice_title(data, lang)}", "", _summary_zh(data) if lang == "zh" else _summary_en(data), ""]
    for n, group in enumerate(data.groups, start=1):
        lines += _section(n, group, lang)
    if data.groups:
        lines += ["请以上单位抓紧补报，并向活动办说明逾期原因。" if lang == "zh"
                  else "The units listed above are asked to file without further delay and to explain the delay.", ""]
    if (graded := _grades(data, lang)) is not None:
        n = len(data.groups) + 1
        lines += [f"## {_cn_number(n)}、考核排名" if lang == "zh" else f"## {n}. Assessment and ranking", "", *graded, ""]
    signed = f"{data.at.year}年{data.at.month}月{data.at.day}日" if lang == "zh" else f"{data.at:%Y-%m-%d}"
    lines += [line for line in (signer(data, lang), signed) if line]
    if (anchor := anchor_line(audit_head, lang)) is not None:
        lines += ["", anchor]
    return "\n".join(lines) + "\n"


def _width(value: Any) -> int:
    """Display width: a Chinese character takes two columns in Excel's default font."""
    text = f"{value:%Y-%m-%d %H:%M}" if hasattr(value, "strftime") else str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


HEADER_EN = ["No.", "Parent unit", "Unit", "Material", "Step", "Due", "Days overdue", "Status"]


def write_xlsx(data: NoticeData, path: str | Path, lang: str = "zh", audit_head: tuple[int, str] | None = None) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    header = HEADER_EN if lang == "en" else HEADER
    ws.title = "Notice" if lang == "en" else "通报"
    ws.append([f"{notice_title(data, lang)} (as of {data.at:%Y-%m-%d %H:%M})" if lang == "en"
               else f"{notice_title(data)}（截至 {data.at:%Y-%m-%d %H:%M}）"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(header)
    text_cells(ws[1])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    n = 0
    for group in data.groups:
        for i in group.items:
            n += 1
            # Excel keeps no time zone: the wall-clock time of the campaign's zone, as the title says
            title = (i.artifact_title_en or i.artifact_title) if lang == "en" else i.artifact_title
            ws.append([n, parent_label(group, lang), i.unit_name, title, i.step_title,
                       i.due.replace(tzinfo=None), i.days_overdue, _status(i, lang)])
            ws.cell(row=ws.max_row, column=6).number_format = "yyyy-mm-dd hh:mm"
            text_cells(ws[ws.max_row])  # a name starting with "=" is text, never a formula
    for col in range(1, len(header) + 1):
        cells = [ws.cell(row=r, column=col).value for r in range(2, ws.max_row + 1)]
        ws.column_dimensions[get_column_letter(col)].width = min(50, max(_width(v) for v in cells) + 2)
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:{get_column_letter(len(header))}{ws.max_row}"
    if audit_head is not None:
        anchor_sheet(wb, audit_head, lang)
    wb.save(path)


def _numbered(data: NoticeData) -> list[str]:
    return [data.doc_number, ""] if data.doc_number else []


def _signed(data: NoticeData, lang: str) -> list[str]:
    """The signature of a plain-text notice, when the spec names the issuer (the Markdown always signs)."""
    if not data.issuer:
        return []
    day = f"{data.at:%Y-%m-%d}" if lang == "en" else f"{data.at.year}年{data.at.month}月{data.at.day}日"
    return ["", signer(data, lang) or "", day]


def notice_message(data: NoticeData, lang: str = "zh", audit_head: tuple[int, str] | None = None) -> tuple[str, str, str]:
    """(subject, plain text, Markdown) for an email or a chat-group post, in the campaign's language only."""
    anchor = anchor_line(audit_head, lang)
    tail = ["", anchor] if anchor else []
    if lang == "en":
        title = data.title_en or data.title
        subject = (f"[{title}] Notice on filings: {data.units_overdue} unit(s), {data.items_overdue} item(s) overdue"
                   if data.groups else f"[{title}] Notice on filings: nothing overdue")
        lines = _numbered(data) + [notice_title(data, lang), "", _summary_en(data)]
        for n, g in enumerate(data.groups, start=1):
            lines += ["", f"{n}. {parent_label(g, lang)}"]
            lines += [f"  - {i.unit_name}: {i.artifact_title_en or i.artifact_title}, due {i.due:%Y-%m-%d %H:%M}, "
                      f"{i.days_overdue} day(s) overdue, {_status(i, lang)}" for i in g.items]
        if (graded := _grades(data, lang)) is not None:
            lines += ["", f"{len(data.groups) + 1}. Assessment and ranking", *graded]
        lines += _signed(data, lang)
        return subject, "\n".join(lines + tail) + "\n", render_markdown(data, lang, audit_head)
    if data.groups:
        subject = f"【{data.title}】材料报送情况通报：{data.units_overdue} 个单位 {data.items_overdue} 项逾期未报"
    else:
        subject = f"【{data.title}】材料报送情况通报：无逾期未报材料"
    lines = _numbered(data) + [notice_title(data), "", _summary_zh(data)]
    for n, g in enumerate(data.groups, start=1):
        lines += ["", f"{_cn_number(n)}、{parent_label(g)}"]
        lines += [f"  - {i.unit_name}：{i.artifact_title}" + (f"（{i.step_title}）" if i.step_title != i.artifact_title else "")
                  + f"，截止 {i.due:%Y-%m-%d %H:%M}，逾期 {i.days_overdue} 天，{_status(i, 'zh')}" for i in g.items]
    if (graded := _grades(data, "zh")) is not None:
        lines += ["", f"{_cn_number(len(data.groups) + 1)}、考核排名", *graded]
    lines += _signed(data, "zh")
    return subject, "\n".join(lines + tail) + "\n", render_markdown(data, lang, audit_head)
