"""Reading a unit list from CSV or XLSX, as administrators keep it in a spreadsheet.

Columns (English or Chinese, matched ignoring case and spaces): key/单位代码, name/单位名称,
parent/上级单位 (the parent's key or unique name), tags/标签, contact/联系人, email/邮箱, phone/电话,
role/职务. Other columns are ignored; the header row may sit below a title row. `read_units` returns the
units, or raises `SpecInvalid` carrying one `Problem` per bad cell (line = the spreadsheet row) — a list is used whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from . import names
from .errors import Problem, SpecInvalid
from .spec import UnitSpec
from .tabular import cell_text, read_sheet, title_hint
from .units import hierarchy_problems

_ALIASES = {
    "key": ("key", "unitkey", "code", "单位代码", "代码"),
    "name": ("name", "unitname", "单位名称", "名称"),
    "parent": ("parent", "parentkey", "上级单位", "上级", "上级单位代码"),
    "tags": ("tags", "tag", "标签"),
    "contact": ("contact", "contactname", "联系人", "联系人姓名"),
    "email": ("email", "e-mail", "邮箱", "电子邮箱"),
    "phone": ("phone", "mobile", "tel", "电话", "手机", "联系电话"),
    "role": ("role", "职务"),
}
_REQUIRED = {"key": "单位代码", "name": "单位名称"}
_TAG_SPLIT = re.compile(r"[;；,，、|]")


def _norm(header: str) -> str:
    # "Contact Name", "contact_name" and "联系人 *" (a required mark in many templates) all match
    return re.sub(r"[\s_*]+", "", header).casefold()


_FIELD_OF = {_norm(alias): fld for fld, aliases in _ALIASES.items() for alias in aliases}


def _fits(header: list[str]) -> bool:
    """A header row: it names the required columns (a title row above it names none)."""
    found = {_FIELD_OF.get(_norm(title)) for title in header}
    return all(fld in found for fld in _REQUIRED)


def _columns(header: list[str], file: str, hint: str = "") -> tuple[dict[str, int], list[Problem]]:
    """Field -> column index, and the problems of the header itself; `hint` ends a missing column's message."""
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for i, title in enumerate(header):
        fld = _FIELD_OF.get(_norm(title))
        if fld is None:
            continue
        if fld in columns:
            first = header[columns[fld]]
            problems.append(Problem(file, None, f"header.{title}",
                                    f"列 '{title}' 与列 '{first}' 重复 (column '{title}' repeats '{first}')"))
        else:
            columns[fld] = i
    for fld, zh in _REQUIRED.items():
        if fld not in columns:
            problems.append(Problem(file, None, f"header.{fld}",
                                    f"缺少必需的列 '{zh}' 或 '{fld}' (missing required column '{fld}'){hint}"))
    return columns, problems


def _pydantic_message(err: Mapping[str, Any]) -> str:
    if err["type"] == "value_error" and "ctx" in err:
        return str(err["ctx"]["error"])  # the spec's validators already speak both languages
    if err["type"] == "string_pattern_mismatch":
        return ("代码只能包含字母、数字、汉字、-、_ 和 . (keys may hold letters, digits, "
                "Chinese characters, '-', '_' and '.' only)")
    if err["type"] == "string_too_long":
        return "代码过长，最多 64 个字符 (a key is at most 64 characters)"
    return str(err["msg"])


