"""Bounded input files (issue 15, findings 5 and 6): a zip bomb, a sheet too long or too wide, JSON or
YAML nested too deeply, aliases that expand without end. Each is refused before it is parsed, with a
message naming the file and the limit, in the CLI and over HTTP (never a 500, never a crash).

The zip bomb is a real workbook of about 5 MB whose one sheet unpacks to 1 GiB (written with zipfile
around a workbook openpyxl saved). Reading it once took 1.13 GB of memory and 22 s before a row error;
it is now read in a child process whose peak memory (VmHWM) must stay below 200 MB, by every reader
of workbooks: the unit list, a rows file (issue list) and the ledger import.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import openpyxl
import pytest

from campaign_model import tabular
from campaign_model.errors import InvalidInput, SpecInvalid
from campaign_model.rows import MAX_DEPTH, RowsInvalid, json_depth, read_rows
from campaign_model.specfile import load_spec_text
from campaign_model.unitfile import read_units
from notifications.reports.ledger_import import import_ledger

from .conftest import SMALL_SPEC
from .web_support import HTTPX_WARNING, account, bearer, count, new_campaign, serve

pytestmark = pytest.mark.filterwarnings(HTTPX_WARNING)

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
C = "small-2023"
GIB = 2**30
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'campaign.db'}"  # the limits are the readers', whatever the database


def workbook_with_sheet(path: Path, sheet_xml: bytes | None = None, *, stream: object = None,
                        extra: dict[str, bytes] | None = None) -> Path:
    """A real workbook (openpyxl's own parts) whose first sheet's XML is `sheet_xml`, or is written by
    `stream(file)` (for a sheet too large to hold in memory)."""
    wb = openpyxl.Workbook()
    wb.active.append(["key", "name"])
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info.filename, (extra or {}).get(info.filename, src.read(info.filename)))
            elif sheet_xml is not None:
                out.writestr(info.filename, sheet_xml)
            else:
                with out.open(info.filename, "w", force_zip64=True) as f:
                    stream(f)  # type: ignore[operator]
    return path


def _bomb_sheet(f, unpacked: int = GIB) -> None:
    head = (b'<?xml version="1.0"?><worksheet ' + NS + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>key'
            b'</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>')
    tail = b"</t></is></c></row></sheetData></worksheet>"
    chunk = b"x" * (1 << 24)
    f.write(head)
    left = unpacked - len(head) - len(tail)
    while left > 0:
        f.write(chunk[:min(left, len(chunk))])
        left -= len(chunk)
    f.write(tail)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = workbook_with_sheet(tmp_path_factory.mktemp("bomb") / "单位名单.xlsx", stream=_bomb_sheet)
    assert os.path.getsize(path) < 8 * 2**20  # a few MB, under the 20 MB upload limit
    with zipfile.ZipFile(path) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size >= GIB
    return path


def sheet(rows: list[bytes]) -> bytes:
    return b'<?xml version="1.0"?><worksheet ' + NS + b"><sheetData>" + b"".join(rows) + b"</sheetData></worksheet>"


def text_row(n: int, *values: str) -> bytes:
    cells = b"".join(f'<c r="{chr(65 + i)}{n}" t="inlineStr"><is><t>{v}</t></is></c>'.encode() for i, v in enumerate(values))
    return f'<row r="{n}">'.encode() + cells + b"</row>"


# --- finding 5: the zip bomb, in every reader, with its memory measured ---

MEASURE = textwrap.dedent("""\
    import json, sys, time
    from pathlib import Path
    from campaign_model.rows import read_rows
    from campaign_model.specfile import load_spec_text
    from campaign_model.unitfile import read_units
    from notifications.reports.ledger_import import import_ledger
    kind, path = sys.argv[1], Path(sys.argv[2])
    issue_list = load_spec_text(sys.argv[3], "small.yaml").spec.artifacts["issue_list"]
    began = time.monotonic()
    try:
        if kind == "units":
            read_units(path)
        elif kind == "rows":
            read_rows(path, issue_list)
        else:
            import_ledger(path)
        outcome = "read"
    except Exception as exc:
        outcome = type(exc).__name__ + ": " + str(exc)
    seconds = time.monotonic() - began
    # the peak of this process's own memory (VmHWM): ru_maxrss would carry pytest's peak across exec
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": seconds, "outcome": outcome, "max_rss_mb": peak / 1024}))
""")


@pytest.mark.parametrize("kind", ["units", "rows", "ledger"])
def test_a_zip_bomb_is_refused_before_it_is_unpacked_by_every_reader_of_workbooks(bomb, kind):
    done = subprocess.run([PYTHON, "-c", MEASURE, kind, str(bomb), SMALL_SPEC], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{kind}: refused in {result['seconds']:.2f} s, peak memory {result['max_rss_mb']:.0f} MB")
    outcome = result["outcome"]
    assert outcome.startswith(("SpecInvalid", "RowsInvalid", "InvalidInput")), outcome
    assert "单位名单.xlsx" in outcome  # the file, named
    assert "解压后达 1024 MB，上限 64 MB" in outcome and "unpacks to 1024 MB; the limit is 64 MB" in outcome
    assert result["max_rss_mb"] < 200  # the interpreter and openpyxl's import; nothing unpacked
    assert result["seconds"] < 30  # generous for a shared machine; the refusal reads only the zip's directory


def test_a_zip_bomb_uploaded_as_a_unit_list_or_a_rows_file_is_a_422_with_the_message(bomb, engine, tmp_path):
    new_campaign(engine, C)
    admin = bearer(account(engine, "admin", "admin"))
    clerk = bearer(account(engine, "s1.clerk", "unit", "s1"))
    client = serve(engine, tmp_path / "home")
    data = bomb.read_bytes()
    answer = client.post(f"/api/v1/campaigns/{C}/units", headers=admin, files={"file": ("单位名单.xlsx", data)})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["fields"][0]["field"] == "file" and "单位名单.xlsx" in error["message"]
    assert "上限 64 MB" in error["message"] and "the limit is 64 MB" in error["message"]
    answer = client.post(f"/api/v1/campaigns/{C}/filings", headers=clerk,
                         data={"unit": "s1", "artifact": "issue_list"}, files={"rows": ("问题清单.xlsx", data)})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "rows_invalid" and error["fields"][0]["field"] == "rows"
    assert "问题清单.xlsx" in error["message"] and "the limit is 64 MB" in error["message"]


def test_a_sheet_of_more_rows_than_the_limit_is_refused_naming_the_limit(tmp_path):
    rows = [text_row(1, "key", "name")] + [f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'.encode()
                                            for n in range(2, tabular.MAX_ROWS + 2)]
    path = workbook_with_sheet(tmp_path / "long.xlsx", sheet(rows))
    with pytest.raises(SpecInvalid, match=f"long.xlsx has more than {tabular.MAX_ROWS} rows"):
        read_units(path)


def test_one_cell_at_the_last_row_does_not_make_a_million_empty_rows(tmp_path):
    path = workbook_with_sheet(tmp_path / "far.xlsx", sheet([text_row(1, "key", "name"),
                                                              b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>']))
    with pytest.raises(SpecInvalid, match=f"more than {tabular.MAX_ROWS} rows"):
        read_units(path)


def test_a_row_wider_than_excel_allows_is_refused_before_openpyxl_builds_it(tmp_path):
    wide = b'<row r="2">' + b"<c><v>1</v></c>" * (tabular.MAX_COLUMNS + 1) + b"</row>"
    path = workbook_with_sheet(tmp_path / "wide.xlsx", sheet([text_row(1, "key", "name"), wide]))
    with pytest.raises(SpecInvalid, match=f"more than {tabular.MAX_COLUMNS} cells"):
        read_units(path)


def test_cells_padded_to_a_far_right_column_count_against_the_cell_limit(tmp_path):
    rows = [text_row(1, "key", "name")] + [f'<row r="{n}"><c r="XFD{n}"><v>1</v></c></row>'.encode() for n in range(2, 200)]
    path = workbook_with_sheet(tmp_path / "padded.xlsx", sheet(rows))
    with pytest.raises(SpecInvalid, match=f"more than {tabular.MAX_CELLS} cells"):
        read_units(path)


def test_a_workbook_part_declaring_entities_is_refused(tmp_path):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
              b'<worksheet ' + NS + b'><sheetData>' + text_row(1, "key", "&lol2;") + b"</sheetData></worksheet>")
    path = workbook_with_sheet(tmp_path / "lol.xlsx", laughs)
    with pytest.raises(SpecInvalid, match="declares a DTD"):
        read_units(path)


def test_a_csv_larger_than_the_limit_or_wider_than_excel_is_refused(tmp_path, monkeypatch):
    wide = tmp_path / "wide.csv"
    wide.write_text("key,name\n" + "," * tabular.MAX_COLUMNS + "\n", encoding="utf-8")
    with pytest.raises(SpecInvalid, match=f"more than {tabular.MAX_COLUMNS} columns"):
        read_units(wide)
    big = tmp_path / "big.csv"
    with big.open("wb") as f:
        f.write(b"key,name\n")
        f.truncate(tabular.MAX_FILE_BYTES + 1)
    with pytest.raises(SpecInvalid, match="big.csv is too large: 32 MB; the limit is 32 MB"):
        read_units(big)


def test_the_ledger_import_refuses_a_long_sheet_as_its_own_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_ROWS", 500)  # the limit itself is tried on the unit list above; this is quicker
    rows = [text_row(1, "问题", "整改措施", "责任领导")] + [f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'.encode()
                                                   for n in range(2, 600)]
    path = workbook_with_sheet(tmp_path / "台账.xlsx", sheet(rows))
    with pytest.raises(InvalidInput, match="more than 500 rows") as caught:
        import_ledger(path)
    assert caught.value.field == "file"


# --- finding 6: JSON and YAML nested too deeply, aliases without end ---

def issue_kind():
    return load_spec_text(SMALL_SPEC, "small.yaml").spec.artifacts["issue_list"]


def test_json_rows_nested_100000_deep_are_refused_without_a_recursion_error(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(RowsInvalid) as caught:
        read_rows(path, issue_kind(), "问题清单.json")
    assert caught.value.problems == [{"row": None, "column": None, "message":
                                      f"JSON 嵌套超过 {MAX_DEPTH} 层，应为对象列表 (the JSON nests deeper than {MAX_DEPTH} "
                                      f"levels; it must be a list of objects)"}]
    assert "问题清单.json" in str(caught.value)


def test_the_depth_scan_ignores_brackets_inside_strings_and_counts_mixed_nesting():
    assert json_depth(b'[{"problem": "[[[[[[[[[[[[[[[[[[[[[[[[[", "x": "\\"[["}]') == 2
    assert json_depth(b"[" + b'{"a": [' * 5) == 11
    assert json_depth(b"[" + b'{"a": [' * 30) > MAX_DEPTH  # the scan stops once past the limit
    assert json_depth(b'[{"a": 1}, {"b": 2}]') == 2


def test_nested_json_rows_over_http_are_a_422_and_store_nothing(engine, tmp_path):
    from campaign_model.store.tables import filings

    new_campaign(engine, C)
    clerk = bearer(account(engine, "s1.clerk", "unit", "s1"))
    client = serve(engine, tmp_path / "home")
    answer = client.post(f"/api/v1/campaigns/{C}/filings", headers=clerk, data={"unit": "s1", "artifact": "issue_list"},
                         files={"rows": ("问题清单.json", b"[" * 100_000)})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "rows_invalid" and error["fields"][0]["field"] == "rows"
    assert "nests deeper than" in error["message"]
    assert count(engine, filings) == 0


def test_a_json_body_nested_100000_deep_is_refused_not_a_500(engine, tmp_path):
    new_campaign(engine, C)
    admin = bearer(account(engine, "admin", "admin"))
    client = serve(engine, tmp_path / "home")
    answer = client.post(f"/api/v1/campaigns/{C}/reminders", headers={**admin, "Content-Type": "application/json"},
                         content=b"[" * 100_000)
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["error"]["status"] == answer.status_code


def laughs() -> str:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(levels) + "\nversion: 1\nkey: lol\nunits: *i\n"


BAD_SPECS = {
    "flow": ("deep.yaml", "units: " + "[" * 100_000, "nested more than 50 levels deep"),
    "block": ("block.yaml", "- " * 100_000 + "x\n", "indented more than 200 columns"),
    "aliases": ("laughs.yaml", laughs(), "has more than 200000 nodes"),
    "size": ("big.yaml", "title: " + "长" * 400_000 + "\n", "the spec is larger than 1 MB"),
}


@pytest.mark.parametrize("case", BAD_SPECS)
def test_a_spec_nested_too_deeply_or_expanding_without_end_is_refused_by_campaign_validate(tmp_path, case):
    name, text, message = BAD_SPECS[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    cli = "import sys; from campaign_app.cli import main; sys.argv[0]='campaign'; main()"
    done = subprocess.run([PYTHON, "-c", cli, "validate", str(path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    # before: a segmentation fault (-11) in libyaml for the deep flow, minutes for the aliases
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert message in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_a_deep_spec_uploaded_to_create_a_campaign_is_a_422_naming_the_spec(engine, tmp_path):
    admin = bearer(account(engine, "admin", "admin"))
    client = serve(engine, tmp_path / "home")
    for name, text, message in BAD_SPECS.values():
        if len(text.encode()) > 2**20:
            continue  # the upload's own 1 MB limit answers 413 before the spec is read
        answer = client.post("/api/v1/campaigns", headers=admin, files={"spec": (name, text.encode())})
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["fields"][0]["field"] == "spec" and message in error["message"]


def test_a_real_spec_still_loads(tmp_path):
    assert load_spec_text(SMALL_SPEC, "small.yaml").spec.key == "small-2023"
    template = (ROOT / "campaign_model" / "templates" / "zuofeng-2023.yaml").read_text(encoding="utf-8")
    assert load_spec_text(template, "zuofeng-2023.yaml").spec.phases
