"""A campaign's timeline drawn to scale, as inline SVG: one column per day, weekends shaded, official holidays
(休) and make-up working days (调休上班, 班) marked, today's line, each phase a band (phases that overlap on
rows of their own) and each due date a mark with its label.

Pure: plain data in (`ChartPhase`, `ChartMark`, the campaign's `WorkCalendar`), markup out; no script, no
inline style (colours are SVG attributes, classes let `app.css` and tests find the parts). Every part a
reader may ask about carries a `<title>` (shown on hover, read by screen readers). The chart keeps its
scale (a few pixels per day at least) and is meant to sit in a scrolling box (`div.timeline-scroll`) on a
phone, where it is wider than the screen.

Used by the campaign's overview (`/c/{key}`) and by the timeline editor (a draft's resolved dates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from typing import Any

from markupsafe import Markup

from campaign_model.calendar import WorkCalendar

# --- the data it draws ---


@dataclass(frozen=True)
class ChartMark:
    """A due date on a phase's band; `state`: done / overdue / open, or None (a draft: no state yet)."""

    label: str
    day: dt.date
    state: str | None = None


@dataclass(frozen=True)
class ChartPhase:
    """A phase's window, first and last day included; `state` (pending/active/overdue/completed) colours its band."""

    key: str
    title: str
    start: dt.date
    end: dt.date
    marks: list[ChartMark] = field(default_factory=list)
    state: str | None = None


# --- geometry ---

LEFT, RIGHT = 12.0, 16.0
AXIS = 40.0            # months and week ticks at the top
BAND = 18.0            # a phase's band
LINE = 15.0            # one line of mark labels
LANE_GAP = 14.0
MAX_DAY, MIN_DAY = 26.0, 4.0   # pixels per day: wide for a short draft, never below MIN_DAY
TARGET_WIDTH = 1180.0
FONT_SIZE = 12

PHASE_COLOURS = {"pending": "#9e9e9e", "active": "#1e6fd9", "overdue": "#d9534f", "completed": "#2e9d4f",
                 None: "#5c7fa8"}
MARK_COLOURS = {"done": "#2e9d4f", "overdue": "#c62828", "open": "#1565c0", None: "#444"}
DAY_FILLS = {"weekend": "#ececec", "holiday": "#fbd3cf", "makeup": "#d6e6fb"}

WORDS = {
    "zh": {"chart": "活动时间轴（按比例）", "today": "今天", "weekend": "周末", "holiday": "法定节假日（休）",
           "makeup": "调休上班日（班）", "off": "休", "on": "班", "due": "截止", "done": "已完成", "overdue": "逾期",
           "open": "未完成", "plan": "截止日", "holiday_one": "休息", "makeup_one": "调休上班",
           "no_phases": "暂无阶段", "phase_days": "天", "weekdays": "一二三四五六日"},
    "en": {"chart": "Campaign timeline (to scale)", "today": "today", "weekend": "weekend",
           "holiday": "public holiday (off)", "makeup": "make-up working day", "off": "off", "on": "work",
           "due": "due", "done": "done", "overdue": "overdue", "open": "open", "plan": "due date",
           "holiday_one": "holiday", "makeup_one": "make-up working day", "no_phases": "no phases yet",
           "phase_days": "days", "weekdays": ""},
}
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _words(lang: str) -> dict[str, str]:
    return WORDS["en" if lang == "en" else "zh"]


