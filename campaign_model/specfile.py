"""Reading a spec file: YAML with line numbers, pydantic structure, then every cross-reference.

`load_spec_text` returns the spec and its warnings, or raises `SpecInvalid` carrying every problem
as `FILE:LINE: path.to.field: message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .calendar import WorkCalendar
from .counts import figures_problems
from .errors import Problem, SpecInvalid
from .spec import ArtifactKind, CampaignSpec, Phase, UnitSpec
from .timeexpr import resolve_due
from .units import audience, audience_refs, hierarchy_problems

PathT = tuple[str | int, ...]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that leaves an impossible date (2023-02-30) as text for the field check to report."""

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)

# A spec is bounded before the YAML parser sees it: libyaml crashes the process (a segmentation fault)
# on `[` × 100,000 and takes minutes to scan it, and aliases (a billion laughs) expand without end
# when the tree is walked. A real spec is a few hundred lines, nested a dozen levels.
MAX_SPEC_BYTES = 2**20  # as the HTTP upload
MAX_FLOW_DEPTH = 50  # [ and { nested
MAX_INDENT = 200  # leading spaces and block indicators (- ? :) of a line: the block nesting's upper bound
MAX_NODES = 200_000  # the tree with every alias expanded
_QUOTED_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'|(?:^|(?<=\s))#[^\n]*', re.MULTILINE)
_FLOW = re.compile(r"[\[\]{}]")


def _check_shape(text: str, file: str) -> None:
    """Raises `SpecInvalid` for a spec too large or nested too deeply to parse safely (see above)."""
    size = len(text.encode("utf-8"))
    if size > MAX_SPEC_BYTES:
        raise SpecInvalid([Problem(file, None, "", f"规格文件超过 1 MB（{size} 字节）(the spec is larger than 1 MB: {size} bytes)")])
    for n, text_line in enumerate(text.splitlines(), start=1):
        if len(text_line) - len(text_line.lstrip(" -?:")) > MAX_INDENT:
            raise SpecInvalid([Problem(file, n, "", f"缩进超过 {MAX_INDENT} 列，嵌套过深 "
                                                    f"(indented more than {MAX_INDENT} columns: nested too deeply)")])
    plain = _QUOTED_OR_COMMENT.sub("", text)  # strings within one line and comments hold no structure
    depth = 0
    for m in _FLOW.finditer(plain):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_FLOW_DEPTH:
            line = plain.count("\n", 0, m.start()) + 1
            raise SpecInvalid([Problem(file, line, "", f"[ 和 {{ 嵌套超过 {MAX_FLOW_DEPTH} 层 "
                                                       f"([ and {{ nested more than {MAX_FLOW_DEPTH} levels deep)")])


def _expanded_size_ok(node: yaml.Node, limit: int = MAX_NODES) -> bool:
    """Whether the tree under `node`, every alias expanded, has at most `limit` nodes (counted without recursion)."""
    stack, seen = [node], 0
    while stack:
        seen += 1
        if seen > limit:
            return False
        at = stack.pop()
        if isinstance(at, yaml.MappingNode):
            stack.extend(n for pair in at.value for n in pair)
        elif isinstance(at, yaml.SequenceNode):
            stack.extend(at.value)
    return True

_PYDANTIC_ZH = {
    "missing": "缺少必填字段 (field required)",
    "extra_forbidden": "未知字段 (unknown field)",
    "date_from_datetime_parsing": "不是有效日期 (not a valid date, use YYYY-MM-DD)",
    "date_parsing": "不是有效日期 (not a valid date, use YYYY-MM-DD)",
    "date_type": "不是有效日期 (not a valid date, use YYYY-MM-DD)",
    "bool_parsing": "应为 true 或 false (must be true or false)",
    "bool_type": "应为 true 或 false (must be true or false)",
    "string_type": "应为文本 (must be text)",
    "list_type": "应为列表 (must be a list)",
    "dict_type": "应为映射 (must be a mapping of keys to values)",
    "model_type": "应为映射 (must be a mapping of keys to values)",
    "too_short": "不能为空 (must not be empty)",
    "string_too_short": "不能为空 (must not be empty)",
    "string_too_long": "太长：代码最多 64 个字符 (too long: at most 64 characters)",
    "date_from_datetime_inexact": "应为日期，不带时间 (must be a date without a time, YYYY-MM-DD)",
    "int_parsing": "应为整数 (must be a whole number)",
    "int_type": "应为整数 (must be a whole number)",
    "union_tag_invalid": "取值类型不对 (wrong kind of value)",
    "string_pattern_mismatch": "代码只能包含字母、数字、汉字、-、_ 和 . (keys may hold letters, digits, "
    "Chinese characters, '-', '_' and '.' only)",
}

