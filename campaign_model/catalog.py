"""The shipped campaign templates: list them, read one, re-date one to another year.

Re-dating works on the text, not on the parsed spec, so that the administrator's copy keeps the
template's comments (which name the seed sentence behind every date) and its layout.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml

from .calendar import WorkCalendar
from .errors import InvalidInput, NotFound
from .spec import CampaignSpec
from .specfile import campaign_calendar, load_spec_text
from .timeexpr import parse_datetime_text, resolve_due

TEMPLATE_DIR = Path(__file__).parent / "templates"

# a date (group 2-3 present) or a bare year; digits on either side mean a longer number
_YEAR_OR_DATE = re.compile(r"(?<!\d)(\d{4})(?:-(\d{2})-(\d{2}))?(?!\d)")
# the campaign's own `key:` (a unit's key must not move: `parent:` and `from:` refer to it) and
# block-style `title:`/`title_en:` at any depth, also as the first key of a list item
_NAMING_LINE = re.compile(r"^key\s*:|^\s*(?:-\s+)?(?:title|title_en)\s*:")


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    key: str
    title: str
    title_en: str | None
    phases: list[str]
    year: int


def template_names() -> list[str]:
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.yaml"))


def template_text(name: str) -> str:
    names = template_names()
    # checked against the listing so that a name such as '../x' cannot reach other files
    if name not in names:
        raise NotFound(
            f"没有名为 '{name}' 的模板，可用模板：{'、'.join(names)} "
            f"(no template named '{name}'; available: {', '.join(names)})",
            field="template",
        )
    return (TEMPLATE_DIR / f"{name}.yaml").read_text(encoding="utf-8")


def list_templates() -> list[TemplateInfo]:
    out = []
    for name in template_names():
        spec = load_spec_text(template_text(name), f"{name}.yaml").spec
        out.append(TemplateInfo(
            name=name,
            key=spec.key,
            title=spec.title,
            title_en=spec.title_en,
            phases=[p.key for p in spec.phases],
            year=spec.phases[0].start.year,
        ))
    return out


def _phase_years(text: str) -> tuple[int, int, int]:
    """(base year, first year, last year) of a template's phase windows."""
    try:
        data = yaml.safe_load(text)
        phases = data["phases"]
        starts = [dt.date.fromisoformat(str(p["start"])[:10]) for p in phases]
        ends = [dt.date.fromisoformat(str(p["end"])[:10]) for p in phases]
    except (yaml.YAMLError, TypeError, KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(
            f"无法确定模板的年份：需要 phases 及其 start/end 日期 "
            f"(cannot find the template's year: phases with start/end dates are needed; {exc})"
        ) from None
    if not starts:
        raise InvalidInput("模板没有阶段 (the template has no phases)")
    years = [d.year for d in starts + ends]
    return starts[0].year, min(years), max(years)


def shift_years(text: str, year: int) -> str:
    """Move a spec to `year` keeping every month and day (the demo's script is written against these);
    years in its names follow. `redate` is what an administrator wants: it also keeps working days."""
    base, first, last = _phase_years(text)
    return _rewrite(text, year - base, first, last, {}, {})


def _rewrite(text: str, shift: int, first: int, last: int, fields: dict[tuple[int, int], dt.date],
             comments: dict[dt.date, dt.date]) -> str:
    """The text with its dates moved: a structural date at (line, column) to `fields`, another date to
    `comments` or else by `shift` years with the same month and day; bare years only in names."""
    if not (1 <= first + shift and last + shift <= 9999):
        raise InvalidInput(f"年份超出范围 {first + shift} (year out of range)", field="year")

    def replace(m: re.Match[str], line_no: int, naming: bool) -> str:
        y = int(m.group(1))
        if m.group(2) is None:
            # a bare number is a year only in a name, and only if the campaign spans it
            return str(y + shift) if naming and first <= y <= last else m.group(0)
        try:
            source = dt.date(y, int(m.group(2)), int(m.group(3)))
        except ValueError:
            return m.group(0)
        # a quoted scalar's node starts at its quote
        moved = fields.get((line_no, m.start())) or fields.get((line_no, m.start() - 1))
        return (moved or comments.get(source) or _same_day(source, shift)).isoformat()

    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        naming = bool(_NAMING_LINE.match(line))
        lines[i] = _YEAR_OR_DATE.sub(partial(replace, line_no=i, naming=naming), line)
    return "".join(lines)


def _same_day(day: dt.date, shift: int) -> dt.date:
    year = day.year + shift
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return dt.date(year, 2, 28)
    return day.replace(year=year)


# what an earlier re-dating wrote: its header lines and its notes at the end of moved lines
_OUR_HEADER = re.compile(r"^# (?:由(?:模板)? \S+（\d{4} 年.*改期至 \d{4} 年|\d{4} 年尚无官方节假日数据).*\n?")
_OUR_NOTE = re.compile(r"  # 改期：[^\n]*$", re.M)
_SEED = re.compile(r"\(seed (\d+)\)")


def redate(text: str, year: int, *, name: str | None = None) -> str:
    """Move a spec (a template's text) to `year`, keeping each date's role by the spec's calendar.

    A date that was a working day lands on a working day of the same month and day or the next one
    after it (a make-up weekend day 调休 does not count, unless the source date was one); a date that
    was not a working day (a window closing on a Sunday, a year's 12-31) keeps its month and day.
    Windows stay in order and every step due inside its window stays inside: a window is lengthened,
    and the next one starts later, when a holiday pushed a start. Every moved date says why in a
    comment at the end of its line; the header says what was re-dated from what.
    """
    lines = text.splitlines(keepends=True)
    while lines and _OUR_HEADER.match(lines[0]):
        lines.pop(0)
    text = _OUR_NOTE.sub("", "".join(lines))
    base, first, last = _phase_years(text)
    shift = year - base
    if shift == 0:
        return text
    if not (1 <= first + shift and last + shift <= 9999):
        raise InvalidInput(f"年份超出范围 {year} (year out of range)", field="year")
    spec = load_spec_text(text, f"{name or 'spec'}.yaml").spec
    plan = _Plan(spec, shift)
    plan.run(yaml.compose(text))
    moved = _rewrite(text, shift, first, last, plan.fields, plan.same_everywhere())
    out = moved.splitlines(keepends=True)
    for line_no, notes in sorted(plan.notes.items()):
        body = out[line_no].rstrip("\r\n")
        out[line_no] = f"{body}  # 改期：{'；'.join(n[0] for n in notes)} ({'; '.join(n[1] for n in notes)})" + \
            out[line_no][len(body):]
    return "".join(_header(spec, name, base, year, text, plan.calendar) + out)


def _header(spec: CampaignSpec, name: str | None, base: int, year: int, text: str, cal: WorkCalendar) -> list[str]:
    # a template names its seed document first; a copy re-dated before keeps that line, but not that year
    seed = _SEED.search(text.split("\n", 1)[0]) if name else None
    source_zh = f"模板 {name}" if name else f" {spec.key}"
    source_en = f"template {name}" if name else spec.key
    detail_zh = f"{base} 年，种子 {seed.group(1)}" if seed else f"{base} 年"
    detail_en = f"{base}, seed {seed.group(1)}" if seed else f"{base}"
    out = [f"# 由{source_zh}（{detail_zh}）改期至 {year} 年：工作日按 {year} 年的节假日和调休安排，移动过的日期在行尾注明原因 "
           f"(re-dated from {source_en} ({detail_en}) to {year} by {year}'s holidays; a moved date says why on its line)\n"]
    last = max(p.end.year for p in spec.phases) + year - base
    missing = cal.uncovered_years(range(year, last + 1))
    if missing:
        shown = "、".join(map(str, missing))
        out.append(f"# {shown} 年尚无官方节假日数据，改期时暂以周一至周五为工作日；官方安排公布后请在 holidays/workdays 中写明并复核日期 "
                   f"(no official holiday data for {', '.join(map(str, missing))}: weekdays stood in; once the official "
                   f"days are out, list them under holidays/workdays and check the dates)\n")
    return out


class _Plan:
    """Where each structural date of a spec goes: phase starts and ends, and step dues given as dates."""

    def __init__(self, spec: CampaignSpec, shift: int):
        self.spec = spec
        self.shift = shift
        self.calendar = campaign_calendar(spec)
        self.fields: dict[tuple[int, int], dt.date] = {}  # (line, column) of a date scalar -> new date
        self.sources: dict[tuple[int, int], dt.date] = {}
        self.notes: dict[int, list[tuple[str, str]]] = {}

    def same_everywhere(self) -> dict[dt.date, dt.date]:
        """Source date -> new date, for a date every field of which moved alike: comments follow it."""
        targets: dict[dt.date, set[dt.date]] = {}
        for pos, source in self.sources.items():
            targets.setdefault(source, set()).add(self.fields[pos])
        return {s: next(iter(t)) for s, t in targets.items() if len(t) == 1}

    def land(self, day: dt.date) -> dt.date:
        """`day` in the new year: a working day stays one of its sort, anything else keeps month and day."""
        return self.fit(_same_day(day, self.shift), day)

    def fit(self, day: dt.date, source: dt.date) -> dt.date:
        """`day`, or the first day after it of the sort `source` was: an ordinary working day, or (for a
        make-up weekend day) any working day; a day that was not a working day takes any day."""
        cal = self.calendar
        if cal.is_ordinary_workday(source):
            fits = cal.is_ordinary_workday
        elif cal.is_workday(source):
            fits = cal.is_workday
        else:
            return day
        while not fits(day):
            day += dt.timedelta(days=1)
        return day

    def put(self, node: yaml.Node | None, source: dt.date, target: dt.date, why: tuple[str, str] | None = None) -> None:
        if node is None:  # a date the spec gives by default, not written in the template: nothing to rewrite
            return
        pos = (node.start_mark.line, node.start_mark.column)
        self.sources[pos] = source
        self.fields[pos] = target
        plain = _same_day(source, self.shift)
        if target == plain:
            return
        if why is None:
            zh, en = self.calendar.why_not_ordinary(plain)
            why = (f"{plain} {zh}，顺延至 {target}", f"{plain} {en}; moved to the next working day")
        self.notes.setdefault(node.start_mark.line, []).append(why)

    def run(self, root: yaml.Node | None) -> None:
        spec, cal = self.spec, self.calendar
        phase_nodes = _must(root, "phases")
        prev: tuple[dt.date, dt.date] | None = None  # the new (start, end) of the phase before
        for i, phase in enumerate(spec.phases):
            node = phase_nodes.value[i]
            start = self.land(phase.start)
            why_start = None
            if prev is not None:
                before = spec.phases[i - 1]
                # a window after its predecessor's stays after it; one that overlapped it starts after its start
                floor = prev[1] if phase.start > before.end else prev[0]
                if start <= floor:
                    start = self.fit(floor + dt.timedelta(days=1), phase.start)
                    why_start = (f"上一阶段至 {prev[1]}，本阶段改为 {start} 开始",
                                 f"the phase before runs to {prev[1]}; this one now starts on {start}")
            end, why_end = self.land(phase.end), None
            if end < start:
                end = start
                why_end = (f"本阶段改为 {start} 开始，结束随之改为 {end}", f"the phase now starts on {start}; it ends then too")
            steps = _get(node, "steps")
            for j, step in enumerate(phase.steps):
                due_node = _get(steps.value[j], "due") if steps is not None else None
                was = resolve_due(step.due, phase_start=phase.start, phase_end=phase.end, calendar=cal, tz=spec.tz)
                was_day = was.astimezone(spec.tz).date()
                inside = phase.start <= was_day <= phase.end
                fixed = _fixed_date(step.due)
                if fixed is not None:
                    new, why = self.land(fixed), None
                    if inside and new < start:
                        new = self.fit(start, fixed)
                        why = (f"本阶段改为 {start} 开始，期限随之改为 {new}",
                               f"the phase now starts on {start}; the due follows to {new}")
                    self.put(due_node, fixed, new, why)
                else:
                    new = resolve_due(step.due, phase_start=start, phase_end=end, calendar=cal, tz=spec.tz)
                    new = new.astimezone(spec.tz).date()
                if inside and new > end:
                    end = new
                    why_end = (f"阶段延长至 {end}，使步骤 {step.key} 的期限仍在阶段内",
                               f"the window is lengthened to {end} so that step {step.key} stays inside it")
            self.put(_must(node, "start"), phase.start, start, why_start)
            self.put(_must(node, "end"), phase.end, end, why_end)
            prev = (start, end)


def _fixed_date(due: object) -> dt.date | None:
    """The date of a due given as a date or date-time; None for 'start + 10 workdays' and the like."""
    if isinstance(due, dt.datetime):
        return due.date()
    if isinstance(due, dt.date):
        return due
    value = parse_datetime_text(str(due))
    return value.date() if isinstance(value, dt.datetime) else value


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    found: yaml.Node | None = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    return found


def _must(node: yaml.Node | None, key: str) -> yaml.Node:
    """The value node under `key` where the validated spec has one."""
    found = _get(node, key)
    if found is None:
        raise ValueError(f"the template has no '{key}' where its spec has one")
    return found
