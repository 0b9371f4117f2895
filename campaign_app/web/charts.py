"""Charts of the dashboard and the public board as inline SVG: pure functions over the read models
(`queries.status`, `board.progress_series`), no script, no fonts or files fetched.

Each chart scales to its container (a viewBox, width 100%), is announced as an image with a <title>
and a <desc> for screen readers, and escapes every text it draws. Elements carry CSS classes
(`phase phase-<state>`, `today`, `due`, `filed`) so that pages can restyle them and tests find them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from html import escape
from typing import Any

from campaign_model.labels import PHASE_STATE, names

WIDTH = 800
FONT = 'font-family="sans-serif"'
STATE_COLOURS = {"pending": "#9e9e9e", "active": "#1e6fd9", "overdue": "#d9534f", "completed": "#2e9d4f"}
STATE_NAMES = {lang: names(PHASE_STATE, lang) for lang in ("zh", "en")}
WORDS = {
    "zh": {"timeline": "活动阶段时间轴", "today": "今天", "progress": "报送进度", "due": "应报", "filed": "已报",
           "no_phases": "暂无阶段", "no_data": "暂无数据", "as_of": "截至"},
    "en": {"timeline": "Campaign timeline", "today": "today", "progress": "filing progress", "due": "due",
           "filed": "filed", "no_phases": "no phases yet", "no_data": "no data yet", "as_of": "as of"},
}
AXIS_COLOUR = "#555"
# the two lines of the progress chart: (key, colour, dash)
LINES = (("due", "#9e9e9e", ' stroke-dasharray="6 4"'), ("filed", "#2e9d4f", ""))


def _words(lang: str) -> dict[str, str]:
    return WORDS["en" if lang == "en" else "zh"]


def _instant(value: dt.datetime | str) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _title(item: dict[str, Any], lang: str) -> str:
    """A phase's title in the chart's language: `title_en` when asked for English and present."""
    return str((item.get("title_en") or item["title"]) if lang == "en" else item["title"])


def _md(day: dt.date) -> str:
    return day.strftime("%m-%d")


def _svg(height: float, label: str, desc: str, body: Iterable[str], cls: str) -> str:
    """The chart's frame: responsive, announced as an image, its label and description escaped."""
    return "".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {cls}" viewBox="0 0 {WIDTH} {height:g}" '
        f'width="100%" role="img" aria-label="{escape(label)}" {FONT} font-size="13">',
        f"<title>{escape(label)}</title><desc>{escape(desc)}</desc>", *body, "</svg>"])


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", extra: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}{extra}>{escape(text)}</text>'


# --- the phase timeline ---

def timeline_svg(phases: list[dict[str, Any]], at: dt.datetime | str, lang: str = "zh") -> str:
    """One bar per phase across the campaign's dates, coloured by state, and a marker at `at`.

    `phases` as in `queries.status(...)["phases"]` (key, title, state, start, end as ISO instants);
    a phase's `title_en` is used with lang="en" when present. A marker outside the campaign's dates
    is drawn at the nearer edge, its label pointing the way.
    """
    w = _words(lang)
    names = STATE_NAMES["en" if lang == "en" else "zh"]
    if not phases:
        return _svg(60, w["timeline"], w["no_phases"], [_text(WIDTH / 2, 35, w["no_phases"], anchor="middle")],
                    "timeline")
    spans = [(p, _instant(p["start"]), _instant(p["end"])) for p in phases]
    lo, hi = min(s for _, s, _ in spans), max(e for _, _, e in spans)
    left, right, top, row = 20.0, WIDTH - 20.0, 40.0, 52.0
    length = max((hi - lo).total_seconds(), 1.0)

    def x(t: dt.datetime) -> float:
        return left + (t - lo).total_seconds() / length * (right - left)

    body = []
    for i, (p, start, end) in enumerate(spans):
        state = p.get("state", "pending")
        title = _title(p, lang)
        y, x0, x1 = top + i * row, x(start), x(end)
        label = f"{title} · {names.get(state, state)}  {_md(start.date())} – {_md(end.date())}"
        past_middle = x0 > (left + right) / 2  # a late bar is labelled from its right end, to stay inside
        body.append(_text(x1 if past_middle else x0, y + 14, label, anchor="end" if past_middle else "start",
                          cls="phase-label"))
        body.append(f'<rect class="phase phase-{escape(state)}" data-phase="{escape(str(p["key"]))}" '
                    f'x="{x0:.1f}" y="{y + 20:.1f}" width="{max(x1 - x0, 1.0):.1f}" height="20" rx="3" '
                    f'fill="{STATE_COLOURS.get(state, STATE_COLOURS["pending"])}">'
                    f'<title>{escape(label)}</title></rect>')
    bottom = top + len(spans) * row
    now = _instant(at).astimezone(spans[0][1].tzinfo)
    mx = min(max(x(now), left), right)
    mark = f'{w["today"]} {_md(now.date())}'
    if now < lo:
        mark = f"← {mark}"
    elif now > hi:
        mark = f"{mark} →"
    anchor = "start" if mx < left + 80 else "end" if mx > right - 80 else "middle"
    marker = _text(mx, top - 18, mark, anchor=anchor, extra=' font-weight="bold"')
    body.append(f'<g class="today" data-x="{mx:.1f}"><line x1="{mx:.1f}" y1="{top - 12:.1f}" x2="{mx:.1f}" '
                f'y2="{bottom:.1f}" stroke="#222" stroke-width="2" stroke-dasharray="4 3"/>{marker}</g>')
    current = next((p for p, s, e in spans if p.get("state") in ("active", "overdue")), None)
    desc = f'{w["today"]} {now.date().isoformat()}' + (f" · {_title(current, lang)}" if current else "")
    return _svg(bottom + 10, w["timeline"], desc, body, "timeline")


