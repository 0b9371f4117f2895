"""Structured artifact rows (a ledger of problems, a list of measures): reading and checking them
against the columns an artifact kind declares in `ArtifactKind.rows`.

`read_rows` reads CSV, XLSX or JSON (a list of objects); `validate_rows` checks and normalizes the
rows: dates become 'YYYY-MM-DD', numbers float, integers int, text is stripped, an empty optional
cell is None. Any problem raises `RowsInvalid` listing every problem, one per line, as
`FILE: 第 N 行 / row N, 列 TITLE (key): message`, and for a spreadsheet the cell (`（单元格 H5 / cell H5）`).
Row numbers are the spreadsheet's (header = 1, first data row = 2, or below a title row), or for JSON the
1-based index of the object.

A column is found by its key, its title, its English title, or a header bureaus write for the ledger's
columns (the 四个明确: 存在问题 or 问题, 责任领导 or 责任人, 牵头股室 or 责任股室, 整改时限 or 完成时限, 长效机制;
in English Problem, Leader, Office, Deadline, Mechanism …, see `ALIASES`), with or without its other language
in brackets (`整改时限（Deadline）`). A 序号 (No.) column numbers the rows and is not read; a row with only
its number filled is an empty row.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InvalidInput, SpecInvalid
from .spec import ArtifactKind, Column
from .tabular import CSV_SUFFIXES, MAX_FILE_BYTES, MAX_ROWS, XLSX_SUFFIXES, cell_text, read_sheet, title_hint, too_large

RowProblem = dict[str, Any]  # {"row": int | None, "column": str | None, "message": str, "cell": "H5" (a sheet's)}

_DATE = re.compile(
    r"(\d{4})\s*(?:[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})|年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?|(\d{2})(\d{2}))"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # Excel's CSV export may add a time; the date is what counts
)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


class RowsInvalid(InvalidInput):
    """Rows that break their artifact kind's columns; `problems` holds every one as a dict."""

    def __init__(self, file: str, problems: list[RowProblem], kind: ArtifactKind | None = None):
        self.file = file
        self.problems = problems
        columns = (kind.rows or {}) if kind else {}
        super().__init__("\n".join(_format(file, p, columns) for p in problems), field="rows")