_TYPE_MESSAGES = {_PYDANTIC_ZH[t] for t in ("string_type", "list_type", "dict_type", "date_type")}


def _lines(node: yaml.Node, path: PathT, out: dict[PathT, int], dups: list[tuple[PathT, str, int]]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode) and node.tag.startswith("!"):
        dups.append((path, f"未知的 YAML 标签 {node.tag} (unknown YAML tag)", node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                dups.append((path, "键必须是简单文本 (a key must be plain text)", key_node.start_mark.line + 1))
                continue
            key = key_node.value
            if key in seen:
                dups.append((path + (key,), "重复的键 (duplicate key)", key_node.start_mark.line + 1))
            seen.add(key)
            out[path + (key,)] = key_node.start_mark.line + 1
            _lines(value_node, path + (key,), out, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, path + (i,), out, dups)


def format_path(path: PathT) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


@dataclass
class LineMap:
    file: str
    lines: dict[PathT, int] = field(default_factory=dict)

    def line(self, path: PathT) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: PathT, message: str, severity: str = "error") -> Problem:
        return Problem(self.file, self.line(path), format_path(path), message, severity)


def parse_yaml(text: str, file: str) -> tuple[Any, LineMap]:
    _check_shape(text, file)
    lm = LineMap(file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecInvalid([Problem(file, line, "", f"YAML 语法错误: {reason} (YAML syntax error)")]) from None
    if node is None:
        raise SpecInvalid([Problem(file, None, "", "文件为空 (the file is empty)")])
    if not _expanded_size_ok(node):
        raise SpecInvalid([Problem(file, None, "", f"展开别名 (*) 后超过 {MAX_NODES} 个节点，拒绝读取 "
                                                   f"(with its aliases (*) expanded the spec has more than {MAX_NODES} nodes)")])
    dups: list[tuple[PathT, str, int]] = []
    _lines(node, (), lm.lines, dups)
    if dups:
        raise SpecInvalid([Problem(file, line, format_path(p), message) for p, message, line in dups])
    data = loader.construct_document(node)
    return data, lm


def _data_path(data: Any, loc: tuple[Any, ...]) -> PathT:
    """The part of pydantic's location that exists in the data (drops union-branch labels like 'str')."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        part = "from" if part == "from_" else part
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
        elif i == len(loc) - 1 and isinstance(part, str) and isinstance(node, dict) and not part[:1].isupper() \
                and "[" not in part and "-" not in part:
            path.append(part)  # a missing field: name it
    return tuple(path)


def _pydantic_problems(exc: ValidationError, lm: LineMap, data: Any) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = _data_path(data, tuple(err["loc"]))
        if err["type"] == "value_error":
            message = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
        else:
            message = _PYDANTIC_ZH.get(err["type"], f"取值无效 (invalid value: {err['msg']})")
            if err["type"] == "literal_error":
                message = f"取值不在允许范围内 (must be {err['ctx']['expected']})"
        problems.append(lm.problem(loc, message))
    # a union of several types reports one error per branch: keep one message per place, and drop a
    # "wrong type" complaint about a value when another branch says what is wrong inside it
    unique: dict[tuple[int | None, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.line, p.path), p)
    paths = [p.path for p in unique.values()]
    return [p for p in unique.values()
            if not (p.message in _TYPE_MESSAGES and any(q != p.path and q.startswith(p.path) for q in paths))]


@dataclass
class LoadedSpec:
    spec: CampaignSpec
    units: list[UnitSpec]
    warnings: list[Problem]
    text: str
    # where the units came from: {"spec": n, "file": m, "both": k} (k listed identically in both, counted once)
    unit_sources: dict[str, int] = field(default_factory=dict)


UnitLoader = Callable[[Path], list[UnitSpec]]


def load_spec_text(
    text: str,
    file: str = "<spec>",
    *,
    base_dir: Path | None = None,
    units: list[UnitSpec] | None = None,
    unit_loader: UnitLoader | None = None,
    unit_list: Path | None = None,
    unit_list_name: str | None = None,
) -> LoadedSpec:
    """Parse and check a spec. `units` replace the spec's own units (the demo's generated ones);
    `unit_list` (`create --units`, an upload) is a CSV/XLSX list merged with them (`merge_units`)."""
    data, lm = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecInvalid([Problem(file, lm.line(()), "", "规格文件应为映射 (a spec is a mapping of fields)")])
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecInvalid(_pydantic_problems(exc, lm, data)) from None
    if units is None:
        units = spec.units
    if units is None and spec.units_file:
        if unit_loader is None:
            from .unitfile import read_units

            unit_loader = read_units
        units = unit_loader((base_dir or Path(".")) / spec.units_file)
    units = units or []
    sources = {"spec": len(units), "file": 0, "both": 0}
    if unit_list is not None:
        from .unitfile import read_units

        list_name = unit_list_name or str(unit_list)
        units, sources = merge_units(units, read_units(unit_list, list_name, {u.key: u.name for u in units}),
                                     file, list_name)
    problems = check_spec(spec, units, lm, len(units) - sources["file"], unit_list_name or str(unit_list))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecInvalid(problems)
    return LoadedSpec(spec, units, problems, text, sources)


def merge_units(own: list[UnitSpec], listed: list[UnitSpec], spec_file: str,
                list_file: str) -> tuple[list[UnitSpec], dict[str, int]]:
    """The spec's own units followed by those of a separate list. A unit in both must be the same
    (name, parent, tags, contacts) and is kept once; a unit listed differently in the two is refused,
    naming each differing field: which one is right is for the administrator to say, not for us to guess."""
    mine = {u.key: u for u in own}
    problems: list[Problem] = []
    both = 0
    for u in listed:
        theirs = mine.get(u.key)
        if theirs is None:
            continue
        a, b = theirs.model_dump(), u.model_dump()
        differ = [f for f in ("name", "parent", "tags", "contacts") if a[f] != b[f]]
        if not differ:
            both += 1
            continue
        detail = "；".join(f"{f}: 规格 (spec) {_shown(a[f])}，名单 (list) {_shown(b[f])}" for f in differ)
        problems.append(Problem(list_file, None, f"units.{u.key}",
                                f"单位 '{u.key}' 在 {spec_file} 和 {list_file} 中不一致：{detail}。请修改其中一处使两者相同，"
                                f"或从其中一处删去该单位 (the unit is listed differently in the spec and in the list: "
                                f"edit one of the two so they agree, or remove it from one)"))
    if problems:
        raise SpecInvalid(problems)
    merged = list(own) + [u for u in listed if u.key not in mine]
    return merged, {"spec": len(own), "file": len(listed) - both, "both": both}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(c.get("name", str(c)) if isinstance(c, dict) else str(c) for c in value) + "]"
    return "—" if value is None else f"'{value}'"


def load_spec_file(path: Path, units: list[UnitSpec] | None = None, unit_list: Path | None = None) -> LoadedSpec:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecInvalid([Problem(str(path), None, "", "文件不存在 (file not found)")]) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise SpecInvalid([Problem(str(path), None, "", f"无法读取文件 (cannot read the file: {exc})")]) from None
    return load_spec_text(text, str(path), base_dir=path.parent, units=units, unit_list=unit_list)


def campaign_calendar(spec: CampaignSpec) -> WorkCalendar:
    return WorkCalendar(spec.calendar, frozenset(spec.holidays), frozenset(spec.workdays))


def check_spec(spec: CampaignSpec, units: list[UnitSpec], lm: LineMap, own_units: int | None = None,
               list_file: str = "<units>") -> list[Problem]:
    """Every cross-reference problem of a structurally valid spec (errors and warnings). The units after
    the first `own_units` came from a separate list (`list_file`); their problems name it."""
    out: list[Problem] = []
    own_units = len(units) if own_units is None else own_units
    unit_keys = {u.key for u in units}
    unit_src: tuple[str | int, ...] = ("units",) if spec.units is not None else ("units_file",)

    if spec.units is not None and spec.units_file:
        out.append(lm.problem(("units_file",), "units 与 units_file 只能写一个 (give units or units_file, not both)"))
    if not units:
        out.append(lm.problem(("units",), "没有单位：请写 units 或 units_file (no units: give units or units_file)"))
    for i, fld, message in hierarchy_problems(units):
        if i >= own_units:
            out.append(Problem(list_file, None, f"units.{units[i].key}.{fld}", message))
            continue
        path = unit_src + ((i, fld) if spec.units is not None else ())
        out.append(lm.problem(path, message))
    if spec.organizer and spec.organizer not in unit_keys and units:
        out.append(lm.problem(("organizer",), f"组织单位 '{spec.organizer}' 不在单位列表中 (organizer is not a listed unit)"))
    target = spec.reminders.escalate_to
    if target == "organizer" and not spec.organizer:
        out.append(lm.problem(("reminders", "escalate_to"), "escalate_to: organizer 需要先写 organizer (no organizer is set)"))
    elif target not in ("parent", "organizer") and units and target not in unit_keys:
        out.append(lm.problem(("reminders", "escalate_to"), f"未知单位 '{target}'，应为 parent、organizer 或单位代码 "
                                                            f"(unknown unit; use parent, organizer or a unit key)"))

    out.extend(_people_problems(spec, lm))
    for key, kind in spec.artifacts.items():
        out.extend(_tally_problems(kind, ("artifacts", key, "tally"), lm))
        out.extend(figures_problems(kind, ("artifacts", key), lm.problem))
        if kind.acknowledge and (kind.rows or kind.tally or kind.figures):
            out.append(lm.problem(("artifacts", key, "acknowledge"),
                                  "签收类材料不按行填报：acknowledge 与 rows/tally 不能同时写 "
                                  "(an acknowledged kind is filed with no rows: drop rows/tally or acknowledge)"))

    out.extend(_assessment_problems(spec, lm))

    cal = campaign_calendar(spec)
    years = {y for p in spec.phases for y in range(p.start.year, p.end.year + 1)}
    for year in cal.uncovered_years(years):
        out.append(lm.problem(("calendar",), f"{year} 年尚无官方节假日数据，暂按周一至周五计算工作日；可在 holidays/workdays 中写明 "
                                             f"(no official holiday data for {year}: weekdays stand in; "
                                             f"list the official days under holidays/workdays)", "warning"))

    seen_phase: dict[str, int] = {}
    tz = spec.tz
    for i, phase in enumerate(spec.phases):
        p = ("phases", i)
        if phase.key in seen_phase:
            out.append(lm.problem(p + ("key",), f"阶段代码重复 '{phase.key}' (duplicate phase key)"))
        seen_phase.setdefault(phase.key, i)
        if phase.end < phase.start:
            out.append(lm.problem(p + ("end",), f"结束日期 {phase.end} 早于开始日期 {phase.start} (end is before start)"))
        if i > 0:
            prev = spec.phases[i - 1]
            if phase.start <= prev.start:
                out.append(lm.problem(p + ("start",), f"阶段顺序错误：开始于 {phase.start}，"
                                                      f"不晚于上一阶段 '{prev.key}' 的开始 {prev.start} "
                                                      f"(phases out of order: starts before the previous phase)"))
            elif phase.start <= prev.end:
                out.append(lm.problem(p + ("start",), f"与上一阶段 '{prev.key}' 的时间窗口重叠 "
                                                      f"(overlaps the previous phase's window)", "warning"))
        if phase.gate and phase.gate.artifacts:
            for j, gated in enumerate(phase.gate.artifacts):
                if gated not in spec.artifacts:
                    out.append(lm.problem(p + ("gate", "artifacts", j), f"未定义的材料类型 '{gated}' (unknown artifact kind)"))
        out.extend(_evaluation_gate_problems(spec, phase, p + ("gate", "evaluation"), lm))
        seen_step: set[str] = set()
        for j, step in enumerate(phase.steps):
            s = p + ("steps", j)
            if step.key in seen_step:
                out.append(lm.problem(s + ("key",), f"步骤代码重复 '{step.key}' (duplicate step key)"))
            seen_step.add(step.key)
            for m, office in enumerate(step.lead or []):
                if office not in spec.people.offices:
                    out.append(lm.problem(s + ("lead", m) if s + ("lead", m) in lm.lines else s + ("lead",),
                                          f"未知股室 '{office}'，应为 people.offices 中的代码 "
                                          f"(unknown office: use a key of people.offices)"))
            if phase.end >= phase.start:
                due = resolve_due(step.due, phase_start=phase.start, phase_end=phase.end, calendar=cal, tz=tz)
                local = due.astimezone(tz)
                if local.date() < phase.start:
                    out.append(lm.problem(s + ("due",), f"期限 {local:%Y-%m-%d %H:%M} 早于阶段开始 {phase.start} "
                                                        f"(due before its phase starts)"))
                elif local.date() > phase.end:
                    out.append(lm.problem(s + ("due",), f"期限 {local:%Y-%m-%d %H:%M} 晚于阶段结束 {phase.end} "
                                                        f"(due after its phase ends)", "warning"))
            seen_req: set[tuple[str, str]] = set()
            for k, req in enumerate(step.requires):
                r = s + ("requires", k)
                if req.artifact not in spec.artifacts:
                    out.append(lm.problem(r + ("artifact",), f"未定义的材料类型 '{req.artifact}' (unknown artifact kind)"))
                sig = (req.artifact, str(req.from_))
                if sig in seen_req:
                    out.append(lm.problem(r, f"同一步骤重复要求 '{req.artifact}' (the same requirement twice in one step)"))
                seen_req.add(sig)
                if req.from_ == "organizer" and not spec.organizer:
                    out.append(lm.problem(r + ("from",), "from: organizer 需要先写 organizer (no organizer is set)"))
                for m, ref in enumerate(audience_refs(req.from_)):
                    if ref not in unit_keys and units:
                        path = r + ("from", m) if isinstance(req.from_, list) else r + ("from",)
                        out.append(lm.problem(path, f"未知单位 '{ref}' (unknown unit)"))
                if units and not audience(req.from_, units, spec.organizer) and not audience_refs(req.from_):
                    out.append(lm.problem(r + ("from",), f"'{req.from_}' 没有对应任何单位 (names no unit)", "warning"))
    return out


def _assessment_problems(spec: CampaignSpec, lm: LineMap) -> list[Problem]:
    """考核: the weights sum to 100 and the grades' thresholds fall, the last at 0 (every score gets a grade)."""
    a = spec.assessment
    if a is None:
        return []
    out = []
    w = a.weights
    total = w.on_time + w.rejections + w.closure
    if abs(total - 100) > 1e-9:
        out.append(lm.problem(("assessment", "weights"), f"权重之和应为 100，现为 {total:g} "
                                                         f"(the weights must sum to 100, not {total:g})"))
    for i in range(1, len(a.grades)):
        if a.grades[i].min >= a.grades[i - 1].min:
            out.append(lm.problem(("assessment", "grades", i, "min"),
                                  f"档次应从高到低排列：{a.grades[i].name} 的最低分 {a.grades[i].min:g} 应低于 "
                                  f"{a.grades[i - 1].name} 的 {a.grades[i - 1].min:g} "
                                  f"(grades go from the highest down: each min below the one before)"))
    if a.grades[-1].min != 0:
        out.append(lm.problem(("assessment", "grades", len(a.grades) - 1, "min"),
                              f"最低档 {a.grades[-1].name} 的最低分应为 0，否则低分单位没有档次 "
                              f"(the last grade must start at 0, so that every score has a grade)"))
    names = [g.name for g in a.grades]
    for i, name in enumerate(names):
        if name in names[:i]:
            out.append(lm.problem(("assessment", "grades", i, "name"), f"档次名称重复 '{name}' (duplicate grade name)"))
    return out


def _tally_problems(kind: ArtifactKind, t: PathT, lm: LineMap) -> list[Problem]:
    """An evaluation kind's tally must name integer (or number) columns of its own rows."""
    if kind.tally is None:
        return []
    rows = kind.rows or {}
    if not rows:
        return [lm.problem(t, "测评材料须定义表格列 rows，每种回答一列票数 (an evaluation kind needs rows: one count column per answer)")]
    out = []
    choices = kind.tally_choices()
    if not choices:
        out.append(lm.problem(t, "没有票数列：请定义 integer 类型的列 (no count columns: declare integer columns)"))
    named = [("choices", c) for c in kind.tally.choices or []] + [("positive", c) for c in kind.tally.positive]
    named += [("eligible", kind.tally.eligible)] if kind.tally.eligible else []
    for fld, col in named:
        if col not in rows:
            out.append(lm.problem(t + (fld,), f"'{col}' 不是该材料的列 (not a column of this kind's rows)"))
        elif rows[col].type not in ("integer", "number"):
            out.append(lm.problem(t + (fld,), f"列 '{col}' 应为 integer 类型的票数 (column '{col}' must be an integer count)"))
        elif fld == "positive" and col not in choices:
            out.append(lm.problem(t + (fld,), f"'{col}' 不在回答列 choices 中 (not one of the answer columns)"))
        elif fld == "eligible" and col in choices:
            out.append(lm.problem(t + (fld,), f"应参评人数列 '{col}' 不能同时是回答列 (the eligible column cannot be an answer)"))
    return out


def _evaluation_gate_problems(spec: CampaignSpec, phase: Phase, g: PathT, lm: LineMap) -> list[Problem]:
    cond = phase.gate.evaluation if phase.gate else None
    if cond is None:
        return []
    kind = spec.artifacts.get(cond.artifact)
    if kind is None:
        return [lm.problem(g + ("artifact",), f"未定义的材料类型 '{cond.artifact}' (unknown artifact kind)")]
    if kind.tally is None:
        return [lm.problem(g + ("artifact",), f"'{cond.artifact}' 不是测评材料：该材料类型须有 tally "
                                              f"(not an evaluation kind: the artifact kind needs a tally)")]
    if cond.min_response is not None and not kind.tally.eligible:
        return [lm.problem(g + ("min_response",), f"参评率需要应参评人数：请在 '{cond.artifact}' 的 tally 中写 eligible "
                                                  f"(a response rate needs tally.eligible on '{cond.artifact}')")]
    return []


def _people_problems(spec: CampaignSpec, lm: LineMap) -> list[Problem]:
    """The leading group's head and office must be listed; a name (or alias) naming two people or offices
    is ambiguous for the ledger's 责任领导 / 牵头股室 (a warning: such items stay free text)."""
    people, out = spec.people, []
    group = people.leading_group
    if group and group.head and group.head not in people.leaders:
        out.append(lm.problem(("people", "leading_group", "head"), f"未知领导 '{group.head}'，应为 people.leaders 中的代码 "
                                                                   f"(unknown leader: use a key of people.leaders)"))
    if group and group.office and group.office not in people.offices:
        out.append(lm.problem(("people", "leading_group", "office"), f"未知股室 '{group.office}'，应为 people.offices 中的代码 "
                                                                     f"(unknown office: use a key of people.offices)"))
    for section, entries in (("offices", people.offices), ("leaders", people.leaders)):
        seen: dict[str, str] = {}
        for key, entry in entries.items():
            for name in dict.fromkeys([key, entry.name, *entry.aliases]):
                if name in seen and seen[name] != key:
                    out.append(lm.problem(("people", section, key), f"名称 '{name}' 与 '{seen[name]}' 重复，台账中写此名称的事项无法对应 "
                                                                    f"(the name '{name}' also names '{seen[name]}': items naming it "
                                                                    f"stay free text)", "warning"))
                seen.setdefault(name, key)
    return out