def _weekday(day: dt.date, lang: str) -> str:
    return WEEKDAYS_EN[day.weekday()] if lang == "en" else "周" + WORDS["zh"]["weekdays"][day.weekday()]


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """An estimate of a label's width: a CJK character a full em, anything else about 0.6 em."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def day_kind(calendar: WorkCalendar, day: dt.date) -> str | None:
    """holiday (an official day off), weekend, makeup (a weekend day worked, 调休上班), or None (a working day)."""
    if not calendar.is_workday(day):
        if calendar.holiday_name(day) is not None or day in calendar.holidays or day.weekday() < 5:
            return "holiday"
        return "weekend"
    return None if calendar.is_ordinary_workday(day) else "makeup"


def lanes(phases: list[ChartPhase]) -> list[int]:
    """Each phase's row: phases in their order, each on the first row free on its first day."""
    ends: list[dt.date] = []
    out = []
    for p in phases:
        row = next((i for i, end in enumerate(ends) if end < p.start), len(ends))
        if row == len(ends):
            ends.append(p.end)
        else:
            ends[row] = p.end
        out.append(row)
    return out


class _Scale:
    def __init__(self, first: dt.date, last: dt.date) -> None:
        self.first, self.days = first, (last - first).days + 1
        self.dx = max(MIN_DAY, min(MAX_DAY, TARGET_WIDTH / self.days))
        self.width = LEFT + self.days * self.dx + RIGHT

    def x(self, day: dt.date) -> float:
        """The left edge of `day`'s column."""
        return LEFT + (day - self.first).days * self.dx

    def mid(self, day: dt.date) -> float:
        return self.x(day) + self.dx / 2


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", extra: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}{extra}>{escape(text)}</text>'


def _place(spans: list[tuple[float, float]], levels: list[list[tuple[float, float]]]) -> list[int]:
    """Each label's line under its band: the first line where it overlaps no label already there."""
    out = []
    for lo, hi in spans:
        level = next((i for i, taken in enumerate(levels) if all(hi + 4 <= a or lo >= b + 4 for a, b in taken)),
                     len(levels))
        if level == len(levels):
            levels.append([])
        levels[level].append((lo, hi))
        out.append(level)
    return out


# --- the chart ---

def timeline_chart(phases: list[ChartPhase], calendar: WorkCalendar, today: dt.date | None, lang: str) -> Markup:
    """The timeline of `phases` to scale, with the calendar's days off and make-up days, `today`'s line (None: none)."""
    w = _words(lang)
    if not phases:
        return Markup(_frame(420.0, 60.0, w["chart"], w["no_phases"],
                             [_text(210, 35, w["no_phases"], anchor="middle")]))
    days = [d for p in phases for d in (p.start, p.end, *(m.day for m in p.marks))]
    first, last = min(days) - dt.timedelta(days=1), max(days) + dt.timedelta(days=1)
    scale = _Scale(first, last)
    rows = lanes(phases)
    # the lines of titles over each row and of mark labels under it, so that the rows below start after them
    title_lines: dict[int, list[list[tuple[float, float]]]] = {}
    label_lines: dict[int, list[list[tuple[float, float]]]] = {}
    titled: list[tuple[float, int]] = []
    placed: list[list[int]] = []
    for p, row in zip(phases, rows, strict=True):
        x = _title_x(p, scale)
        titled.append((x, _place([(x, x + text_width(_phase_text(p)))], title_lines.setdefault(row, []))[0]))
        spans = []
        for m in sorted(p.marks, key=lambda m: m.day):
            lo, hi = _label_span(scale, m)
            spans.append((lo, hi))
        placed.append(_place(spans, label_lines.setdefault(row, [])))
    tops, y = {}, AXIS + 22  # room for 休 / 班 above the first row
    for row in range(max(rows) + 1):
        tops[row] = y + len(title_lines.get(row, [])) * LINE
        y = tops[row] + BAND + max(len(label_lines.get(row, [])), 1) * LINE + LANE_GAP
    bottom = y - LANE_GAP + 4
    legend, legend_height = _legend(scale.width, bottom + 26, lang)
    height = bottom + 26 + legend_height

    body: list[str] = [_day_columns(scale, calendar, AXIS, bottom, lang), _axis(scale, lang)]
    for p, row, title, levels in zip(phases, rows, titled, placed, strict=True):
        body.append(_band(p, scale, tops[row], title, levels, lang))
    if today is not None:
        body.append(_today(scale, today, AXIS - 10, bottom, lang))
    body.append(legend)
    desc = "; ".join(f"{p.title} {p.start.isoformat()} – {p.end.isoformat()}" for p in phases)
    if today is not None:
        desc = f'{w["today"]} {today.isoformat()}; {desc}'
    return Markup(_frame(scale.width, height, w["chart"], desc, body))


