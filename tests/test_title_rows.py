"""Refusals that help (issue 15, finding 7): bureaus' workbooks carry a title row, merged across the
columns ("XX县教育局单位名单"), above the header. The header is found among the first rows; when it
is not there, the refusal says that a title row was found and where the header is expected. A rows
file of an unsupported type is told every accepted format (.json was accepted but not named).

The workbooks are real ones, written by openpyxl with merged cells.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from campaign_model.errors import SpecInvalid
from campaign_model.rows import RowsInvalid, read_rows
from campaign_model.specfile import load_spec_text
from campaign_model.unitfile import read_units

from .conftest import SMALL_SPEC

UNIT_HEADER = ["单位代码", "单位名称", "上级单位", "标签", "联系人", "邮箱"]
ISSUE_HEADER = ["问题", "类别", "整改措施", "责任领导", "牵头股室", "整改时限"]


def titled_workbook(path: Path, title: str | None, header: list[str], rows: list[list[object]], *,
                    blank_rows: int = 0, subtitle: str | None = None) -> Path:
    """A workbook as a bureau sends it: a title merged across the columns, maybe a subtitle, blank rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    width = openpyxl.utils.get_column_letter(len(header))
    if title is not None:
        ws.append([title])
        ws.merge_cells(f"A{ws.max_row}:{width}{ws.max_row}")
    if subtitle is not None:
        ws.append([subtitle])
        ws.merge_cells(f"A{ws.max_row}:{width}{ws.max_row}")
    for _ in range(blank_rows):
        ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


UNITS = [["bureau", "XX县教育局", None, None, None, None],
         ["s1", "城关第一小学", "bureau", "学校", "张校长", "s1@example.cn"],
         ["s2", "城关第二小学", "XX县教育局", "学校", None, None]]


@pytest.mark.parametrize(("blank_rows", "subtitle"), [(0, None), (1, None), (0, "（截至2023年3月1日）")])
def test_a_unit_list_with_a_merged_title_row_above_its_header_is_read(tmp_path, blank_rows, subtitle):
    path = titled_workbook(tmp_path / "单位名单.xlsx", "XX县教育局单位名单", UNIT_HEADER, UNITS,
                           blank_rows=blank_rows, subtitle=subtitle)
    units = read_units(path)
    assert [(u.key, u.name, u.parent) for u in units] == [("bureau", "XX县教育局", None), ("s1", "城关第一小学", "bureau"),
                                                           ("s2", "城关第二小学", "bureau")]
    assert units[1].contacts[0].email == "s1@example.cn"


def test_a_bad_cell_below_a_title_row_is_reported_at_its_own_spreadsheet_row(tmp_path):
    path = titled_workbook(tmp_path / "单位名单.xlsx", "XX县教育局单位名单", UNIT_HEADER,
                           [*UNITS, ["s3", None, "bureau", None, None, None]], blank_rows=1)
    with pytest.raises(SpecInvalid) as caught:
        read_units(path)
    # title row 1, blank row 2, header row 3, units on rows 4-6: the school without a name is row 7
    assert [(p.line, p.path) for p in caught.value.problems] == [(7, "row 7.单位名称")]


def test_a_title_row_without_a_header_below_says_where_the_header_is_expected(tmp_path):
    path = titled_workbook(tmp_path / "单位名单.xlsx", "XX县教育局单位名单", ["学校", "校长"], [["一小", "张"]])
    with pytest.raises(SpecInvalid) as caught:
        read_units(path)
    message = str(caught.value)
    assert "第 1 行 'XX县教育局单位名单' 像是标题行" in message
    assert "row 1, 'XX县教育局单位名单', looks like a title: the header row with" in message
    assert "单位代码、单位名称 (key, name) is expected below it, within the first 5 rows" in message


def test_without_a_title_row_the_missing_column_is_named_as_before(tmp_path):
    path = titled_workbook(tmp_path / "单位名单.xlsx", None, ["单位代码", "学校"], [["s1", "一小"]])
    with pytest.raises(SpecInvalid) as caught:
        read_units(path)
    message = str(caught.value)
    assert "missing required column 'name'" in message and "looks like a title" not in message


def test_a_unit_list_in_csv_with_a_title_line_is_read(tmp_path):
    path = tmp_path / "单位名单.csv"
    path.write_text("XX县教育局单位名单,,\n单位代码,单位名称,上级单位\nbureau,XX县教育局,\ns1,一小,bureau\n", encoding="utf-8")
    assert [u.key for u in read_units(path)] == ["bureau", "s1"]


def issue_list():
    return load_spec_text(SMALL_SPEC, "small.yaml").spec.artifacts["issue_list"]


def test_an_issue_list_workbook_with_a_title_row_is_read_with_its_own_row_numbers(tmp_path):
    rows = [["作风不实", "松", "加强学习", "王副校长", "办公室", "2023-04-30"],
            ["纪律松弛", "散", "建立制度", "李副校长", "政教处", "2023年5月10日"]]
    path = titled_workbook(tmp_path / "问题清单.xlsx", "第一小学作风问题清单", ISSUE_HEADER, rows)
    assert [(r["problem"], r["deadline"]) for r in read_rows(path, issue_list())] == [
        ("作风不实", "2023-04-30"), ("纪律松弛", "2023-05-10")]
    bad = titled_workbook(tmp_path / "坏清单.xlsx", "第一小学作风问题清单", ISSUE_HEADER,
                          [*rows, ["", "松", "x", "x", "x", "2023-04-30"]])
    with pytest.raises(RowsInvalid) as caught:
        read_rows(bad, issue_list())
    assert [(p["row"], p["column"]) for p in caught.value.problems] == [(5, "problem")]  # title 1, header 2, rows 3-5


def test_an_issue_list_whose_header_is_not_found_under_its_title_says_so(tmp_path):
    path = titled_workbook(tmp_path / "问题清单.xlsx", "第一小学作风问题清单", ["序号", "内容"], [[1, "作风不实"]])
    with pytest.raises(RowsInvalid) as caught:
        read_rows(path, issue_list())
    message = str(caught.value)
    assert "'第一小学作风问题清单' 像是标题行" in message
    assert "the header row with 问题、类别、整改措施、责任领导、牵头股室、整改时限 is expected below it" in message


@pytest.mark.parametrize("suffix", [".txt", ".xls", ".yaml"])
def test_a_rows_file_of_another_type_is_told_every_accepted_format(tmp_path, suffix):
    path = tmp_path / f"rows{suffix}"
    path.write_text("问题\n作风不实\n", encoding="utf-8")
    with pytest.raises(RowsInvalid) as caught:
        read_rows(path, issue_list())
    message = str(caught.value)
    assert f"unsupported file type '{suffix}'; use .csv, .tsv, .xlsx, .xlsm, .json" in message
    assert "请使用 .csv、.tsv、.xlsx、.xlsm、.json" in message
