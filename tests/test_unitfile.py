"""Unit lists from CSV and XLSX files: encodings, delimiters, header aliases, and every bad row reported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from campaign_model.errors import SpecInvalid
from campaign_model.tabular import read_table
from campaign_model.unitfile import read_units


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def problems_of(exc: pytest.ExceptionInfo[SpecInvalid]) -> set[tuple[int | None, str]]:
    return {(p.line, p.path) for p in exc.value.problems}


# --- tabular -------------------------------------------------------------------------------------


def test_table_utf8_bom_csv_with_row_numbers_and_empty_rows_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfkey,name\r\na,Alpha\r\n,\r\n\r\nb,\"Beta, Inc.\"\r\n")
    header, rows = read_table(path)
    assert header == ["key", "name"]  # the BOM is not part of the first header
    assert rows == [(2, ["a", "Alpha"]), (5, ["b", "Beta, Inc."])]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_table_sniffs_the_delimiter(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "t.csv", [delimiter.join(["key", "name", "tags"]), delimiter.join(["a", "A", "x|y"])])
    assert read_table(path) == (["key", "name", "tags"], [(2, ["a", "A", "x|y"])])


def test_table_gbk_csv(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", ["单位代码,单位名称", "tw,团委"], encoding="gbk")
    assert read_table(path) == (["单位代码", "单位名称"], [(2, ["tw", "团委"])])


def test_table_multiline_cell_is_one_spreadsheet_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", ["key,name", 'a,"line one', 'line two"', "b,B"])
    header, rows = read_table(path)
    assert [n for n, _ in rows] == [2, 3]
    assert rows[0][1][1] == "line one\r\nline two"


def test_table_xlsx_keeps_python_values_and_true_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "t.xlsx", [["key", "when", "n", None], [1001, dt.datetime(2024, 3, 1), 2.5], [],
                                            [None, None, None], ["b", None, 7]])
    header, rows = read_table(path)
    assert header == ["key", "when", "n"]
    assert rows == [(2, [1001, dt.datetime(2024, 3, 1), 2.5]), (5, ["b", None, 7])]


def test_table_reads_the_first_sheet_not_the_active_one(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["key"])
    wb.active.append(["first"])
    other = wb.create_sheet("other")
    other.append(["key"])
    other.append(["second"])
    wb.active = 1
    wb.save(tmp_path / "t.xlsx")
    assert read_table(tmp_path / "t.xlsx")[1] == [(2, ["first"])]


@pytest.mark.parametrize("name, content, words", [
    ("units.xls", b"whatever", "不支持的文件类型"),
    ("units.txt", b"key,name", "unsupported file type"),
    ("broken.xlsx", b"not a zip file", "cannot read the Excel file"),
    ("binary.csv", b"\xff\xfe\x00\xd8" * 3 + b"\x81", "cannot decode"),
    ("neither.csv", b"key,name\r\n\xff\xff,x\r\n", "无法识别文件编码"),
])
def test_table_unreadable_files(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SpecInvalid) as exc:
        read_table(path)
    [problem] = exc.value.problems
    assert problem.file == str(path) and problem.line is None
    assert words in problem.message


def test_table_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecInvalid, match="file not found"):
        read_table(tmp_path / "nope.csv")


# --- read_units ----------------------------------------------------------------------------------


def test_units_utf8_bom_csv_hierarchy_of_depth_three(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "units.csv", [
        "\ufeffKey,Name,Parent,Tags,Contact Name, EMAIL ,phone,role,notes",
        "city,City Office,,organizer,Wang Fang,wang@example.cn,010-1234,director,ignored",
        "district,District,city,district;east,,,,,",
        "street,Street Office,district,\"street, east\",Li Lei,li@example.cn,,,",
    ], encoding="utf-8")
    units = read_units(path)
    assert [(u.key, u.parent) for u in units] == [("city", None), ("district", "city"), ("street", "district")]
    assert units[0].tags == ["organizer"]
    assert units[1].tags == ["district", "east"] and units[1].contacts == []
    assert units[2].tags == ["street", "east"]
    [c] = units[0].contacts
    assert (c.name, c.email, c.phone, c.role) == ("Wang Fang", "wang@example.cn", "010-1234", "director")
    assert units[2].contacts[0].email == "li@example.cn" and units[2].contacts[0].phone is None


def test_units_gbk_csv_with_chinese_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "单位.csv", [
        "单位代码;单位名称;上级单位;标签;联系人;电子邮箱;手机;职务",
        "swzzb;市委组织部;;牵头、市直;张伟;zhang@example.cn;13800138000;科长",
        "qxzzb;区县组织部;swzzb;区县｜基层;;;;",
        "jd01;第一街道;qxzzb;街道，基层；试点|重点;李娜;;;",
    ], encoding="gbk")
    units = read_units(path)
    assert [u.name for u in units] == ["市委组织部", "区县组织部", "第一街道"]
    assert units[0].tags == ["牵头", "市直"]
    assert units[0].contacts[0].model_dump() == {"name": "张伟", "role": "科长", "email": "zhang@example.cn",
                                                 "phone": "13800138000"}
    assert units[1].tags == ["区县｜基层"]  # a full-width bar is not a separator
    assert units[2].tags == ["街道", "基层", "试点", "重点"]
    assert units[2].parent == "qxzzb"


def test_units_short_chinese_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "u.csv", ["代码,名称,上级,邮箱,联系人,电话", "a,甲,,a@x.cn,赵,66"], encoding="gbk")
    [unit] = read_units(path)
    assert (unit.key, unit.name, unit.contacts[0].email, unit.contacts[0].phone) == ("a", "甲", "a@x.cn", "66")


def test_units_xlsx_with_numeric_keys_and_phones(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "units.xlsx", [
        ["单位代码", "单位名称", "上级单位", "标签", "联系人", "邮箱", "电话"],
        [1001.0, "市局", None, "市级", "王芳", "wang@example.cn", 13800138000.0],
        [1002, "分局", 1001.0, None, None, None, None],
        [None, None, None, None, None, None, None],
        ["1003", "所", 1002, "基层|试点", None, None, None],
    ])
    units = read_units(path)
    assert [(u.key, u.parent) for u in units] == [("1001", None), ("1002", "1001"), ("1003", "1002")]
    assert units[0].contacts[0].phone == "13800138000"
    assert units[2].tags == ["基层", "试点"]


def test_units_every_bad_row_is_reported_and_nothing_returned(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "units.csv", [
        "key,name,parent,contact,email",
        "root,Root,,,",  # 2 fine
        ",No Key,root,,",  # 3 missing key
        "nameless,,root,,",  # 4 missing name
        "mail,Mail,root,Zhao,not-an-email",  # 5 bad email
        "root,Root Again,,,",  # 6 duplicate of row 2
        "orphan,Orphan,ghost,,",  # 7 unknown parent
        "x,X,y,,",  # 8 cycle x -> y -> x
        "y,Y,x,,",  # 9
        "bad key!,Bad,,,",  # 10 key pattern
        "lonely,Lonely,root,,l@example.cn",  # 11 email without a contact
    ])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    assert problems_of(exc) == {
        (3, "row 3.key"), (4, "row 4.name"), (5, "row 5.email"), (6, "row 6.key"), (7, "row 7.parent"),
        (8, "row 8.parent"), (9, "row 9.parent"), (10, "row 10.key"), (11, "row 11.email"),
    }
    by_line = {p.line: p.message for p in exc.value.problems}
    assert "缺少单位代码" in by_line[3] and "key is missing" in by_line[3]
    assert "邮箱格式不正确" in by_line[5] and "not an email address" in by_line[5]
    assert "与第 2 行相同" in by_line[6] and "also on row 2" in by_line[6]
    assert "上级单位 'ghost' 不存在" in by_line[7] and "unknown parent" in by_line[7]
    assert "成环" in by_line[8] and "loops back" in by_line[9]
    assert all(p.file == str(path) for p in exc.value.problems)
    assert [p.line for p in exc.value.problems] == sorted(p.line for p in exc.value.problems)
    assert "units.csv:5: row 5.email: 邮箱格式不正确" in str(exc.value)


def test_units_a_bad_parent_row_does_not_orphan_its_children(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "u.csv", ["key,name,parent,contact,email", "p,P,,Q,broken", "c,C,p,,"])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    assert problems_of(exc) == {(2, "row 2.email")}


def test_units_bad_rows_in_xlsx_name_the_headers_as_written(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "u.xlsx", [["单位代码", "单位名称", "上级单位"], ["a", "甲", None], ["b", None, "zz"]])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    assert problems_of(exc) == {(3, "row 3.单位名称"), (3, "row 3.上级单位")}
    assert any("第 3 行缺少单位名称" in p.message for p in exc.value.problems)


@pytest.mark.parametrize("header, missing", [("name,parent", "key"), ("单位代码,上级", "name")])
def test_units_missing_required_header_is_one_problem(tmp_path: Path, header: str, missing: str) -> None:
    path = write_csv(tmp_path / "u.csv", [header, "a,b", "c,d"])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    [problem] = exc.value.problems
    assert problem.path == f"header.{missing}"
    assert f"missing required column '{missing}'" in problem.message and "缺少必需的列" in problem.message


def test_units_repeated_column_is_reported(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "u.csv", ["key,name,email,邮箱", "a,A,,"])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    [problem] = exc.value.problems
    assert problem.path == "header.邮箱" and "repeats 'email'" in problem.message


@pytest.mark.parametrize("lines", [[], ["key,name"], ["key,name", ",", ""]])
def test_units_empty_list_is_an_error(tmp_path: Path, lines: list[str]) -> None:
    path = write_csv(tmp_path / "u.csv", lines)
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].message in ("文件为空 (the file is empty)", "单位列表为空 (the unit list has no units)")


def test_units_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecInvalid, match="unsupported file type"):
        read_units(tmp_path / "units.yaml")


# --- parents given by name, as lists exported from Excel give them ---------------------------------


def test_units_parent_given_by_name_is_resolved_to_its_key(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "units.xlsx", [
        ["单位代码", "单位名称", "上级单位"],
        ["bureau", "县教育局", None],
        ["cdxq", "城东学区", "县教育局"],
        ["cdxx", "城东小学", "城东学区"],  # by name
        ["cdzx", "城东中学", "cdxq"],  # by key, as before
        ["xixiao", "西关小学", "西关学区"],  # a parent listed below its child, by name
        ["xgxq", "西关学区", "bureau"],
    ])
    assert {u.key: u.parent for u in read_units(path)} == {
        "bureau": None, "cdxq": "bureau", "cdxx": "cdxq", "cdzx": "cdxq", "xixiao": "xgxq", "xgxq": "bureau"}


def test_units_parent_named_after_units_listed_elsewhere(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "units.csv", ["key,name,parent", "s9,第九小学,县教文广新体局"])
    assert read_units(path, known={"bureau": "县教文广新体局"})[0].parent == "bureau"


def test_units_ambiguous_parent_name_names_the_row_and_the_candidate_keys(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "units.csv", [
        "key,name,parent", "bureau,县教育局,", "d1,城东学区,bureau", "d2,城东学区,bureau", "s1,城东小学,城东学区"])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    assert problems_of(exc) == {(5, "row 5.parent")}
    message = exc.value.problems[0].message
    assert "第 5 行上级单位 '城东学区' 对应多个单位：d1 城东学区, d2 城东学区" in message and "give the parent's key" in message


def test_units_unknown_parent_suggests_the_closest_names(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "units.csv", ["key,name,parent", "cdxq,城东学区,", "s1,城东小学,城东学"])
    with pytest.raises(SpecInvalid) as exc:
        read_units(path)
    assert problems_of(exc) == {(3, "row 3.parent")}
    assert "上级单位 '城东学' 不存在" in str(exc.value) and "是否指 (did you mean): cdxq 城东学区" in str(exc.value)