# --- one phase's progress ---

def _step(top: int) -> int:
    """A round tick step (1, 2, 5 x 10^k) giving at most five steps up to `top`."""
    magnitude = 10 ** max(int(math.log10(max(top, 1))) - 1, 0)
    for m in (1, 2, 5, 10, 20, 50, 100):
        if top / (m * magnitude) <= 5:
            return m * magnitude
    return 100 * magnitude


def progress_svg(series: dict[str, Any], lang: str = "zh") -> str:
    """Cumulative obligations due (grey, dashed) and filed (green) over the days of one phase.

    `series` is one entry of `board.progress_series`: title and points [{date, due, filed}].
    """
    w = _words(lang)
    title = _title(series, lang)
    label = f'{title} — {w["progress"]}' if lang == "en" else f'{title} {w["progress"]}'
    points = series.get("points") or []
    if not points:
        return _svg(80, label, w["no_data"], [_text(WIDTH / 2, 45, w["no_data"], anchor="middle")], "progress")
    height, left, right, top, bottom = 300.0, 50.0, WIDTH - 20.0, 40.0, 250.0
    most = max(max(p["due"], p["filed"]) for p in points)
    step = _step(most)
    ceiling = max(step * math.ceil(most / step), step)
    n = len(points)

    def x(i: int) -> float:
        return (left + right) / 2 if n == 1 else left + i / (n - 1) * (right - left)

    def y(v: float) -> float:
        return bottom - v / ceiling * (bottom - top)

    body = []
    for v in range(0, ceiling + 1, step):  # count ticks with grid lines
        body.append(f'<line class="grid" x1="{left}" y1="{y(v):.1f}" x2="{right}" y2="{y(v):.1f}" stroke="#e0e0e0"/>')
        body.append(_text(left - 6, y(v) + 4, str(v), anchor="end", cls="count-tick"))
    body.append(f'<line class="axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{AXIS_COLOUR}"/>')
    body.append(f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="{AXIS_COLOUR}"/>')
    for i in sorted({round(k * (n - 1) / 5) for k in range(6)}):  # up to six date ticks, first and last included
        day = dt.date.fromisoformat(points[i]["date"])
        body.append(f'<line x1="{x(i):.1f}" y1="{bottom}" x2="{x(i):.1f}" y2="{bottom + 5}" stroke="{AXIS_COLOUR}"/>')
        body.append(_text(x(i), bottom + 20, _md(day), anchor="middle", cls="date-tick"))
    for j, (key, colour, dash) in enumerate(LINES):
        coords = " ".join(f"{x(i):.1f},{y(p[key]):.1f}" for i, p in enumerate(points))
        body.append(f'<polyline class="{key}" points="{coords}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5"{dash}/>')
        lx = left + j * 110
        body.append(f'<g class="legend legend-{key}"><line x1="{lx}" y1="{height - 14}" x2="{lx + 28}" '
                    f'y2="{height - 14}" stroke="{colour}" stroke-width="2.5"{dash}/>'
                    f'{_text(lx + 34, height - 10, w[key])}</g>')
    body.insert(0, _text(left, 22, label, cls="chart-title", extra=' font-weight="bold"'))
    last = points[-1]
    desc = f'{w["as_of"]} {last["date"]}: {w["due"]} {last["due"]}, {w["filed"]} {last["filed"]}'
    return _svg(height, label, desc, body, "progress")
