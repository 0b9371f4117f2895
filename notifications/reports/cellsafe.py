"""Cells no spreadsheet runs as formulas (OWASP "CSV injection", here for XLSX), and the audit anchor sheet.

openpyxl stores any string starting with "=" as a formula (data_type "f"); Excel and LibreOffice also
take a text typed as "+1+2", "-1+2" or "@SUM(1)" for a formula once someone edits the cell. Each text
cell a writer fills from user input (unit names, rows, comments, problems, signers, titles) goes through
`text_cells`: written as a string cell (data_type "s": never evaluated when the file is opened) and,
when it starts like a formula, with Excel's quote prefix (the cell's `quotePrefix` style, what Excel
sets when one types '=1+2): the text stays text even when the cell is edited, and the text itself is
unchanged (no visible quote, it reads back as written). CSV has no types: there the text gets a
leading single quote (`flat.safe_cell`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .model import ANCHOR_LABEL

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def text_cells(cells: Iterable[Any]) -> None:
    """Make every text cell among `cells` plain text, quote-prefixed when it starts like a formula."""
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_START):
                cell.quotePrefix = True


def anchor_sheet(wb: Any, head: tuple[int, str], lang: str = "zh") -> None:
    """A last sheet with the audit chain's head: what `campaign audit verify --anchor SEQ:HASH` takes."""
    ws = wb.create_sheet("Audit chain" if lang == "en" else "审计链")
    label = ANCHOR_LABEL.get(lang, ANCHOR_LABEL["zh"])
    if lang == "en":
        ws.append(["Event", "Hash", label])
        ws.append([head[0], head[1], f"{head[0]}:{head[1]}"])
        ws.append(["Check with: campaign audit verify --anchor " + f"{head[0]}:{head[1]}"])
    else:
        ws.append(["审计链序号", "哈希", label])
        ws.append([head[0], head[1], f"{head[0]}:{head[1]}"])
        ws.append(["核对方法：campaign audit verify --anchor " + f"{head[0]}:{head[1]}"])
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 70
    ws.column_dimensions["C"].width = 80
