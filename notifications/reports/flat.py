"""Reports as CSV (for Excel users) and JSON (for tools).

CSV: UTF-8 with a byte-order mark, because Excel on a Chinese Windows reads a BOM-less file as GBK
and garbles every character; CRLF line ends, as Excel writes them. A text cell that a spreadsheet
would run as a formula (it starts with = + - @, a tab or a carriage return) gets a leading single
quote (OWASP "CSV injection"): a unit's problem text "=HYPERLINK(...)" must stay text. The first
table comes first with its header on line 1, so the file also reads as one plain table; further
tables follow after an empty line, each under its title. The audit chain's head the report was read at
comes last, after an empty line, in the first column only (`审计链校验码 SEQ:HASH`), so that the ledger's
import reads that row as an empty item and passes over it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .cellsafe import FORMULA_START
from .model import Report, display, jsonable

__all__ = ["FORMULA_START", "render_csv", "render_json", "safe_cell", "write_csv", "write_json"]


def safe_cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def _cell(value: Any, kind: str) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind != "percent":
        return value  # a count is a number, never a formula, even if it were negative
    return safe_cell(display(value, kind))


def render_csv(report: Report) -> str:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    for n, table in enumerate(report.tables):
        if n:
            writer.writerow([])
            writer.writerow([safe_cell(table.title)])
        writer.writerow([safe_cell(h) for h in table.headers])
        for row in table.rows:
            writer.writerow([_cell(v, c.kind) for v, c in zip(table.values(row), table.columns, strict=False)])
    if report.audit_head is not None:
        writer.writerow([])
        writer.writerow([report.anchor_line])
    return buf.getvalue()


def write_csv(report: Report, path: str | Path) -> None:
    Path(path).write_text(render_csv(report), encoding="utf-8-sig", newline="")


def render_json(report: Report) -> str:
    doc = report.document
    if report.audit_head is not None:
        doc = {**doc, "audit_head": {"seq": report.audit_head[0], "hash": report.audit_head[1]}}
    return json.dumps(doc, ensure_ascii=False, indent=2, default=jsonable) + "\n"


def write_json(report: Report, path: str | Path) -> None:
    Path(path).write_text(render_json(report), encoding="utf-8")
