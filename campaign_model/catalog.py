"""The shipped campaign templates: list them, read one, re-date one to another year.

Re-dating works on the text, not on the parsed spec, so that the administrator's copy keeps the
template's comments (which name the seed sentence behind every date) and its layout.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InvalidInput, NotFound
from .specfile import load_spec_text

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
            f"(no template named '{name}'; available: {', '.join(names)})"
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
        )
    if not starts:
        raise InvalidInput("模板没有阶段 (the template has no phases)")
    years = [d.year for d in starts + ends]
    return starts[0].year, min(years), max(years)


def redate(text: str, year: int) -> str:
    """Move a template to `year`: dates keep month and day, years in its names follow."""
    base, first, last = _phase_years(text)
    shift = year - base
    if not (1 <= first + shift and last + shift <= 9999):
        raise InvalidInput(f"年份超出范围 {year} (year out of range)")

    def replace(m: re.Match[str], naming: bool) -> str:
        y = int(m.group(1))
        if m.group(2) is None:
            # a bare number is a year only in a name, and only if the campaign spans it
            return str(y + shift) if naming and first <= y <= last else m.group(0)
        month, day = int(m.group(2)), int(m.group(3))
        if month == 2 and day == 29 and not calendar.isleap(y + shift):
            day = 28
        return f"{y + shift:04d}-{month:02d}-{day:02d}"

    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        naming = bool(_NAMING_LINE.match(line))
        lines[i] = _YEAR_OR_DATE.sub(lambda m: replace(m, naming), line)
    return "".join(lines)
