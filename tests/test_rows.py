"""Structured artifact rows: each column type, each kind of error, both header styles, each file format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign_model.errors import CampaignError, InvalidInput
from campaign_model.rows import RowsInvalid, read_rows, validate_rows
from campaign_model.spec import ArtifactKind

KIND = ArtifactKind.model_validate({
    "title": "问题清单",
    "rows": {
        "problem": {"title": "问题", "required": True},
        "found_on": {"title": "发现日期", "type": "date"},
        "amount": {"title": "金额", "type": "number"},
        "count": {"title": "人数", "type": "integer"},
        "status": {"title": "状态", "type": "choice", "choices": ["整改中", "已完成"]},
        "deadline": {"title": "整改时限", "type": "date", "required": True},
    },
})
GOOD = {"problem": " 会风不正 ", "found_on": "2023/4/5", "amount": "12.5", "count": "3", "status": "已完成",
        "deadline": "2023年4月30日"}
NORMALIZED = {"problem": "会风不正", "found_on": "2023-04-05", "amount": 12.5, "count": 3, "status": "已完成",
              "deadline": "2023-04-30"}


def invalid(raw: list[dict], file: str = "f.json") -> RowsInvalid:
    with pytest.raises(RowsInvalid) as exc:
        validate_rows(raw, KIND, file)
    return exc.value


# --- validate_rows: each type --------------------------------------------------------------------


def test_a_good_row_is_normalized() -> None:
    assert validate_rows([GOOD], KIND, "f.json") == [NORMALIZED]


def test_missing_optional_cells_are_none_and_order_follows_the_kind() -> None:
    [row] = validate_rows([{"deadline": "2023-05-01", "problem": "x", "amount": "", "status": None}], KIND, "f")
    assert list(row) == list(KIND.rows or {})
    assert row == {"problem": "x", "found_on": None, "amount": None, "count": None, "status": None,
                   "deadline": "2023-05-01"}


@pytest.mark.parametrize("value, expected", [
    ("2023-04-05", "2023-04-05"), ("2023-4-5", "2023-04-05"), ("2023/4/5", "2023-04-05"),
    ("2023.04.05", "2023-04-05"), ("2023年4月5日", "2023-04-05"), ("2023 年 4 月 5 日", "2023-04-05"),
    ("20230405", "2023-04-05"), ("2023/4/5 0:00", "2023-04-05"), ("2023-04-05T00:00:00", "2023-04-05"),
    (dt.datetime(2023, 4, 5), "2023-04-05"), (dt.date(2023, 4, 5), "2023-04-05"),
])
def test_dates(value: object, expected: str) -> None:
    assert validate_rows([{"problem": "p", "deadline": value}], KIND, "f")[0]["deadline"] == expected


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_every_date_form_reads_back_the_same_day(day: dt.date) -> None:
    forms = [day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日"]
    rows = validate_rows([{"problem": "p", "deadline": f} for f in forms], KIND, "f")
    assert {r["deadline"] for r in rows} == {day.isoformat()}


@pytest.mark.parametrize("value, expected", [
    ("12.5", 12.5), (" 7 ", 7.0), (3, 3.0), (2.25, 2.25), ("1,234.5", 1234.5), ("-1e3", -1000.0), (".5", 0.5),
])
def test_numbers_are_floats(value: object, expected: float) -> None:
    amount = validate_rows([{"problem": "p", "deadline": "2023-1-1", "amount": value}], KIND, "f")[0]["amount"]
    assert amount == expected and isinstance(amount, float)


@pytest.mark.parametrize("value, expected", [("3", 3), (4, 4), (5.0, 5), ("6.0", 6), ("+7", 7), ("1,000", 1000)])
def test_integers_are_ints(value: object, expected: int) -> None:
    count = validate_rows([{"problem": "p", "deadline": "2023-1-1", "count": value}], KIND, "f")[0]["count"]
    assert count == expected and isinstance(count, int)


def test_text_from_numbers_and_choices_from_excel_numbers() -> None:
    kind = ArtifactKind.model_validate({"title": "t", "rows": {
        "code": {"title": "编号"}, "level": {"title": "等级", "type": "choice", "choices": ["1", "2"]}}})
    assert validate_rows([{"code": 1001.0, "level": 2.0}], kind, "f") == [{"code": "1001", "level": "2"}]


# --- validate_rows: each error -------------------------------------------------------------------


@pytest.mark.parametrize("column, value, words", [
    ("found_on", "2023-02-30", "不是有效日期"),
    ("found_on", "next week", "not a valid date"),
    ("found_on", 45021, "not a valid date"),
    ("amount", "twelve", "不是数字"),
    ("amount", "nan", "not a number"),
    ("amount", True, "not a number"),
    ("count", "3.5", "不是整数"),
    ("count", "three", "not a whole number"),
    ("status", "未开始", "not one of: 整改中, 已完成"),
    ("problem", "   ", "required, but empty"),
    ("deadline", None, "必填项为空"),
    ("amount", [1, 2], "must be a single value"),
])
def test_each_error_kind(column: str, value: object, words: str) -> None:
    exc = invalid([GOOD, {**GOOD, column: value}])
    assert exc.problems == [{"row": 2, "column": column, "message": exc.problems[0]["message"]}]
    assert words in exc.problems[0]["message"]


def test_every_problem_is_listed_one_per_line() -> None:
    exc = invalid([{**GOOD, "deadline": "soon"}, GOOD, {**GOOD, "problem": "", "count": "x"}], file="ledger.json")
    assert [(p["row"], p["column"]) for p in exc.problems] == [(1, "deadline"), (3, "problem"), (3, "count")]
    lines = str(exc).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("ledger.json: 第 1 行 / row 1, 列 整改时限 (deadline): 不是有效日期 'soon'")
    assert lines[1] == "ledger.json: 第 3 行 / row 3, 列 问题 (problem): 必填项为空 (required, but empty)"
    assert lines[2] == "ledger.json: 第 3 行 / row 3, 列 人数 (count): 不是整数 'x' (not a whole number)"


def test_rows_invalid_is_an_invalid_input() -> None:
    exc = invalid([{**GOOD, "count": "x"}])
    assert isinstance(exc, InvalidInput) and isinstance(exc, CampaignError)


def test_unknown_column_is_named_once() -> None:
    exc = invalid([{**GOOD, "备注": "a"}, {**GOOD, "备注": "b"}])
    [problem] = exc.problems
    assert problem["row"] == 1 and problem["column"] is None
    assert "未知列 '备注'" in problem["message"] and "unknown column '备注'" in problem["message"]


def test_no_rows_is_an_error() -> None:
    exc = invalid([])
    assert exc.problems == [{"row": None, "column": None, "message": "文件中没有数据行 (the file has no rows)"}]
    assert str(exc) == "f.json: 文件中没有数据行 (the file has no rows)"


def test_a_kind_without_rows_accepts_none() -> None:
    with pytest.raises(RowsInvalid, match="has no rows"):
        validate_rows([{"a": 1}], ArtifactKind(title="自查报告"), "f")


def test_keys_and_titles_are_both_accepted_ignoring_case_and_spaces() -> None:
    kind = ArtifactKind.model_validate({"title": "t", "rows": {"Problem": {"title": "问 题"}}})
    assert validate_rows([{" problem ": "a"}, {"问题": "b"}], kind, "f") == [{"Problem": "a"}, {"Problem": "b"}]


def test_key_and_title_of_the_same_column_in_one_row_is_an_error() -> None:
    exc = invalid([{**GOOD, "问题": "again"}])
    assert exc.problems[0]["column"] == "problem" and "given twice" in exc.problems[0]["message"]


def test_row_numbers_can_be_given() -> None:
    with pytest.raises(RowsInvalid) as exc:
        validate_rows([GOOD, {**GOOD, "count": "x"}], KIND, "f.csv", row_numbers=[2, 7])
    assert exc.value.problems[0]["row"] == 7


# --- read_rows -----------------------------------------------------------------------------------


def test_read_csv_with_key_headers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("\ufeffproblem,found_on,amount,count,status,deadline\n"
                    " 会风不正 ,2023/4/5,12.5,3,已完成,2023年4月30日\n,,,,,\n", encoding="utf-8")
    assert read_rows(path, KIND) == [NORMALIZED]


def test_read_gbk_csv_with_title_headers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_bytes("问题\t整改时限\t状态\r\n文山会海\t2023-5-1\t整改中\r\n".encode("gbk"))
    [row] = read_rows(path, KIND)
    assert (row["problem"], row["deadline"], row["status"], row["count"]) == ("文山会海", "2023-05-01", "整改中", None)


def test_read_xlsx_with_title_headers_and_date_cells(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["问题", "发现日期", "金额", "人数", "状态", "整改时限"])
    ws.append(["会风不正", dt.datetime(2023, 4, 5), 12.5, 3, "已完成", dt.datetime(2023, 4, 30)])
    ws.append([])
    ws.append(["超标准接待", "2023/4/6", 100, 2.0, None, "2023年5月1日"])
    wb.save(tmp_path / "ledger.xlsx")
    rows = read_rows(tmp_path / "ledger.xlsx", KIND)
    assert rows == [NORMALIZED, {"problem": "超标准接待", "found_on": "2023-04-06", "amount": 100.0, "count": 2,
                                 "status": None, "deadline": "2023-05-01"}]


def test_read_xlsx_errors_carry_spreadsheet_row_numbers(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["problem", "deadline", "count"])
    ws.append(["a", dt.datetime(2023, 1, 1), 1])
    ws.append([])
    ws.append(["b", "someday", 1.5])
    wb.save(tmp_path / "ledger.xlsx")
    with pytest.raises(RowsInvalid) as exc:
        read_rows(tmp_path / "ledger.xlsx", KIND)
    assert [(p["row"], p["column"]) for p in exc.value.problems] == [(4, "count"), (4, "deadline")]  # in the kind's column order
    assert str(exc.value).splitlines()[1].startswith(f"{tmp_path / 'ledger.xlsx'}: 第 4 行 / row 4, 列 整改时限 (deadline): ")


def test_read_json_rows_are_numbered_from_one(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text(json.dumps([GOOD, {"问题": "x", "整改时限": "bad"}, 5], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(RowsInvalid) as exc:
        read_rows(path, KIND)
    assert [(p["row"], p["column"]) for p in exc.value.problems] == [(2, "deadline"), (3, None)]
    path.write_text(json.dumps([GOOD], ensure_ascii=False), encoding="utf-8")
    assert read_rows(path, KIND) == [NORMALIZED]


def test_read_unknown_and_repeated_headers_and_stray_values(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("问题,整改时限,备注,problem,\nx,2023-1-1,note,y,stray\n", encoding="utf-8")
    with pytest.raises(RowsInvalid) as exc:
        read_rows(path, KIND)
    problems = exc.value.problems
    assert [(p["row"], p["column"]) for p in problems] == [(None, None), (None, "problem"), (2, None)]
    assert "未知列 '备注'" in problems[0]["message"]
    assert "列 'problem' 与列 '问题' 重复" in problems[1]["message"]
    assert "第 5 列有值但没有表头" in problems[2]["message"]
    assert str(exc.value).splitlines()[0].startswith(f"{path}: 未知列 '备注'")


@pytest.mark.parametrize("content", ["", "problem,deadline\n", "problem,deadline\n,\n"])
def test_read_a_file_without_rows(tmp_path: Path, content: str) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RowsInvalid, match="the file has no rows"):
        read_rows(path, KIND)


@pytest.mark.parametrize("name, content, words", [
    ("ledger.docx", b"x", "unsupported file type"),
    ("ledger.xlsx", b"garbage", "cannot read the Excel file"),
    ("ledger.json", b"{not json", "cannot read the JSON"),
    ("ledger.json", b'{"problem": "x"}', "must be a list of objects"),
])
def test_read_unreadable_files_raise_rows_invalid(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RowsInvalid) as exc:
        read_rows(path, KIND)
    assert [p["row"] for p in exc.value.problems] == [None] and words in str(exc.value)


def test_read_missing_file(tmp_path: Path) -> None:
    for name in ("nope.csv", "nope.json"):
        with pytest.raises(RowsInvalid, match="file not found"):
            read_rows(tmp_path / name, KIND)