def _frame(width: float, height: float, label: str, desc: str, body: list[str]) -> str:
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline-chart" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(label)}" '
        f'font-family="sans-serif" font-size="{FONT_SIZE}">',
        f"<title>{escape(label)}</title><desc>{escape(desc)}</desc>", *body, "</svg>"])


def _day_title(day: dt.date, kind: str, calendar: WorkCalendar, lang: str) -> str:
    w = _words(lang)
    name = calendar.holiday_name(day)
    what = w["holiday_one"] if kind == "holiday" else w["makeup_one"] if kind == "makeup" else w["weekend"]
    named = (name[1] if lang == "en" else name[0]) if name and kind != "weekend" else ""
    return f"{day.isoformat()} {_weekday(day, lang)} {named}{' ' if named and lang == 'en' else ''}{what}".strip()


def _day_columns(scale: _Scale, calendar: WorkCalendar, top: float, bottom: float, lang: str) -> str:
    """A shaded column for each weekend day, holiday and make-up working day; 休 / 班 over each run of them."""
    w = _words(lang)
    out, words = ['<g class="days">'], []
    previous: str | None = None
    free = 0.0  # where the next 休 / 班 may start
    for i in range(scale.days):
        day = scale.first + dt.timedelta(days=i)
        kind = day_kind(calendar, day)
        if kind is not None:
            x = scale.x(day)
            out.append(f'<rect class="day {kind}" data-day="{day.isoformat()}" x="{x:.1f}" y="{top:.1f}" '
                       f'width="{scale.dx:.1f}" height="{bottom - top:.1f}" fill="{DAY_FILLS[kind]}">'
                       f"<title>{escape(_day_title(day, kind, calendar, lang))}</title></rect>")
            word = w["off"] if kind == "holiday" else w["on"]
            # one word over a run of days, where the word before leaves room for it
            if kind in ("holiday", "makeup") and kind != previous and x >= free:
                free = x + text_width(word, 11) + 2
                colour = "#b3261e" if kind == "holiday" else "#0d47a1"
                near_end = x + text_width(word, 11) > scale.width - 2
                words.append(_text(x + scale.dx if near_end else x + 1, top + 12, word, anchor="end" if near_end else "start",
                                   cls=f"day-word {kind}-word",
                                   extra=f' fill="{colour}" font-size="11" font-weight="bold" data-day="{day.isoformat()}"'))
        previous = kind
    out.extend(words)  # over every column, not under the next one
    out.append("</g>")
    return "".join(out)


def _axis(scale: _Scale, lang: str) -> str:
    """Months along the top; a tick on each Monday with its day of the month when there is room."""
    out = ['<g class="axis">']
    y0 = 14.0
    for i in range(scale.days):
        day = scale.first + dt.timedelta(days=i)
        x = scale.x(day)
        if day.day == 1 or i == 0:
            label = day.strftime("%Y-%m") if (day.month == 1 or i == 0) else (
                f"{day.month}月" if lang != "en" else day.strftime("%b"))
            out.append(f'<line class="month" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{AXIS:.1f}" stroke="#888"/>')
            out.append(_text(x + 3, y0, label, cls="month-label", extra=' font-weight="bold"'))
        if day.weekday() == 0 and scale.dx * 7 >= 20:
            out.append(f'<line class="week" x1="{x:.1f}" y1="{AXIS - 8:.1f}" x2="{x:.1f}" y2="{AXIS:.1f}" stroke="#888"/>')
            out.append(_text(x + 2, AXIS - 11, str(day.day), cls="week-label", extra=' font-size="10" fill="#555"'))
    out.append(f'<line x1="{LEFT}" y1="{AXIS:.1f}" x2="{scale.width - RIGHT:.1f}" y2="{AXIS:.1f}" stroke="#888"/>')
    out.append("</g>")
    return "".join(out)


