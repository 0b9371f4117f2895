"""The reports page (报表): every report `campaign report` writes — phase audit, ledger, notice, closure — in
each format it supports, for a chosen phase (or unit) and instant, downloaded from the browser.

GET /c/{key}/reports            the forms, one per kind, each with what the report holds (right `reports.read`)
GET /c/{key}/reports/download   the file (Content-Disposition with a Chinese name, RFC 5987 encoded)

Downloading changes nothing a user made (like the API's GET .../reports/{kind}; the report's audit head is kept
as an anchor by the use case). A bad choice shows the page again with the message naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from campaign_model.errors import CampaignError

from ..usecases import reports as uc
from . import labels, render
from .deps import Caller, Svc
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)

Choice = Annotated[str, Query(max_length=64)]
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
               "json": "application/json", "html": "text/html", "pdf": "application/pdf", "svg": "image/svg+xml",
               "png": "image/png"}
# the formats offered on the page, in this order (json is for programs: the API and the command line have it)
PAGE_FORMATS = ("xlsx", "pdf", "html", "csv", "svg", "png")


@router.get("/c/{key}/reports")
def reports(key: str, request: Request, svc: Svc, caller: Caller = page_caller("reports.read")) -> Response:
    return _page(request, svc, caller, key)


def _page(request: Request, svc: Svc, caller: Caller, key: str, *, status: int = 200, error: ApiError | None = None,
          chosen: dict[str, str] | None = None) -> Response:
    form = uc.report_form(svc, key)
    local = svc.now().astimezone(form["tz"])
    formats = {k: [f for f in PAGE_FORMATS if f in form["formats"][k]] for k in form["kinds"]}
    lang = render.lang_of(request)
    return render.page(request, "reports.html", status=status, can=rights(caller), key=key, title=form["title"],
                       form=form, formats=formats, date=local.date().isoformat(), time=local.strftime("%H:%M"),
                       chosen=chosen or {}, error=labels.one_language(error.message, lang) if error else None,
                       error_field=error.fields[0]["field"] if error and error.fields else None)


@router.get("/c/{key}/reports/download")
def download(key: str, request: Request, svc: Svc, kind: Choice = "", format: Choice = "xlsx", phase: Choice = "",
             unit: Choice = "", date: Annotated[str, Query(max_length=10)] = "",
             time: Annotated[str, Query(max_length=8)] = "", caller: Caller = page_caller("reports.read")) -> Response:
    chosen = {"kind": kind, "format": format, "phase": phase, "unit": unit, "date": date, "time": time}
    try:
        form = uc.report_form(svc, key)
        if kind not in form["kinds"]:
            raise ApiError(422, "invalid", "请选择报表 (choose a report)", "kind")
        if format not in form["formats"][kind]:
            raise ApiError(422, "invalid", f"{form['kind_zh'][kind]}不提供 {format} 格式，可选 "
                                           f"{', '.join(form['formats'][kind])} (format not offered for this report)",
                           f"{kind}-format")
        at = _instant(date, time, form["tz"], svc.now(), kind)
        if phase and phase not in {p["key"] for p in form["phases"]}:
            raise ApiError(422, "invalid", f"没有阶段 '{phase}' (no such phase)", f"{kind}-phase")
        with tempfile.TemporaryDirectory(prefix="campaignflow-report-") as tmp:
            out = Path(tmp) / f"report.{format}"
            uc.write_report(svc, key, kind, format, out, at=at, phase=(phase or None) if kind == "phase-audit" else None,
                            unit=(unit or None) if kind == "ledger" else None)
            content = out.read_bytes()
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc, f"{kind}-unit" if kind == "ledger" else None)
        if err.status == 403:
            raise err from None
        return _page(request, svc, caller, key, status=err.status if err.status != 404 else 422, error=err,
                     chosen=chosen)
    name = file_name(form, kind, format, at, phase)
    return Response(content, media_type=MEDIA_TYPES[format], headers={"Content-Disposition": content_disposition(
        name, f"{key}-{kind}-{at.astimezone(form['tz']):%Y%m%d-%H%M}.{format}")})


def _instant(date: str, time: str, tz: Any, now: dt.datetime, kind: str) -> dt.datetime:
    """The instant asked for, local to the campaign (default: now); never after now (a report tells what was)."""
    if not date and not time:
        return now
    try:
        day = dt.date.fromisoformat(date) if date else now.astimezone(tz).date()
        clock = dt.time.fromisoformat(time) if time else dt.time(23, 59)
    except ValueError:
        field = "date" if date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else "time"
        raise ApiError(422, "invalid", "截至日期应写作 2026-03-31，时间写作 17:30 (date as 2026-03-31, time as 17:30)",
                       f"{kind}-{field}") from None
    at = dt.datetime.combine(day, clock, tzinfo=tz).astimezone(dt.UTC)
    if at > now:
        raise ApiError(422, "invalid", "截至时刻不能晚于现在 (the instant cannot be later than now)", f"{kind}-date")
    return at


def file_name(form: dict[str, Any], kind: str, fmt: str, at: dt.datetime, phase: str) -> str:
    """活动名-报表名[-阶段名]-截至时刻.扩展名, e.g. 2026年作风整顿-阶段完成情况审计-学习动员-20260331-1730.xlsx."""
    titles = {p["key"]: p["title"] for p in form["phases"]}
    parts = [form["title"], form["kind_zh"][kind]]
    if kind == "phase-audit" and phase:
        parts.append(titles[phase])
    parts.append(f"{at.astimezone(form['tz']):%Y%m%d-%H%M}")
    return re.sub(r'[\\/:*?"<>|\r\n]+', "_", "-".join(parts)) + f".{fmt}"


def content_disposition(name: str, fallback: str) -> str:
    """An attachment named `name` (RFC 5987 `filename*`, UTF-8), with an ASCII `filename` for old clients."""
    ascii_name = re.sub(r'[^A-Za-z0-9._-]+', "_", fallback)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
