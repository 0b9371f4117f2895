"""The ledger's closure over time as an SVG line chart, written by hand: two lines (items in the
ledger, items closed) over the days, Chinese labels, no plotting library and no external resource,
so the same file prints inside the HTML page and turns into a PNG by a browser screenshot.
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 960, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 30, 70, 60
FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', 'SimHei', sans-serif"
SERIES = (("total", "问题总数", "#4e79a7"), ("closed", "已销号", "#2e9d5b"))
# the chart's words in an English campaign's report
EN = {"问题总数": "items", "已销号": "closed", "暂无台账数据": "No ledger data yet", "日期": "date",
      "问题数（项）": "items"}


def _nice_step(top: int) -> int:
    """A tick step of 1, 2 or 5 times a power of ten giving at most about 6 ticks."""
    if top <= 5:
        return 1
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    return next(int(m * power) for m in (1, 2, 5, 10) if m * power >= raw)


def closure_svg(series: list[dict[str, Any]], title: str, lang: str = "zh") -> str:
    word = (lambda zh: EN[zh]) if lang == "en" else (lambda zh: zh)  # noqa: E731
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}" font-size="13">'),
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
           f'<text x="{WIDTH / 2}" y="32" text-anchor="middle" font-size="18" font-weight="bold">{escape(title)}</text>']
    if not series:
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#666">{word("暂无台账数据")}</text>')
        return "\n".join(out + ["</svg>"]) + "\n"
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = _nice_step(max(p["total"] for p in series))
    top = max(step, math.ceil(max(p["total"] for p in series) / step) * step)
    n = len(series)
    x = lambda i: LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)  # noqa: E731
    y = lambda v: TOP + plot_h - plot_h * v / top  # noqa: E731
    for v in range(0, top + 1, step):  # horizontal grid with the counts
        out.append(f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + plot_w}" y2="{y(v):.1f}" stroke="#dddddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    # about eight date labels whatever the span, always the first and the last day
    every = max(1, math.ceil(n / 8))
    for i in sorted({*range(0, n, every), n - 1}):
        if i != n - 1 and n - 1 - i < every / 2:
            continue  # too close to the last label: they would overlap
        out.append(f'<text x="{x(i):.1f}" y="{TOP + plot_h + 20}" text-anchor="middle">'
                   f'{series[i]["day"]:%m-%d}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#333333"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">{word("日期")}</text>')
    out.append(f'<text x="18" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + plot_h / 2})">{word("问题数（项）")}</text>')
    for k, (key, label, color) in enumerate(SERIES):
        points = " ".join(f"{x(i):.1f},{y(p[key]):.1f}" for i, p in enumerate(series))
        out.append(f'<polyline class="series-{key}" fill="none" stroke="{color}" stroke-width="2.5" '
                   f'points="{points}"/>')
        lx = LEFT + 10 + k * 130  # the legend, above the plot
        out.append(f'<line x1="{lx}" y1="52" x2="{lx + 24}" y2="52" stroke="{color}" stroke-width="3"/>')
        out.append(f'<text x="{lx + 30}" y="56">{word(label)}</text>')
    return "\n".join(out + ["</svg>"]) + "\n"
