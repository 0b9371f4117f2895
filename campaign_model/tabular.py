"""Reading a table file (CSV or XLSX) into its header and its numbered rows.

`read_table` returns `(header, rows)`: the header is the first non-empty row, as text; each row is
`(row_number, cells)` with the row number a spreadsheet user sees (the header is usually row 1, so
the first data row is 2). Fully empty rows are skipped but still counted, so numbers stay true.
CSV cells are text; XLSX cells keep their Python values (numbers, datetimes, booleans).
An unknown extension or an unreadable file raises `SpecInvalid` with one bilingual `Problem`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import Problem, SpecInvalid

Row = tuple[int, list[Any]]
CSV_SUFFIXES = (".csv", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
_DELIMITERS = (",", ";", "\t")


def _fail(path: Path, message: str) -> SpecInvalid:
    return SpecInvalid([Problem(str(path), None, "", message)])


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first; else GB18030, a superset of the GBK that Chinese Excel writes.

    UTF-16 is recognised by its BOM, as Excel's "Unicode text" export writes it.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def sniff_delimiter(text: str) -> str:
    """The delimiter that occurs most in the first non-empty line (the header).

    csv.Sniffer guesses from every character class and is easily fooled by Chinese text and
    by a single-column file; a header line rarely holds a delimiter inside a field.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def cell_text(value: Any) -> str | None:
    """A cell as stripped text; Excel stores codes and phone numbers as floats, so 1001.0 is '1001'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, dt.datetime) and value.time() == dt.time():
        value = value.date()
    text = str(value).strip()
    return text or None


def _is_empty(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _split(numbered: Iterable[tuple[int, Sequence[Any]]]) -> tuple[list[str], list[Row]]:
    header: list[str] | None = None
    rows: list[Row] = []
    for number, cells in numbered:
        if all(_is_empty(c) for c in cells):
            continue
        if header is None:
            header = ["" if c is None else str(c).strip() for c in cells]
            while header and not header[-1]:  # spreadsheets often carry formatted but empty columns
                header.pop()
            continue
        values = list(cells)
        values.extend([None] * (len(header) - len(values)))
        rows.append((number, values))
    return header or [], rows


def _read_csv(path: Path) -> tuple[list[str], list[Row]]:
    try:
        text = decode_text(path.read_bytes())
    except UnicodeDecodeError:
        raise _fail(path, "无法识别文件编码，请另存为 UTF-8 CSV (cannot decode the file; save it as UTF-8 CSV)") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        # a record is one spreadsheet row even when a quoted cell spans several lines
        return _split(enumerate(reader, start=1))
    except csv.Error as exc:
        raise _fail(path, f"CSV 格式错误 (malformed CSV: {exc})") from None


def _read_xlsx(path: Path) -> tuple[list[str], list[Row]]:
    import openpyxl  # imported here: loading it costs time that CSV users need not pay
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _fail(path, f"无法读取 Excel 文件 (cannot read the Excel file: {exc})") from None
    try:
        if not wb.worksheets:
            return [], []
        ws = wb.worksheets[0]
        # some tools write a wrong <dimension>, which would cut rows off; read what is there
        ws.reset_dimensions()
        return _split(enumerate(ws.iter_rows(values_only=True), start=1))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _fail(path, f"无法读取 Excel 文件 (cannot read the Excel file: {exc})") from None
    finally:
        wb.close()  # read-only workbooks keep the zip file open until closed


def read_table(path: Path) -> tuple[list[str], list[Row]]:
    """The header and the non-empty numbered rows of a CSV or XLSX file (see the module doc)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        raise _fail(path, f"不支持的文件类型 '{path.suffix}'，请使用 .csv 或 .xlsx "
                          f"(unsupported file type '{path.suffix}'; use .csv or .xlsx)")
    if not path.is_file():
        raise _fail(path, "文件不存在 (file not found)")
    try:
        return _read_csv(path) if suffix in CSV_SUFFIXES else _read_xlsx(path)
    except (PermissionError, IsADirectoryError) as exc:
        raise _fail(path, f"无法读取文件 (cannot read the file: {exc})") from None