def _letter(index: int) -> str:
    """The spreadsheet's letter of the 0-based column `index`: 0 → A, 27 → AB."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _format(file: str, p: RowProblem, columns: Mapping[str, Column]) -> str:
    cell = f"（单元格 {p['cell']} / cell {p['cell']}）" if p.get("cell") else ""
    where = []
    if p["row"] is not None:
        where.append(f"第 {p['row']} 行 / row {p['row']}")
    if p["column"] is not None:
        title = columns[p["column"]].title if p["column"] in columns else p["column"]
        where.append(f"列 {title} ({p['column']})")
    return f"{file}: {', '.join(where)}: {p['message']}{cell}" if where else f"{file}: {p['message']}"


# the headers bureaus write for the ledger's columns, besides a template's own titles: Chinese, then English
ALIASES: dict[str, tuple[str, ...]] = {
    "problem": ("存在问题", "问题", "存在的问题", "问题描述", "Problem", "Problems", "Issue"),
    "category": ("问题类别", "类别", "Category"),
    "source": ("问题来源", "来源", "Source"),
    "measure": ("整改措施", "措施", "Measure", "Measures", "Rectification measure", "Rectification measures"),
    "leader": ("责任领导", "责任人", "负责人", "Leader", "Leader responsible", "Responsible leader"),
    "office": ("牵头股室", "牵头科室", "责任股室", "责任科室", "Office", "Lead office"),
    "deadline": ("整改时限", "完成时限", "整改期限", "Deadline", "Due"),
    "mechanism": ("长效机制", "Mechanism", "Long-term mechanism", "Long-term mechanisms"),
}
NUMBER_HEADERS = ("序号", "编号", "No.", "No", "#")  # the rows' own numbers: not read
_BRACKETED = re.compile(r"^(.*?)[(（\[【](.*?)[)）\]】]$")


def _norm(header: str) -> str:
    return re.sub(r"\s+", "", str(header)).casefold()


def _lookup(columns: Mapping[str, Column]) -> dict[str, str]:
    """Normalized header -> column key; a key wins over another column's identical title, a title over an
    English title, and these over the bureaus' usual headers (`ALIASES`) of the kind's own columns."""
    found = {_norm(key): key for key in columns}
    for key, col in columns.items():
        found.setdefault(_norm(col.title), key)
    for key, col in columns.items():
        english = getattr(col, "title_en", None)
        if isinstance(english, str) and english:
            found.setdefault(_norm(english), key)
    for key in columns:
        for alias in ALIASES.get(key, ()):
            found.setdefault(_norm(alias), key)
    return found


def _find(lookup: Mapping[str, str], header: Any) -> str | None:
    """The key of the column a header names: whole, or either side of a bracket (`整改时限（Deadline）`)."""
    norm = _norm(header)
    if norm in lookup:
        return lookup[norm]
    m = _BRACKETED.match(norm)
    if m:
        return lookup.get(m.group(1)) or lookup.get(m.group(2))
    return None


def _is_number_header(header: Any, lookup: Mapping[str, str]) -> bool:
    """A 序号 column (when no column of the kind is called so)."""
    norm = _norm(header)
    m = _BRACKETED.match(norm)
    return _find(lookup, header) is None and any(
        n in {_norm(h) for h in NUMBER_HEADERS} for n in (norm, *(m.groups() if m else ())))


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = cell_text(value) if not isinstance(value, bool) else None
    m = _DATE.fullmatch(text or "")
    if m:
        y, mo, d = m.group(1), m.group(2) or m.group(4) or m.group(6), m.group(3) or m.group(5) or m.group(7)
        try:
            return dt.date(int(y), int(mo), int(d)).isoformat()
        except ValueError:
            pass
    raise ValueError(f"不是有效日期 '{value}'，应写作 2023-04-05、2023/4/5 或 2023年4月5日 "
                     f"(not a valid date; write 2023-04-05, 2023/4/5 or 2023年4月5日)")


def _number(value: Any) -> float:
    # bool is an int in Python, and an Excel TRUE is no amount
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = value.strip() if isinstance(value, str) else ""
    if _THOUSANDS.fullmatch(text):  # "1,234.5" as a formatted Excel cell exports to CSV
        text = text.replace(",", "")
    if _NUMBER.fullmatch(text):
        return float(text)
    raise ValueError(f"不是数字 '{value}' (not a number)")


def _integer(value: Any) -> int:
    try:
        number = _number(value)
    except ValueError:
        raise ValueError(f"不是整数 '{value}' (not a whole number)") from None
    if not number.is_integer():
        raise ValueError(f"不是整数 '{value}' (not a whole number)")
    return int(number)


def _convert(value: Any, col: Column) -> Any:
    if isinstance(value, (dict, list)):
        raise ValueError("应为单个值 (must be a single value, not a list or an object)")
    if col.type == "date":
        return _date(value)
    if col.type == "number":
        return _number(value)
    if col.type == "integer":
        return _integer(value)
    text = cell_text(value)
    if col.type == "choice" and col.choices and text not in col.choices:
        raise ValueError(f"'{text}' 不是可选项：{'、'.join(col.choices)} (not one of: {', '.join(col.choices)})")
    return text


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate_rows(raw: list[dict[str, Any]], kind: ArtifactKind, file: str, *,
                  row_numbers: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Normalized rows, keyed by column key in the kind's order; raises `RowsInvalid` with every problem.

    Keys of `raw` may be column keys or column titles. `row_numbers` gives each row's number in its
    file (read_rows passes the spreadsheet's); by default the 1-based index.
    """
    columns = kind.rows or {}
    if not columns:
        raise RowsInvalid(file, [{"row": None, "column": None,
                                  "message": f"材料类型 '{kind.title}' 没有定义表格列 (this artifact kind has no rows)"}])
    if not raw:
        raise RowsInvalid(file, [{"row": None, "column": None, "message": "文件中没有数据行 (the file has no rows)"}])
    numbers = list(row_numbers) if row_numbers is not None else list(range(1, len(raw) + 1))
    lookup = _lookup(columns)
    problems: list[RowProblem] = []
    reported: set[str] = set()
    out: list[dict[str, Any]] = []
    for n, item in zip(numbers, raw, strict=False):
        if not isinstance(item, Mapping):
            problems.append({"row": n, "column": None, "message": "应为对象（列名: 值） (must be an object of column: value)"})
            continue
        values: dict[str, Any] = {}
        for name, value in item.items():
            key = _find(lookup, name)
            if key is None and _is_number_header(name, lookup):
                continue
            if key is None:
                if _norm(name) not in reported:  # one report per unknown column, at its first row
                    reported.add(_norm(name))
                    problems.append({"row": n, "column": None, "message": _unknown(name, columns)})
            elif key in values:
                problems.append({"row": n, "column": key,
                                 "message": f"'{name}' 与另一列重复 (the column is given twice)"})
            else:
                values[key] = value
        row: dict[str, Any] = {}
        for key, col in columns.items():
            value = values.get(key)
            if _empty(value):
                row[key] = None
                if col.required:
                    problems.append({"row": n, "column": key, "message": "必填项为空 (required, but empty)"})
                continue
            try:
                row[key] = _convert(value, col)
            except ValueError as exc:
                problems.append({"row": n, "column": key, "message": str(exc)})
        out.append(row)
    if problems:
        raise RowsInvalid(file, problems, kind)
    return out


def _unknown(name: str, columns: Mapping[str, Column]) -> str:
    known = "、".join(f"{c.title} ({k})" for k, c in columns.items())
    return f"未知列 '{name}'，可用的列：{known} (unknown column '{name}')"


