"""Reports as one print-ready HTML page: A4 landscape, Chinese font stack, no external resource (no
web font, no script, no image link: the page prints the same offline and in a locked-down office).
The same page is what Chromium turns into the PDF.

The template lives here, not in notifications/templates, so it ships with the code that fills it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from .model import Report, display

FONTS = ('"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "SimHei", '
         '"WenQuanYi Micro Hei", sans-serif')

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ "en" if report.lang == "en" else "zh-CN" }}">
<head>
<meta charset="utf-8">
<title>{{ report.title }}</title>
<style>
@page { size: A4 landscape; margin: 12mm 10mm 14mm 10mm;
        @bottom-center { content: {{ page_counter }}; font-size: 9pt; } }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: {{ fonts }}; font-size: 10.5pt; color: #111; margin: 0; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 4pt; }
.meta { text-align: center; color: #444; margin: 0 0 8pt; }
.summary p { margin: 2pt 0; }
h2 { font-size: 12.5pt; margin: 12pt 0 4pt; break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin-bottom: 6pt; }
thead { display: table-header-group; }  /* the header row again on every printed page */
tr { break-inside: avoid; }
th, td { border: 0.6pt solid #777; padding: 2pt 4pt; vertical-align: top; }
th { background: #ddebf7; font-weight: bold; text-align: center; }
td.int, td.percent { text-align: right; white-space: nowrap; }
td.text { min-width: 4.5em; }  /* a four-character unit or material name stays on one line */
td.date, td.datetime, td.deadline { white-space: nowrap; }
td.bad { color: #b00020; font-weight: bold; }
td.warn { color: #a05a00; }
td.muted { color: #666; }
td.ok { color: #1b7a3d; }
.empty { color: #666; font-style: italic; }
.chart svg { width: 100%; height: auto; max-height: 120mm; }
.anchor { margin-top: 8pt; color: #555; font-size: 8.5pt; font-family: monospace; overflow-wrap: anywhere; }
</style>
</head>
<body>
<h1>{{ report.title }}</h1>
{% if report.lang == "en" %}<p class="meta">Campaign: {{ report.campaign }},
as of {{ report.at.strftime("%Y-%m-%d %H:%M") }} ({{ offset }})</p>
{% else %}<p class="meta">活动：{{ report.campaign }}　截至 {{ report.at.strftime("%Y-%m-%d %H:%M") }}（{{ offset }}）</p>{% endif %}
<div class="summary">{% for line in report.summary %}<p>{{ line }}</p>{% endfor %}</div>
{% if chart %}<div class="chart">{{ chart }}</div>{% endif %}
{% for table in report.tables %}
{% if table.title != report.title %}<h2 id="{{ table.name }}">{{ table.title }}</h2>{% endif %}
{% if table.rows %}
<table>
<thead><tr>{% for c in table.columns %}<th>{{ c.title }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in table.rows %}<tr>{% for c in table.columns %}{% set text = cell(row.get(c.key), c.kind) %}
<td class="{{ c.kind }}{% if c.tones and text in c.tones %} {{ c.tones[text] }}{% endif %}">{{ text }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
{% else %}<p class="empty">{{ "(none)" if report.lang == "en" else "（无）" }}</p>{% endif %}
{% endfor %}
{% if report.anchor_line %}<p class="anchor">{{ report.anchor_line }}</p>{% endif %}
</body>
</html>
"""


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE)


def render_html(report: Report) -> str:
    offset = report.at.strftime("%z")
    # our own SVG, every text in it escaped when it was drawn: safe to place as markup
    chart = Markup(report.chart_svg) if report.chart_svg else None
    counter = ('"Page " counter(page) " of " counter(pages)' if report.lang == "en"
               else '"第 " counter(page) " 页 / 共 " counter(pages) " 页"')
    return _template().render(report=report, fonts=Markup(FONTS), cell=display, chart=chart,
                              offset=f"UTC{offset[:3]}:{offset[3:]}", page_counter=Markup(counter))


def write_html(report: Report, path: str | Path) -> None:
    Path(path).write_text(render_html(report), encoding="utf-8")