def read_units(path: Path, name: str | None = None, known: Mapping[str, str] | None = None) -> list[UnitSpec]:
    """The units of a CSV/XLSX unit list; raises `SpecInvalid` with every problem of every row.
    `name` is what messages call the file (an upload's own name); `known` are units listed elsewhere
    (key -> name: the spec's own, when the list is merged with them) that a row may name as its parent.

    A parent cell may hold the parent's key or, as lists exported from Excel do, its name (城东学区):
    a name that fits exactly one unit of the list (or of `known`) stands for its key."""
    path = Path(path)
    file = name or str(path)
    known = dict(known or {})
    # the header is the first of the top rows that names the key and name columns: bureaus' lists often
    # carry a title row (XX县教育局单位名单, merged across) above it
    table = read_sheet(path, file, fits=_fits)
    header, rows = table.header, table.rows
    if not header:
        raise SpecInvalid([Problem(file, None, "", "文件为空 (the file is empty)")])
    columns, problems = _columns(header, file, title_hint(table, "单位代码、单位名称 (key, name)"))
    if problems:
        raise SpecInvalid(problems)
    if not rows:
        raise SpecInvalid([Problem(file, None, "", "单位列表为空 (the unit list has no units)")])

    def where(n: int, fld: str) -> str:
        return f"row {n}.{header[columns[fld]]}"

    cells = [(n, {fld: cell_text(c[i]) if i < len(c) else None for fld, i in columns.items()}) for n, c in rows]
    # every key and name of the list first: a row may name a parent listed below it
    candidates = [*((v["key"], v["name"] or "") for _, v in cells if v["key"]),
                  *((k, nm) for k, nm in known.items())]
    keys = {k for k, _ in candidates}  # a parent cell holding a key is found at once, not by a scan of the list
    units: list[UnitSpec] = []
    # key and parent of every row that names a key, even a row with other faults, so that one bad
    # cell does not also make its children report an unknown parent
    skeleton: dict[str, tuple[int, str | None]] = {}
    for n, values in cells:
        row_problems: list[Problem] = []
        for fld, zh in _REQUIRED.items():
            if not values[fld]:
                row_problems.append(Problem(file, n, where(n, fld), f"第 {n} 行缺少{zh} (row {n}: {fld} is missing)"))
        if not values.get("contact"):
            for fld in ("email", "phone", "role"):
                if values.get(fld):
                    row_problems.append(Problem(file, n, where(n, fld),
                                                f"填写了{header[columns[fld]]}但没有联系人 "
                                                f"({fld} given without a contact name)"))
        parent, problem = (None, None) if not values.get("parent") else (str(values["parent"]).strip(), None) \
            if str(values["parent"]).strip() in keys else _parent_key(str(values["parent"]), candidates, n)
        if problem:
            row_problems.append(Problem(file, n, where(n, "parent"), problem))
        key = values["key"]
        if key:
            if key in skeleton:
                first = skeleton[key][0]
                row_problems.append(Problem(file, n, where(n, "key"), f"单位代码重复 '{key}'，与第 {first} 行相同 "
                                                                       f"(duplicate unit key, also on row {first})"))
            else:
                # an unresolved parent is reported above, once: the hierarchy check below does not repeat it
                skeleton[key] = (n, None if problem else parent)
        if row_problems:
            problems.extend(row_problems)
            continue
        data: dict[str, Any] = {"key": key, "name": values["name"], "parent": parent}
        data["tags"] = [t.strip() for t in _TAG_SPLIT.split(values.get("tags") or "") if t.strip()]
        if values.get("contact"):
            data["contacts"] = [{"name": values["contact"], "email": values.get("email"),
                                 "phone": values.get("phone"), "role": values.get("role")}]
        try:
            units.append(UnitSpec.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors():
                fld = next((str(p) for p in reversed(err["loc"]) if str(p) in columns), "key")
                fld = "contact" if fld == "name" and "contacts" in err["loc"] else fld
                problems.append(Problem(file, n, where(n, fld), _pydantic_message(err)))

    # duplicates are reported above with row numbers; the hierarchy check sees each key once, and the
    # units known from elsewhere as roots (their own parents are checked where they are listed)
    # every field given: model_construct calls a default factory through inspect.signature, about 1 ms a
    # unit (50 s for a province's list of 50,000)
    shells = [UnitSpec.model_construct(key=k, name=k, parent=p, tags=[], contacts=[]) for k, (_, p) in skeleton.items()]
    shells += [UnitSpec.model_construct(key=k, name=k, parent=None, tags=[], contacts=[]) for k in known if k not in skeleton]
    row_of = [n for n, _ in skeleton.values()]
    for i, fld, message in hierarchy_problems(shells):
        if i >= len(row_of):
            continue
        n = row_of[i]
        problems.append(Problem(file, n, where(n, fld if fld in columns else "key"), message))
    if problems:
        problems.sort(key=lambda p: (p.line or 0))
        raise SpecInvalid(problems)
    return units


def _parent_key(text: str, candidates: list[tuple[str, str]], n: int) -> tuple[str, str | None]:
    """The key a parent cell stands for, or the cell as written and what is wrong with it."""
    match = names.lookup(text, candidates)
    if match.key is not None:
        return match.key, None
    if match.ambiguous:
        return text, (f"第 {n} 行上级单位 '{text}' 对应多个单位：{names.describe(match.ambiguous)}；请填写上级单位的代码 "
                      f"(row {n}: the parent name '{text}' fits several units; give the parent's key)")
    return text, f"上级单位 '{text}' 不存在 (unknown parent unit)" + names.did_you_mean(match.suggestions)