SUFFIXES = (*CSV_SUFFIXES, *XLSX_SUFFIXES, ".json")
MAX_DEPTH = 20  # a list of objects of single values is 2 deep; JSON nested deeper is refused before it is parsed
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_OPEN, _CLOSE = b"[{", b"]}"


def json_depth(data: bytes) -> int:
    """How deeply the JSON text's arrays and objects nest, without parsing it (json.loads recurses once
    per level, so `[` × 100,000 is a RecursionError): strings are cut out, then the brackets counted."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, bytes(b for b in range(256) if b not in _OPEN + _CLOSE))
    depth = deepest = 0
    for b in brackets:
        depth += 1 if b in _OPEN else -1
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
    return deepest


def _read_json(path: Path, file: str) -> list[Any]:
    def refuse(message: str) -> RowsInvalid:
        return RowsInvalid(file, [{"row": None, "column": None, "message": message}])

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise refuse(too_large(file, size))
        raw = path.read_bytes()
        if json_depth(raw) > MAX_DEPTH:
            raise refuse(f"JSON 嵌套超过 {MAX_DEPTH} 层，应为对象列表 "
                         f"(the JSON nests deeper than {MAX_DEPTH} levels; it must be a list of objects)")
        data = json.loads(raw.decode("utf-8-sig"))
    except FileNotFoundError:
        raise RowsInvalid(file, [{"row": None, "column": None, "message": "文件不存在 (file not found)"}]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise refuse(f"无法读取 JSON (cannot read the JSON: {exc})") from None
    if not isinstance(data, list):
        raise refuse("JSON 应为对象列表 (the JSON must be a list of objects)")
    if len(data) > MAX_ROWS:
        raise refuse(f"文件 {file} 超过 {MAX_ROWS} 行 (the file {file} has more than {MAX_ROWS} rows)")
    return data


def read_rows(path: Path, kind: ArtifactKind, name: str | None = None) -> list[dict[str, Any]]:
    """The validated rows of a CSV, XLSX or JSON file; raises `RowsInvalid` for every kind of fault,
    an unreadable file included, so a caller handles one error. `name` is what messages call the file
    (an upload's own name, when `path` is where it was spooled)."""
    path = Path(path)
    file = name or str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise RowsInvalid(file, [{"row": None, "column": None,
                                  "message": f"不支持的文件类型 '{path.suffix}'，请使用 {'、'.join(SUFFIXES)} "
                                             f"(unsupported file type '{path.suffix}'; use {', '.join(SUFFIXES)})"}])
    if suffix == ".json":
        return validate_rows(_read_json(path, file), kind, file)
    columns = kind.rows or {}
    lookup = _lookup(columns)

    def fits(header: list[str]) -> bool:  # the header row names columns; a title row above it names none
        return any(_find(lookup, title) for title in header if title)

    try:
        table = read_sheet(path, file, fits=fits if columns else None)
    except SpecInvalid as exc:
        raise RowsInvalid(file, [{"row": None, "column": None, "message": p.message} for p in exc.problems]) from None
    header, rows = table.header, table.rows
    hint = "" if fits(header) else title_hint(table, "、".join(c.title for c in columns.values()))

    # the header is checked once, not on every row as validate_rows would for JSON objects
    problems: list[RowProblem] = []
    used: dict[int, str] = {}
    seen: dict[str, str] = {}
    numbers: set[int] = set()  # the 序号 column(s)
    for i, title in enumerate(header):
        if not title:
            continue
        key = _find(lookup, title)
        if key is None and _is_number_header(title, lookup):
            numbers.add(i)
        elif columns and key is None:
            problems.append({"row": None, "column": None, "message": _unknown(title, columns) + hint})
        elif key in seen:
            problems.append({"row": None, "column": key,
                             "message": f"列 '{title}' 与列 '{seen[key]}' 重复 (the column appears twice)"})
        elif key is not None:
            seen[key] = title
            used[i] = key
    # a row with nothing but its 序号 is an empty row (a clerk numbers the rows before filling them)
    rows = [(n, cells) for n, cells in rows if any(not _empty(c) for i, c in enumerate(cells) if i not in numbers)]
    for n, cells in rows:
        stray = [i + 1 for i, c in enumerate(cells) if i not in used and i not in numbers and not _empty(c)
                 and (i >= len(header) or not header[i])]
        if stray:
            problems.append({"row": n, "column": None,
                             "message": f"第 {'、'.join(map(str, stray))} 列有值但没有表头 "
                                        f"(a value in column {', '.join(map(str, stray))}, which has no header)"})
    raw = [{key: cells[i] for i, key in used.items()} for _, cells in rows]
    letters = {key: _letter(i) for i, key in used.items()}
    try:
        result = validate_rows(raw, kind, file, row_numbers=[n for n, _ in rows])
    except RowsInvalid as exc:  # each bad cell named as the spreadsheet names it, H5
        problems.extend({**p, "cell": f"{letters[p['column']]}{p['row']}"}
                        if p["row"] is not None and p["column"] in letters else p for p in exc.problems)
        result = []
    if problems:
        raise RowsInvalid(file, problems, kind)
    return result
