"""Reading a rectification ledger (整改台账) back from the Excel layout bureaus keep (or its CSV).

The header row is found among the first rows (a title row usually sits above it); columns are
matched by their Chinese headers, with the variants bureaus write (问题描述, 责任人, 完成时限, ...).
Every item must carry the four namings (四个明确): measure, responsible leader, lead office and
deadline — a date, or 长期坚持 for a long-term item; the fourth, its long-term mechanism (长效机制), is read
when the workbook has the column (older ledgers have none). Every problem is reported at once, with the
spreadsheet's row number, in Chinese and English, as one `InvalidInput`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import zipfile
from pathlib import Path
from typing import Any

from campaign_model.errors import InvalidInput, SpecInvalid
from campaign_model.labels import LEDGER_STATE, names
from campaign_model.ledger import STATE_ZH
from campaign_model.rows import _date as parse_date  # the date rules filed issue lists already follow
from campaign_model.tabular import MAX_ROWS, cell_text, check_csv_text, check_file_size, decode_text, sniff_delimiter, xlsx_rows

from .flat import FORMULA_START

HEADERS = {
    "序号": "no", "编号": "no", "单位": "unit", "单位名称": "unit", "问题": "problem", "存在问题": "problem",
    "问题描述": "problem", "类别": "category", "问题类别": "category", "整改措施": "measure", "责任领导": "leader",
    "责任人": "leader", "牵头股室": "office", "牵头科室": "office", "责任股室": "office", "责任科室": "office",
    "整改时限": "deadline", "完成时限": "deadline", "整改期限": "deadline", "长效机制": "mechanism", "进展": "progress",
    "整改进展": "progress", "进展情况": "progress", "状态": "state", "整改状态": "state", "完成情况": "state",
}
REQUIRED = {"problem": "问题", "measure": "整改措施", "leader": "责任领导", "office": "牵头股室", "deadline": "整改时限"}
# the labels our export writes, the codes, and what bureaus write by hand
STATES = {**{v: k for k, v in STATE_ZH.items()}, **{k: k for k in STATE_ZH}, "未整改": "open", "未开始": "open",
          "待整改": "open", "正在整改": "in_progress", "推进中": "in_progress", "长期坚持": "in_progress",
          "已整改": "rectified", "已整改待验收": "rectified", "整改完成": "rectified", "已完成": "rectified",
          "销号": "closed", "反弹": "reopened", "已反弹": "reopened", "已退回": "returned", "退回整改": "returned",
          "已退回/反弹": "reopened"}
LONG_TERM = re.compile(r"长期(坚持|整改)?|持续整改|long[- ]?term", re.IGNORECASE)
HEADER_SEARCH = 10  # how many rows above the header a title block may take


def _norm(text: Any) -> str:
    return re.sub(r"\s+", "", str(text or ""))


# an English campaign's ledger report (its headers and state labels) reads back too
HEADERS.update({_norm(k): v for k, v in {
    "No.": "no", "Unit": "unit", "Problem": "problem", "Category": "category", "Measure": "measure", "Leader": "leader",
    "Office": "office", "Deadline": "deadline", "Long-term mechanism": "mechanism", "Progress": "progress",
    "State": "state"}.items()})
STATES.update({_norm(label): state for state, label in names(LEDGER_STATE, "en").items()})


def _raw_rows(path: Path) -> list[list[Any]]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            check_file_size(path, str(path))  # bounded before it is read, as every table the product reads
            text = decode_text(path.read_bytes())
            check_csv_text(text, sniff_delimiter(text), str(path))
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
            rows = list(itertools.islice(reader, MAX_ROWS + 1))
            if len(rows) > MAX_ROWS:
                raise InvalidInput(f"{path}: 超过 {MAX_ROWS} 行 (more than {MAX_ROWS} rows)", field="file")
            # undo the quote our CSV export puts before a formula-like cell
            return [[c[1:] if c.startswith("'") and c[1:].startswith(FORMULA_START) else c for c in r] for r in rows]
        if suffix in (".xlsx", ".xlsm"):
            # unpacked size, rows and cells bounded (a zip bomb is refused before openpyxl opens it)
            return [list(r) for r in xlsx_rows(path, str(path))]
    except SpecInvalid as exc:
        raise InvalidInput("\n".join(f"{p.file}: {p.message}" for p in exc.problems), field="file") from None
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{path}: 无法读取台账文件 (cannot read the ledger file: {exc})", field="file") from None
    raise InvalidInput(f"{path}: 不支持的文件类型 '{path.suffix}'，请使用 .xlsx 或 .csv "
                       f"(unsupported file type; use .xlsx or .csv)", field="file")


def _header(path: Path, rows: list[list[Any]]) -> tuple[int, dict[int, str]]:
    for i, row in enumerate(rows[:HEADER_SEARCH]):
        found = {j: HEADERS[_norm(c)] for j, c in enumerate(row) if _norm(c) in HEADERS}
        if "problem" in found.values() and len(found) >= 3:
            missing = [t for k, t in REQUIRED.items() if k not in found.values()]
            if missing:
                raise InvalidInput(f"{path}: 第 {i + 1} 行 / row {i + 1}: 缺少列 {'、'.join(missing)} "
                                   f"(missing columns: {', '.join(missing)})", field="file")
            return i, found
    raise InvalidInput(f"{path}: 前 {HEADER_SEARCH} 行中找不到表头（应含 序号、问题、类别、整改措施、责任领导、牵头股室、"
                       f"整改时限、长效机制、进展、状态）(no header row with the ledger's columns in the first {HEADER_SEARCH} rows)",
                       field="file")


def _item(number: int, cells: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    where = f"第 {number} 行 / row {number}"
    text = {k: cell_text(v) if k != "deadline" else v for k, v in cells.items()}
    for key, title in REQUIRED.items():
        if key != "deadline" and not text.get(key):
            problems.append(f"{where}, 列 {title}: 不能为空 (required: every item names its {key})")
    deadline, long_term, raw = None, False, cells.get("deadline")
    if cell_text(raw) is None:
        problems.append(f"{where}, 列 整改时限: 不能为空，写日期或“长期坚持” (required: a date or 长期坚持)")
    elif LONG_TERM.fullmatch(cell_text(raw) or ""):
        long_term = True
    else:
        try:
            deadline = dt.date.fromisoformat(parse_date(raw))
        except ValueError as exc:
            problems.append(f"{where}, 列 整改时限: {exc}")
    state = "open"
    if text.get("state"):
        state = STATES.get(_norm(text["state"]), "")
        if not state:
            known = "、".join(STATE_ZH.values())
            problems.append(f"{where}, 列 状态: 无法识别 '{text['state']}'，可选：{known} (unknown state)")
    return {"row": number, "unit": text.get("unit"), "problem": text.get("problem"), "category": text.get("category"),
            "measure": text.get("measure"), "leader": text.get("leader"), "office": text.get("office"),
            "deadline": deadline, "long_term": long_term, "mechanism": text.get("mechanism"), "progress": text.get("progress"),
            "state": state}


def import_ledger(path: str | Path) -> list[dict[str, Any]]:
    """The items of a ledger workbook (or CSV), each with its spreadsheet row number as "row"."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: 文件不存在 (file not found)", field="file")
    rows = _raw_rows(path)
    head, columns = _header(path, rows)
    items: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, row in enumerate(rows[head + 1:], start=head + 2):
        cells = {key: row[j] if j < len(row) else None for j, key in columns.items()}
        if all(cell_text(v) is None for k, v in cells.items() if k != "no"):
            continue  # an empty or numbered-but-blank row, as templates carry at the bottom
        items.append(_item(number, cells, problems))
    if not items and not problems:
        problems.append("表头下没有数据行 (no items below the header)")
    if problems:
        raise InvalidInput("\n".join(f"{path}: {p}" for p in problems), field="file")
    return items


import_ledger_xlsx = import_ledger  # the name the plan uses