LABEL_CHARS = 14  # a longer step title is cut short on the chart; its mark's <title> has it whole


def _mark_text(m: ChartMark) -> str:
    label = m.label if len(m.label) <= LABEL_CHARS else m.label[: LABEL_CHARS - 1] + "…"
    return f"{label} {m.day.month}/{m.day.day}"


def _label_span(scale: _Scale, m: ChartMark) -> tuple[float, float]:
    """Where a mark's label runs: from its mark rightwards, or leftwards where it would pass the right edge."""
    x, width = scale.mid(m.day), text_width(_mark_text(m))
    if x - 3 + width > scale.width - 2:
        return x + 3 - width, x + 6
    return x - 3, x + 6 + width


def _mark_label(scale: _Scale, m: ChartMark, y: float, colour: str) -> str:
    lo, _ = _label_span(scale, m)
    leftwards = lo < scale.mid(m.day) - 3
    x = scale.mid(m.day) + 3 if leftwards else lo
    return _text(x, y, _mark_text(m), anchor="end" if leftwards else "start", cls="mark-label",
                 extra=f' fill="{colour}"')


def _phase_text(p: ChartPhase) -> str:
    return f"{p.title}  {p.start.month}/{p.start.day} – {p.end.month}/{p.end.day}"


def _title_x(p: ChartPhase, scale: _Scale) -> float:
    """A phase's title starts over its band, moved left where it would run past the chart's right edge."""
    return max(LEFT, min(scale.x(p.start), scale.width - RIGHT - text_width(_phase_text(p))))


def _band(p: ChartPhase, scale: _Scale, top: float, title: tuple[float, int], levels: list[int], lang: str) -> str:
    w = _words(lang)
    x0, x1 = scale.x(p.start), scale.x(p.end) + scale.dx
    span = (p.end - p.start).days + 1
    colour = PHASE_COLOURS.get(p.state, PHASE_COLOURS[None])
    tip = (f"{p.title}: {p.start.isoformat()} ({_weekday(p.start, lang)}) – {p.end.isoformat()} "
           f"({_weekday(p.end, lang)}), {span} {w['phase_days']}")
    out = [f'<g class="phase-row" data-phase="{escape(p.key)}">',
           _text(title[0], top - 5 - title[1] * LINE, _phase_text(p), cls="phase-title", extra=' font-weight="bold"'),
           f'<rect class="phase phase-{escape(p.state or "plan")}" data-phase="{escape(p.key)}" x="{x0:.1f}" '
           f'y="{top:.1f}" width="{x1 - x0:.1f}" height="{BAND}" rx="3" fill="{colour}" fill-opacity="0.85">'
           f"<title>{escape(tip)}</title></rect>"]
    for m, level in zip(sorted(p.marks, key=lambda m: m.day), levels, strict=True):
        x = scale.mid(m.day)
        colour = MARK_COLOURS.get(m.state, MARK_COLOURS[None])
        state = w.get(m.state or "plan", w["plan"])
        tip = f"{m.label}: {w['due']} {m.day.isoformat()} ({_weekday(m.day, lang)}) · {state}"
        ly = top + BAND + 12 + level * LINE
        out.append(f'<g class="mark mark-{escape(m.state or "plan")}" data-day="{m.day.isoformat()}" '
                   f'data-x="{x:.1f}"><title>{escape(tip)}</title>'
                   f'<line x1="{x:.1f}" y1="{top - 2:.1f}" x2="{x:.1f}" y2="{ly - 9:.1f}" stroke="{colour}" '
                   f'stroke-width="1.5"/>'
                   f'<path d="M{x:.1f} {top + BAND / 2 - 6:.1f} l6 6 l-6 6 l-6 -6 z" fill="{colour}" stroke="#fff"/>'
                   + _mark_label(scale, m, ly, colour) + "</g>")
    out.append("</g>")
    return "".join(out)


