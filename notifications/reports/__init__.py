"""Reports (报表): the phase completion audit, the rectification ledger, the notice and the ledger's
closure over time, rendered to XLSX, CSV, JSON, HTML, PDF, and (the closure chart) SVG and PNG.

Rendering is pure: a `Report` in, a file out; the queries are in campaign_model.store.reports.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .model import Report

FORMATS = ("xlsx", "csv", "json", "html", "pdf", "svg", "png")
CHART_FORMATS = ("svg", "png")


def write_report(report: Report, fmt: str, out: str | Path) -> None:
    out = Path(out)
    if fmt == "xlsx":
        from .xlsx import write_xlsx

        write_xlsx(report, out)
    elif fmt == "csv":
        from .flat import write_csv

        write_csv(report, out)
    elif fmt == "json":
        from .flat import write_json

        write_json(report, out)
    elif fmt == "html":
        from .html import write_html

        write_html(report, out)
    elif fmt in ("pdf", "png"):
        from . import browser

        with tempfile.TemporaryDirectory(prefix="campaign-report-") as tmp:
            if fmt == "pdf":
                from .html import write_html

                page = Path(tmp) / "report.html"
                write_html(report, page)
                browser.html_to_pdf(page, out)
            else:
                svg = Path(tmp) / "chart.svg"
                svg.write_text(_chart(report), encoding="utf-8")
                browser.svg_to_png(svg, out)
    elif fmt == "svg":
        out.write_text(_chart(report), encoding="utf-8")
    else:
        raise ValueError(f"unknown report format {fmt!r}")


def _chart(report: Report) -> str:
    if report.chart_svg is None:
        raise ValueError(f"the {report.kind} report has no chart")
    return report.chart_svg
