"""Reading a table file (CSV or XLSX) into its header and its numbered rows.

`read_table` returns `(header, rows)`: the header is the first non-empty row, as text; each row is
`(row_number, cells)` with the row number a spreadsheet user sees (the header is usually row 1, so
the first data row is 2). Fully empty rows are skipped but still counted, so numbers stay true.
CSV cells are text; XLSX cells keep their Python values (numbers, datetimes, booleans).
An unknown extension or an unreadable file raises `SpecInvalid` with one bilingual `Problem`.

Every file is bounded before it is parsed, so that a small upload cannot take the server's memory or
time (a zip bomb: a 1 MB workbook whose sheet unpacks to 1 GiB): a CSV or JSON file is at most
`MAX_FILE_BYTES`; a workbook's parts unpack to at most `MAX_UNPACKED_BYTES` together (the sizes its zip
directory declares, which the zip reader never exceeds), no XML part declares a DTD (entity bombs), no
row holds more than `MAX_COLUMNS` cells and the shared strings are at most `MAX_CELLS`; then at most
`MAX_ROWS` rows and `MAX_CELLS` cells are read. The refusal names the file and the limit.

`read_sheet(path, name, fits=...)` finds the header among the first `HEADER_ROWS` non-empty rows: the
first row that `fits` (a title row such as "XX县教育局单位名单", merged across, may sit above it).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from .errors import Problem, SpecInvalid

Row = tuple[int, list[Any]]
CSV_SUFFIXES = (".csv", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
_DELIMITERS = (",", ";", "\t")

MAX_FILE_BYTES = 32 * 2**20  # a CSV or JSON file, read whole
MAX_UNPACKED_BYTES = 64 * 2**20  # a workbook's parts unpacked, together
MAX_PARTS = 2000  # parts in a workbook's zip
MAX_ROWS = 100_000  # rows of a sheet, empty ones included (a unit list of a province has a few thousand)
MAX_CELLS = 1_000_000  # cells read, and strings in a workbook's shared string table
MAX_COLUMNS = 16_384  # cells in one row: Excel's own limit (column XFD)
HEADER_ROWS = 5  # non-empty rows at the top among which the header is looked for


class Table(NamedTuple):
    header: list[str]
    rows: list[Row]
    header_row: int  # the header's row number (0 when the file is empty)
    titles: list[tuple[int, str]]  # the non-empty rows above the header, as (row number, text)


def _fail(path: Path | str, message: str) -> SpecInvalid:
    return SpecInvalid([Problem(str(path), None, "", message)])


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB"


def too_large(file: str, size: int, limit: int = MAX_FILE_BYTES) -> str:
    """The refusal of a file larger than `limit` bytes, in both languages."""
    return (f"文件 {file} 过大（{_mb(size)}），上限 {_mb(limit)} "
            f"(the file {file} is too large: {_mb(size)}; the limit is {_mb(limit)})")


def check_file_size(path: Path, file: str, limit: int = MAX_FILE_BYTES) -> None:
    """Raises `SpecInvalid` when the file at `path` is larger than `limit`, before anything reads it."""
    size = path.stat().st_size
    if size > limit:
        raise _fail(file, too_large(file, size, limit))


_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c|si)(?=[\s/>])")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def _scan_part(stream: IO[bytes], file: str, part: str) -> None:
    """Reads one XML part in chunks: no DTD; no row wider than MAX_COLUMNS; at most MAX_CELLS shared strings."""
    cells = strings = 0
    tail = b""
    while chunk := stream.read(1 << 20):
        data = tail + chunk
        cut = data.rfind(b"<")
        cut = cut if cut >= len(data) - 256 else len(data)  # a tag cut by the chunk's end waits for the next chunk
        data, tail = data[:cut], data[cut:]
        if _DTD.search(data):
            raise _fail(file, f"Excel 文件 {file} 含有 DTD 声明（{part}），拒绝读取 "
                              f"(the Excel file {file} declares a DTD in {part}; refused)")
        for m in _TAG.finditer(data):
            tag = m.group(1)
            if tag == b"c":
                cells += 1
                if cells > MAX_COLUMNS:
                    raise _fail(file, f"Excel 文件 {file} 有一行超过 {MAX_COLUMNS} 个单元格 "
                                      f"(a row of the Excel file {file} holds more than {MAX_COLUMNS} cells)")
            elif tag == b"row":
                cells = 0
            else:
                strings += 1
                if strings > MAX_CELLS:
                    raise _fail(file, f"Excel 文件 {file} 的文本超过 {MAX_CELLS} 条 "
                                      f"(the Excel file {file} holds more than {MAX_CELLS} strings)")
    if _DTD.search(tail):
        raise _fail(file, f"Excel 文件 {file} 含有 DTD 声明（{part}），拒绝读取 (the Excel file {file} declares a DTD in {part}; refused)")


def check_workbook(path: Path, file: str) -> None:
    """Raises `SpecInvalid` unless the workbook at `path` is safely small once unpacked (see the module doc).

    The zip's directory declares each part's unpacked size; the zip reader stops there (and fails the
    checksum) whatever the compressed data hold, so the declared sizes bound what openpyxl can read."""
    try:
        with zipfile.ZipFile(path) as z:
            parts = z.infolist()
            if len(parts) > MAX_PARTS:
                raise _fail(file, f"Excel 文件 {file} 的部件过多（{len(parts)} 个），上限 {MAX_PARTS} "
                                  f"(the Excel file {file} has {len(parts)} parts; the limit is {MAX_PARTS})")
            unpacked = sum(p.file_size for p in parts)
            if unpacked > MAX_UNPACKED_BYTES:
                raise _fail(file, f"Excel 文件 {file} 解压后达 {_mb(unpacked)}，上限 {_mb(MAX_UNPACKED_BYTES)}；"
                                  f"请删除多余的工作表、格式和空行后另存 "
                                  f"(the Excel file {file} unpacks to {_mb(unpacked)}; the limit is "
                                  f"{_mb(MAX_UNPACKED_BYTES)}: remove spare sheets, formatting and empty rows)")
            for p in parts:
                if p.filename.endswith((".xml", ".rels")):
                    with z.open(p) as stream:
                        _scan_part(stream, file, p.filename)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError) as exc:
        raise _fail(file, f"无法读取 Excel 文件 {file} (cannot read the Excel file: {exc})") from None


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


def _split(numbered: Iterable[tuple[int, Sequence[Any]]], file: str,
           fits: Callable[[list[str]], bool] | None = None) -> Table:
    header: list[str] | None = None
    header_row = 0
    top: list[tuple[int, list[Any]]] = []  # the first non-empty rows, while the header is looked for
    rows: list[Row] = []
    cells = 0

    def as_header(cells: Sequence[Any]) -> list[str]:
        text = ["" if c is None else str(c).strip() for c in cells]
        while text and not text[-1]:  # spreadsheets often carry formatted but empty columns
            text.pop()
        return text

    def add(number: int, values: list[Any]) -> None:
        nonlocal cells
        assert header is not None
        values.extend([None] * (len(header) - len(values)))
        cells += len(values)
        if cells > MAX_CELLS:
            raise _fail(file, f"文件 {file} 超过 {MAX_CELLS} 个单元格 (the file {file} has more than {MAX_CELLS} cells)")
        rows.append((number, values))

    for number, row in numbered:
        if number > MAX_ROWS:
            raise _fail(file, f"文件 {file} 超过 {MAX_ROWS} 行 (the file {file} has more than {MAX_ROWS} rows)")
        if all(_is_empty(c) for c in row):
            continue
        if header is not None:
            add(number, list(row))
            continue
        top.append((number, list(row)))
        if fits is None or fits(as_header(row)) or len(top) == HEADER_ROWS:
            # the first row that fits; none fitting, the first non-empty row, for the caller to say what is missing
            at = next((i for i, (_, r) in enumerate(top) if fits is None or fits(as_header(r))), 0)
            header_row, header = top[at][0], as_header(top[at][1])
            for n, r in top[at + 1:]:
                add(n, r)
    if header is None and top:  # fewer non-empty rows than HEADER_ROWS, none fitting
        header_row, header = top[0][0], as_header(top[0][1])
        for n, r in top[1:]:
            add(n, r)
    titles = [(n, " ".join(str(c).strip() for c in r if not _is_empty(c))) for n, r in top if n < header_row]
    return Table(header or [], rows, header_row, titles)


def title_hint(table: Table, wanted: str) -> str:
    """What to add to a refusal of the header when its row looks like a title (a single filled cell):
    where the header is expected, and which columns it should hold (`wanted`, in both languages)."""
    filled = [c for c in table.header if c]
    if len(filled) != 1:
        return ""
    n = table.header_row
    return (f"；第 {n} 行 '{filled[0]}' 像是标题行，应在其下方（前 {HEADER_ROWS} 行内）放表头行，含 {wanted}"
            f" (row {n}, '{filled[0]}', looks like a title: the header row with {wanted} is expected below it,"
            f" within the first {HEADER_ROWS} rows)")


def check_csv_text(text: str, delimiter: str, file: str) -> None:
    """No line holds more than MAX_COLUMNS fields: the csv reader builds a whole record before we see it."""
    for line in io.StringIO(text):
        if line.count(delimiter) >= MAX_COLUMNS:
            raise _fail(file, f"文件 {file} 有一行超过 {MAX_COLUMNS} 列 (a line of the file {file} has more than {MAX_COLUMNS} columns)")


def _read_csv(path: Path, file: str, fits: Callable[[list[str]], bool] | None) -> Table:
    check_file_size(path, file)
    try:
        text = decode_text(path.read_bytes())
    except UnicodeDecodeError:
        raise _fail(file, "无法识别文件编码，请另存为 UTF-8 CSV (cannot decode the file; save it as UTF-8 CSV)") from None
    delimiter = sniff_delimiter(text)
    check_csv_text(text, delimiter, file)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # a record is one spreadsheet row even when a quoted cell spans several lines
        return _split(enumerate(reader, start=1), file, fits)
    except csv.Error as exc:
        raise _fail(file, f"CSV 格式错误 (malformed CSV: {exc})") from None


def xlsx_rows(path: Path, file: str) -> Iterator[tuple[Any, ...]]:
    """The rows of a workbook's first sheet as tuples of values, after `check_workbook`; stops with
    `SpecInvalid` past MAX_ROWS rows or MAX_CELLS cells. Every reader of a workbook goes through here."""
    check_file_size(path, file, MAX_UNPACKED_BYTES)
    check_workbook(path, file)
    import openpyxl  # imported here: loading it costs time that CSV users need not pay
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _fail(file, f"无法读取 Excel 文件 (cannot read the Excel file: {exc})") from None
    try:
        if not wb.worksheets:
            return
        ws = wb.worksheets[0]
        # some tools write a wrong <dimension>, which would cut rows off; read what is there
        ws.reset_dimensions()
        cells = 0
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells += len(row)
            if number > MAX_ROWS:
                raise _fail(file, f"文件 {file} 超过 {MAX_ROWS} 行 (the file {file} has more than {MAX_ROWS} rows)")
            if cells > MAX_CELLS:
                raise _fail(file, f"文件 {file} 超过 {MAX_CELLS} 个单元格 (the file {file} has more than {MAX_CELLS} cells)")
            yield row
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _fail(file, f"无法读取 Excel 文件 (cannot read the Excel file: {exc})") from None
    finally:
        wb.close()  # read-only workbooks keep the zip file open until closed


def _read_xlsx(path: Path, file: str, fits: Callable[[list[str]], bool] | None) -> Table:
    return _split(enumerate(xlsx_rows(path, file), start=1), file, fits)


def read_sheet(path: Path, name: str | None = None, fits: Callable[[list[str]], bool] | None = None) -> Table:
    """The header, the non-empty numbered rows, the header's row number and the title rows above it of a
    CSV or XLSX file (see the module doc); `name` is what messages call the file (an upload's own name)."""
    path = Path(path)
    file = name or str(path)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        raise _fail(file, f"不支持的文件类型 '{path.suffix}'，请使用 .csv、.tsv、.xlsx 或 .xlsm "
                          f"(unsupported file type '{path.suffix}'; use .csv, .tsv, .xlsx or .xlsm)")
    if not path.is_file():
        raise _fail(file, "文件不存在 (file not found)")
    try:
        return _read_csv(path, file, fits) if suffix in CSV_SUFFIXES else _read_xlsx(path, file, fits)
    except (PermissionError, IsADirectoryError) as exc:
        raise _fail(file, f"无法读取文件 (cannot read the file: {exc})") from None


def read_table(path: Path, name: str | None = None) -> tuple[list[str], list[Row]]:
    """The header and the non-empty numbered rows of a CSV or XLSX file (see the module doc)."""
    table = read_sheet(path, name)
    return table.header, table.rows