def _today(scale: _Scale, today: dt.date, top: float, bottom: float, lang: str) -> str:
    w = _words(lang)
    inside = scale.first <= today < scale.first + dt.timedelta(days=scale.days)
    x = scale.mid(today) if inside else (LEFT if today < scale.first else scale.width - RIGHT)
    label = f"{w['today']} {today.month}/{today.day}"
    if not inside:
        label = f"← {label}" if today < scale.first else f"{label} →"
    anchor = "start" if x < 60 else "end" if x > scale.width - 60 else "middle"
    return (f'<g class="today" data-day="{today.isoformat()}" data-x="{x:.1f}"><title>{escape(w["today"])} '
            f'{today.isoformat()}</title><line x1="{x:.1f}" y1="{top + 8:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
            f'stroke="#b71c1c" stroke-width="2" stroke-dasharray="5 3"/>'
            + _text(x, bottom + 14, label, anchor=anchor, cls="today-label", extra=' fill="#b71c1c" font-weight="bold"')
            + "</g>")


def _legend(width: float, y: float, lang: str) -> tuple[str, float]:
    """What the shades, the line and the marks mean, in lines that wrap to the chart's width."""
    w = _words(lang)
    items = [("swatch", DAY_FILLS["weekend"], w["weekend"]), ("swatch", DAY_FILLS["holiday"], w["holiday"]),
             ("swatch", DAY_FILLS["makeup"], w["makeup"]), ("today", "#b71c1c", w["today"]),
             ("mark", MARK_COLOURS["done"], w["done"]), ("mark", MARK_COLOURS["open"], w["open"]),
             ("mark", MARK_COLOURS["overdue"], w["overdue"])]
    out = ['<g class="legend">']
    x, line = LEFT, 0
    for kind, colour, text in items:
        size = 20 + text_width(text) + 16
        if x + size > width - RIGHT and x > LEFT:
            x, line = LEFT, line + 1
        yy = y + line * 20
        if kind == "swatch":
            out.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="14" height="14" fill="{colour}" stroke="#bbb"/>')
        elif kind == "today":
            out.append(f'<line x1="{x + 7:.1f}" y1="{yy - 1:.1f}" x2="{x + 7:.1f}" y2="{yy + 15:.1f}" stroke="{colour}" '
                       f'stroke-width="2" stroke-dasharray="5 3"/>')
        else:
            out.append(f'<path d="M{x + 7:.1f} {yy + 1:.1f} l6 6 l-6 6 l-6 -6 z" fill="{colour}"/>')
        out.append(_text(x + 20, yy + 12, text, cls="legend-label"))
        x += size
    out.append("</g>")
    return "".join(out), (line + 1) * 20 + 6


# --- from the read models ---

def campaign_phases(status_phases: list[dict[str, Any]], marks: list[dict[str, Any]]) -> list[ChartPhase]:
    """The chart's phases from `queries.status(...)["phases"]` (start/end as local ISO instants) and
    `store.timeline.step_marks` (each step's local due day and state)."""
    by_phase: dict[str, list[ChartMark]] = {}
    for m in marks:
        by_phase.setdefault(m["phase"], []).append(ChartMark(m["title"], dt.date.fromisoformat(m["day"]), m["state"]))
    return [ChartPhase(p["key"], p["title"], dt.datetime.fromisoformat(p["start"]).date(),
                       dt.datetime.fromisoformat(p["end"]).date(), by_phase.get(p["key"], []), p.get("state"))
            for p in status_phases]
