"""Blank workbooks for the files units fill in: the units list, and each artifact kind filed as rows
(问题清单 and the like).

Each has the header row the importers read (`campaign_model.unitfile`, `campaign_model.rows`), a note on
every header cell saying what goes there, drop-down lists for choice columns, date and number checks,
the header frozen and the columns sized for Chinese text, so that a filled copy imports without edits.
A second sheet repeats the notes for those whose spreadsheet hides cell comments; the choices live on a
hidden third sheet (an inline list breaks on a comma and is capped at 255 characters). Column titles,
notes and choices come from the spec: each is written as text, never a formula (`cellsafe.text_cells`).

A rows kind's sheet is laid out as the bureaus' own forms (the 问题整改清单 a school fills in, signs and
stamps): the kind's title merged across as row 1; for an issue list (a kind whose rows become ledger items)
a line for the unit's stamp, its head's signature and the date as row 2; then the header, led by 序号; text
columns wrapped and sized for their content (存在问题 and 整改措施 wide, 责任领导 narrow), printed landscape,
one page wide, the header repeated on each page. The importer (`campaign_model.rows`) finds the header
below the title and skips the 序号 column.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from campaign_model.errors import NotFound
from campaign_model.spec import ArtifactKind, Column

from .cellsafe import text_cells
from .xlsx import _width as display_width

UNITS = "units"
ROWS = 1000  # rows below the header that carry the drop-downs and checks
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FILL = "DDEBF7"
REQUIRED_FILL = "FCE4D6"
NUMBER_HEADER = "序号"
# the issue list's columns (四个明确) as wide as bureaus make them: long text wide, names narrow
WIDTHS = {"problem": 36, "measure": 36, "mechanism": 30, "cause": 28, "basis": 24, "leader": 12, "office": 14,
          "deadline": 13, "category": 12, "source": 12}
SIGN_LINE = ("填报单位（盖章）：" + " " * 24 + "单位主要负责人（签字）：" + " " * 16 + "填报日期：    年  月  日")


@dataclass(frozen=True)
class Field:
    header: str
    note: str
    required: bool = False
    kind: str = "text"  # text | date | number | integer | choice
    choices: tuple[str, ...] = ()
    width: int = 0
    wrap: bool = False  # long free text: wrapped in its cells


# the units list: the first Chinese header of each column `unitfile` reads
UNIT_FIELDS = (
    Field("单位代码", "必填。单位的代码：字母、数字、汉字、-、_ 或 .，最多 64 个字符，名单内不重复，如 school-1 "
                    "(required: the unit's key, letters, digits, '-', '_' or '.', unique in the list)", True, width=16),
    Field("单位名称", "必填。单位全称，如 城关第一小学 (required: the unit's full name)", True, width=24),
    Field("上级单位", "上级单位的代码或名称（名称须唯一，可从下拉列表选本表中的单位名称）；最上级单位留空 "
                    "(the parent's key or unique name; empty for the top unit)", width=20),
    Field("标签", "可选。多个标签用 、 或 ; 分隔，如 学校、直属；活动规格中 from: tag:学校 按标签选单位 "
                "(optional tags, separated by 、 or ;)", width=16),
    Field("联系人", "可选。接收催办的联系人姓名；填写邮箱、电话或职务时必填 (the contact who gets reminders; "
                  "required when an email, phone or role is given)", width=12),
    Field("职务", "可选。联系人职务，如 校长 (optional: the contact's role)", width=12),
    Field("邮箱", "可选。联系人邮箱，如 zhang@example.cn；催办邮件发往此处 (optional: where reminder emails go)", width=26),
    Field("电话", "可选。联系人电话 (optional: the contact's phone)", width=16),
)

_TYPE_WORDS = {
    "text": ("文字", "text"),
    "date": ("日期，写作 2026-04-05 或 2026/4/5", "a date, 2026-04-05 or 2026/4/5"),
    "number": ("数字", "a number"),
    "integer": ("整数", "a whole number"),
    "choice": ("从下拉列表中选择", "one of the list"),
}


def column_field(col: Column, key: str | None = None) -> Field:
    zh, en = _TYPE_WORDS.get(col.type, _TYPE_WORDS["text"])
    need_zh, need_en = ("必填", "required") if col.required else ("选填", "optional")
    choices = tuple(col.choices or ()) if col.type == "choice" else ()
    listed = f"：{'、'.join(choices)}" if choices else ""
    note = f"{need_zh}。{zh}{listed} ({need_en}: {en}{': ' + ', '.join(choices) if choices else ''})"
    width = WIDTHS.get(key or "", 30 if col.type == "text" else 14)
    kind = col.type if col.type in _TYPE_WORDS else "text"
    return Field(col.title, note, col.required, kind, choices, width, wrap=kind == "text" and width >= 20)


NUMBER_FIELD = Field(NUMBER_HEADER, "可不填。各行的序号，导入时不读取 (optional: the row's number; not imported)", width=6)


def available(kinds: Mapping[str, ArtifactKind]) -> dict[str, str]:
    """What `blank_workbook` can make for these kinds: `units` and each kind filed as rows, key -> title."""
    return {UNITS: "单位名单", **{key: kind.title for key, kind in kinds.items() if kind.rows}}


def blank_workbook(kinds: Mapping[str, ArtifactKind], which: str) -> tuple[str, bytes]:
    """(file name, XLSX bytes) of the blank workbook for `which` (`units` or a rows kind's key or title)."""
    offered = available(kinds)
    key = which if which in offered else next((k for k, title in offered.items() if title == which), None)
    if key is None:
        listed = "、".join(f"{k} / {title}" for k, title in offered.items())
        raise NotFound(f"没有 '{which}' 的空白模板，可选：{listed} (no blank workbook for '{which}'; "
                       f"choose one of: {', '.join(offered)})")
    if key == UNITS:
        return "单位名单.xlsx", _workbook("单位名单", UNIT_FIELDS, parent_names=True)
    kind = kinds[key]
    fields = tuple(column_field(col, k) for k, col in (kind.rows or {}).items())
    numbered = not any(f.header == NUMBER_HEADER for f in fields)
    return f"{kind.title}.xlsx", _workbook(kind.title, ((NUMBER_FIELD,) if numbered else ()) + fields,
                                           heading=kind.title, sign_line=SIGN_LINE if kind.is_ledger_source() else None)


def units_workbook(rows: Sequence[Sequence[str | None]]) -> tuple[str, bytes]:
    """(file name, XLSX bytes) of the units list with `rows` under the header (the columns of UNIT_FIELDS):
    a campaign's current units, to edit and import back."""
    return "单位名单.xlsx", _workbook("单位名单", UNIT_FIELDS, parent_names=True, rows=rows)


def _sheet_title(text: str) -> str:
    # Excel forbids these in sheet names and cuts them at 31 characters
    return "".join("_" if c in "[]:*?/\\" else c for c in text)[:31] or "Sheet"


def _workbook(title: str, fields: tuple[Field, ...], parent_names: bool = False,
              rows: Sequence[Sequence[str | None]] = (), heading: str | None = None,
              sign_line: str | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(title)
    last_letter = get_column_letter(len(fields))
    for line, size in ((heading, 16), (sign_line, 11)):
        if line is None:
            continue
        ws.append([line])
        n = ws.max_row
        ws.merge_cells(f"A{n}:{last_letter}{n}")
        cell = ws.cell(row=n, column=1)
        text_cells([cell])
        cell.font = Font(bold=size > 11, size=size)
        cell.alignment = Alignment(horizontal="center" if size > 11 else "left", vertical="center")
        ws.row_dimensions[n].height = 30 if size > 11 else 22
    top = ws.max_row + 1 if heading or sign_line else 1  # the header's row
    ws.append([f.header for f in fields])
    ws.freeze_panes = f"A{top + 1}"
    if heading or sign_line:  # printed as the bureaus' forms: landscape, one page wide, the header on every page
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = f"{top}:{top}"
        ws.row_dimensions[top].height = 30
    for values in rows:  # every value as text: a name or a phone number is never a formula or a number
        ws.append(list(values))
        text_cells(list(ws[ws.max_row]))
    notes = wb.create_sheet("填写说明")
    notes.append(["列 (column)", "必填 (required)", "说明 (what goes there)"])
    lists = wb.create_sheet("选项")
    lists.sheet_state = "hidden"
    last = ROWS + top
    for i, f in enumerate(fields, start=1):
        letter = get_column_letter(i)
        cell = ws.cell(row=top, column=i)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=REQUIRED_FILL if f.required else HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.comment = Comment(f.note, "campaignflow", width=320, height=120)
        notes.append([f.header, "是" if f.required else "否", f.note])
        text_cells([cell, *notes[notes.max_row]])
        cells = f"{letter}{top + 1}:{letter}{last}"
        if f.wrap:  # the column's cells wrap long text (the column's own style, as Excel applies it to new cells)
            ws.column_dimensions[letter].alignment = Alignment(wrap_text=True, vertical="top")
        check = None
        if f.kind == "choice" and f.choices:
            for n, choice in enumerate(f.choices, start=1):
                text_cells([lists.cell(row=n, column=i, value=choice)])
            check = DataValidation(type="list", formula1=f"'选项'!${letter}$1:${letter}${len(f.choices)}", allow_blank=True)
            check.error = "请从下拉列表中选择 (choose one of the list)"
        elif f.kind == "date":
            # any date from 2000 on (Excel's serial 36526); the cells show and take yyyy-mm-dd
            check = DataValidation(type="date", operator="greaterThanOrEqual", formula1="36526", allow_blank=True)
            check.error = "请填写日期，如 2026-04-05 (enter a date, e.g. 2026-04-05)"
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
        elif f.kind in ("integer", "number"):
            check = DataValidation(type="whole" if f.kind == "integer" else "decimal", operator="greaterThanOrEqual",
                                   formula1="0", allow_blank=True)
            check.error = "请填写数字 (enter a number)" if f.kind == "number" else "请填写整数 (enter a whole number)"
        elif parent_names and f.header == "上级单位":
            # the names of this list as suggestions; a key is still accepted (a warning, not a stop)
            check = DataValidation(type="list", formula1=f"$B${top + 1}:$B${last}", allow_blank=True, errorStyle="warning")
            check.error = "不是本表中的单位名称；填写上级单位代码也可以 (not a name of this list; a key is fine too)"
        if check is not None:
            check.errorTitle = check.promptTitle = f.header[:32]
            check.showErrorMessage = True
            check.prompt = f.note[:250]  # Excel refuses an input message over 255 characters
            check.showInputMessage = True
            ws.add_data_validation(check)
            check.add(cells)
        width = max([f.width, display_width(f.header) + 4, *(display_width(c) + 4 for c in f.choices)])
        ws.column_dimensions[letter].width = min(width, 40)
    notes.column_dimensions["A"].width = 16
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 90
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

