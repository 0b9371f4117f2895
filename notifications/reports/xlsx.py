"""Reports as Excel workbooks, laid out the way bureaus keep them: one sheet per table, the title in
row 1 (merged), bold headers in row 2, frozen below the header, a filter, widths fitted to the
Chinese text, and a print setup (A4 landscape, one page wide, header repeated on every page). The audit
chain's head the report was read at is on a last sheet of its own (审计链), so the first sheet stays one
plain table (ledger-import reads it back).

Every text cell is written as text (`cellsafe.text_cells`): a unit's problem "=HYPERLINK(...)" is never a
formula, in Excel or in any other spreadsheet.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

from .cellsafe import anchor_sheet, text_cells
from .model import Report, Table

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
MAX_WIDTH = 50  # wider text wraps: a 200-character problem must not make a 200-column cell
HEADER_FILL = "DDEBF7"


def _width(value: Any) -> int:
    """Display width: a Chinese character takes two columns in Excel's default font."""
    if isinstance(value, dt.datetime):
        return 16
    if isinstance(value, dt.date):
        return 10
    text = "" if value is None else str(value)
    return max((sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
                for line in text.splitlines() or [""]), default=0)


def _cell_value(value: Any) -> Any:
    # Excel keeps no time zone: the campaign's wall-clock time, as the title says ("截至 ...")
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def sheet_title(report: Report, table: Table) -> str:
    if len(report.tables) == 1:
        return report.heading
    return report.titled(f"{report.title}——{table.title}" if report.lang != "en" else f"{report.title}: {table.title}")


def _sheet(ws: Any, report: Report, table: Table) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    ncols = len(table.columns)
    ws.append([sheet_title(report, table)])
    text_cells(ws[1])
    if ncols > 1:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append(table.headers)
    text_cells(ws[2])
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
    for row in table.rows:
        ws.append([_cell_value(v) for v in table.values(row)])
        text_cells(ws[ws.max_row])
        for cell, col in zip(ws[ws.max_row], table.columns, strict=False):
            cell.border = border
            cell.alignment = Alignment(vertical="top", wrap_text=col.wrap)
            if isinstance(cell.value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(cell.value, dt.date):
                cell.number_format = DATE_FORMAT
            elif col.kind == "percent":
                cell.number_format = "0.0%"
    for i, col in enumerate(table.columns, start=1):
        widths = [_width(col.title)] + [_width(r.get(col.key)) for r in table.rows]
        ws.column_dimensions[get_column_letter(i)].width = min(MAX_WIDTH, max(widths) + 2)
    ws.freeze_panes = "A3"
    last = get_column_letter(ncols)
    ws.auto_filter.ref = f"A2:{last}{max(ws.max_row, 2)}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "2:2"


def write_xlsx(report: Report, path: str | Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for table in report.tables:
        _sheet(wb.create_sheet(table.name[:31]), report, table)  # Excel's limit on sheet names
    if not report.tables:  # nothing to tabulate (e.g. a summary without figures): say so on a sheet of its own
        ws = wb.create_sheet("Note" if report.lang == "en" else "说明")
        for line in [report.title, *report.summary]:
            ws.append([line])
        text_cells(ws["A"])
        ws.column_dimensions["A"].width = 80
    if report.audit_head is not None:
        anchor_sheet(wb, report.audit_head, report.lang)
    wb.save(path)
