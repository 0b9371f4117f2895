"""A new campaign in the browser (新建活动) and the timeline editor of its draft, for the administrator.

`/campaigns/new` starts a draft from a shipped template re-dated to a year, from a copy of a campaign or
from an uploaded YAML file; `/drafts/{id}` is the editor: forms over the draft's spec (the campaign, its
phases with their steps, requirements and gate, the artifact kinds, the reminder policy), each problem
of `campaign validate` shown next to its field, the timeline drawn beside them. The YAML stays the
interchange format: downloaded at `/drafts/{id}/spec.yaml`, replaced by an upload. "创建活动" creates
the campaign only from a valid draft. A draft made from a running campaign (`/c/{key}/change`) is saved
into it through `usecases.changes.amend`, with a reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from campaign_model import specedit
from campaign_model.errors import CampaignError, ConflictError, Problem, SpecInvalid
from campaign_model.spec import PHASE_KINDS

from ..usecases import drafts as uc
from . import render
from .deps import Caller, IdPath, Svc, check_csrf
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)

RIGHT = "campaign.create"
MAX_SPEC = 1024 * 1024
Short = Annotated[str, Form(max_length=200)]
Part = Annotated[str, Query(max_length=40)]

KIND_NAMES = {"mobilization": ("学习动员", "mobilization"), "self_check": ("自查自纠", "self-check"),
              "rectification": ("整改落实", "rectification"), "summary": ("总结提高", "summary"),
              "custom": ("其他", "other")}
CALENDARS = {"cn": ("中国法定节假日及调休", "Chinese holidays and make-up days"),
             "weekdays": ("周一至周五", "Monday to Friday"), "all-days": ("每天都算工作日", "every day")}
TIMEZONES = ("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "UTC")
ADVANCE = {"at_end": ("到期自动转段（条件满足时）", "at the window's end (when the gate is met)"),
           "when_ready": ("条件满足即转段", "as soon as the gate is met")}
FROM_MODES = {"all": ("全部单位", "every unit"), "organizer": ("组织单位", "the organizer"),
              "tag": ("按标签", "units with a tag"), "children": ("某单位的下级单位", "the units under a unit"),
              "units": ("指定单位", "chosen units")}
assert set(KIND_NAMES) == set(PHASE_KINDS)


# --- starting a draft ---

@router.get("/campaigns/new")
def new_page(request: Request, svc: Svc, caller: Caller = page_caller(RIGHT)) -> Response:
    return _new(request, svc, caller)


@router.post("/campaigns/new/template")
def new_from_template(request: Request, svc: Svc, template: Short = "", year: Short = "",
                      csrf: Annotated[str, Form()] = "", caller: Caller = page_caller(RIGHT)) -> Response:
    check_csrf(request, caller, csrf)
    form = {"template": template, "year": year}
    try:
        did = uc.from_template(svc, svc.act(caller.name), template, _year(year, required=True))
    except (ApiError, CampaignError) as exc:
        return _new_refused(request, svc, caller, exc, "template", form, default_field="template")
    return _to_draft(did)


@router.post("/campaigns/new/copy")
def new_from_copy(request: Request, svc: Svc, campaign: Short = "", new_key: Annotated[str, Form(max_length=64)] = "",
                  new_title: Short = "", year: Short = "", csrf: Annotated[str, Form()] = "",
                  caller: Caller = page_caller(RIGHT)) -> Response:
    check_csrf(request, caller, csrf)
    form = {"campaign": campaign, "new_key": new_key, "new_title": new_title, "year": year}
    try:
        if not campaign:
            raise ApiError(422, "invalid", "请选择要复制的活动 (choose the campaign to copy)", "campaign")
        did = uc.from_campaign(svc, svc.act(caller.name), campaign, key=new_key, title=new_title,
                               year=_year(year, required=False))
    except (ApiError, CampaignError) as exc:
        return _new_refused(request, svc, caller, exc, "copy", form, default_field="campaign")
    return _to_draft(did)


@router.post("/campaigns/new/upload")
def new_from_upload(request: Request, svc: Svc, spec: Annotated[UploadFile | None, File()] = None,
                    csrf: Annotated[str, Form()] = "", caller: Caller = page_caller(RIGHT)) -> Response:
    check_csrf(request, caller, csrf)
    try:
        text, name = _upload_text(spec)
        did = uc.from_text(svc, svc.act(caller.name), text, name)
    except (ApiError, CampaignError) as exc:
        return _new_refused(request, svc, caller, exc, "upload", {}, default_field="spec")
    return _to_draft(did)


@router.post("/c/{key}/change")
def change_campaign(key: str, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
                    caller: Caller = page_caller("campaign.amend")) -> Response:
    """修改时间表: a draft of the running campaign's spec, in the same editor."""
    check_csrf(request, caller, csrf)
    return _to_draft(uc.for_change(svc, svc.act(caller.name), key))


# --- the editor ---

@router.get("/drafts/{draft_id}")
def draft_page(draft_id: IdPath, request: Request, svc: Svc, saved: Annotated[str, Query(max_length=10)] = "",
               caller: Caller = page_caller(RIGHT)) -> Response:
    return _editor(request, svc, caller, uc.view(svc, draft_id, svc.now()), saved=bool(saved))


@router.post("/drafts/{draft_id}")
async def draft_save(draft_id: IdPath, request: Request, svc: Svc, caller: Caller = page_caller(RIGHT)) -> Response:
    """The editor's one form: every field, and the button pressed (`op`: add or remove a phase, a step, ...)."""
    posted = await request.form(max_files=0, max_fields=5000)
    check_csrf(request, caller, str(posted.get("csrf") or ""))
    form = {k: [v for v in posted.getlist(k) if isinstance(v, str)] for k in posted}
    op = str(posted.get("op") or "")[:100]
    try:
        done = uc.edit(svc, svc.act(caller.name), draft_id, form, op=op, version=str(posted.get("version") or ""))
    except CampaignError as exc:
        err = from_domain(exc)
        if err.status in (403, 404):
            raise
        view = uc.view(svc, draft_id, svc.now())
        return _editor(request, svc, caller, view, status=err.status, notice=err.message)
    if done["saved"]:
        anchor = _anchor(op)
        return RedirectResponse(f"/drafts/{draft_id}?saved=1{anchor}", status_code=303)
    return _editor(request, svc, caller, done, status=422, refused=True)


@router.get("/drafts/{draft_id}/resolve")
def resolve(draft_id: IdPath, svc: Svc, request: Request, start: Part = "", end: Part = "", mode: Part = "relative",
            date: Part = "", time: Part = "", base: Part = "start", sign: Part = "+", count: Part = "0",
            unit: Part = "workdays", caller: Caller = page_caller(RIGHT)) -> Response:
    """A step's due as the inputs give it, resolved by the draft's calendar: its date, time and weekday."""
    parts = specedit.DueParts(mode, date, time, base, sign, count, unit)
    try:
        doc = uc.resolve(svc, draft_id, parts, start, end, render.lang_of(request))
    except CampaignError as exc:
        err = from_domain(exc)
        if err.status in (403, 404):
            raise
        return JSONResponse({"error": err.message, "field": exc.field}, status_code=422)
    return JSONResponse(doc)


@router.get("/drafts/{draft_id}/spec.yaml")
def download(draft_id: IdPath, svc: Svc, caller: Caller = page_caller(RIGHT)) -> Response:
    doc = uc.view(svc, draft_id)
    name = f"{_key_of(doc) or f'draft-{draft_id}'}.yaml"
    return Response(doc["text"].encode("utf-8"), media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-Type-Options": "nosniff"})


@router.post("/drafts/{draft_id}/upload")
def upload(draft_id: IdPath, request: Request, svc: Svc, spec: Annotated[UploadFile | None, File()] = None,
           csrf: Annotated[str, Form()] = "", caller: Caller = page_caller(RIGHT)) -> Response:
    """Replace the draft's YAML by a file's: the forms then show what the file says."""
    check_csrf(request, caller, csrf)
    try:
        text, _name = _upload_text(spec)
        uc.replace_text(svc, svc.act(caller.name), draft_id, text)
    except (ApiError, CampaignError) as exc:
        return _editor_refused(request, svc, caller, draft_id, exc, "spec")
    return RedirectResponse(f"/drafts/{draft_id}?saved=1", status_code=303)


@router.post("/drafts/{draft_id}/create")
def create(draft_id: IdPath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller(RIGHT)) -> Response:
    check_csrf(request, caller, csrf)
    try:
        done = uc.create(svc, svc.act(caller.name), draft_id)
    except CampaignError as exc:
        return _editor_refused(request, svc, caller, draft_id, exc, "key" if isinstance(exc, ConflictError) else None)
    return RedirectResponse(f"/c/{quote(done['campaign'])}?created=1", status_code=303)


@router.post("/drafts/{draft_id}/amend")
def amend(draft_id: IdPath, request: Request, svc: Svc, reason: Annotated[str, Form(max_length=2000)] = "",
          csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("campaign.amend")) -> Response:
    """Save a draft into the running campaign it was made from: a new spec version, with the reason."""
    check_csrf(request, caller, csrf)
    try:
        view = uc.view(svc, draft_id)
        done = uc.amend(svc, svc.act(caller.name), draft_id, reason)
    except CampaignError as exc:
        return _editor_refused(request, svc, caller, draft_id, exc, None if isinstance(exc, ConflictError) else "reason",
                               reason=reason)
    return RedirectResponse(f"/c/{quote(view['base_campaign'])}?amended={done.get('version', '')}", status_code=303)


@router.post("/drafts/{draft_id}/delete")
def delete(draft_id: IdPath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller(RIGHT)) -> Response:
    check_csrf(request, caller, csrf)
    uc.delete(svc, svc.act(caller.name), draft_id)
    return RedirectResponse("/campaigns/new?deleted=1", status_code=303)


# --- helpers ---

def _to_draft(draft_id: int) -> Response:
    return RedirectResponse(f"/drafts/{draft_id}", status_code=303)


def _anchor(op: str) -> str:
    """Back to where the button was: the phase (or the kinds) it changed."""
    name, _, rest = op.partition(":")
    if name == "add_phase":
        return "#phases-end"
    if name in ("add_artifact", "remove_artifact"):
        return "#artifacts"
    first = rest.split(":")[0] if rest else ""
    return f"#phase-{first}" if first.isdigit() else ""


def _year(text: str, *, required: bool) -> int | None:
    text = text.strip()
    if not text:
        if required:
            raise ApiError(422, "invalid", "请写年份，如 2027 (write the year, e.g. 2027)", "year")
        return None
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise ApiError(422, "invalid", f"年份应为 2000 至 2100 之间的四位数字 (the year is four digits, 2000-2100), "
                                       f"got '{text[:20]}'", "year")
    return int(text)


def _upload_text(spec: UploadFile | None) -> tuple[str, str]:
    if spec is None or not spec.filename:
        raise ApiError(422, "invalid", "请选择 YAML 文件 (choose a YAML file)", "spec")
    data = spec.file.read(MAX_SPEC + 1)
    if len(data) > MAX_SPEC:
        raise ApiError(413, "too_large", "规格文件超过 1 MB (the spec is larger than 1 MB)", "spec")
    try:
        return data.decode("utf-8-sig"), spec.filename[:200]
    except UnicodeDecodeError:
        raise ApiError(422, "invalid", "规格文件须为 UTF-8 编码的 YAML 文本 (the spec must be UTF-8 YAML text)",
                       "spec") from None


def _message(exc: Exception, *, page_404: bool = True) -> tuple[int, str, str | None, list[Problem]]:
    """Status, message, field and problems of a refusal; a 403 (and with `page_404` a 404) is an error page."""
    if isinstance(exc, SpecInvalid):
        return 422, "规格有问题，见下 (the spec has problems, listed below)", "spec", exc.problems + exc.warnings
    err = exc if isinstance(exc, ApiError) else from_domain(exc)  # type: ignore[arg-type]
    if (err.status in (401, 403) or (err.status == 404 and page_404)) and not isinstance(exc, ApiError):
        raise exc
    field = err.fields[0]["field"] if err.fields else getattr(exc, "field", None)
    return err.status, err.message, field, []


def _new_refused(request: Request, svc: Svc, caller: Caller, exc: Exception, which: str, form: dict[str, str], *,
                 default_field: str) -> Response:
    status, message, field, problems = _message(exc, page_404=False)  # no such template or campaign: said on the form
    return _new(request, svc, caller, status=status,
                error={"which": which, "message": message, "field": field or default_field, "problems": problems},
                form=form)


def _new(request: Request, svc: Svc, caller: Caller, *, status: int = 200, error: dict[str, Any] | None = None,
         form: dict[str, str] | None = None) -> Response:
    listing = uc.listing(svc)
    return render.page(request, "campaign_new.html", status=status, can=rights(caller), templates=uc.templates(),
                       drafts=listing["drafts"], campaigns=listing["campaigns"], error=error, form=form or {},
                       next_year=svc.now().year + 1, deleted=bool(request.query_params.get("deleted")))


def _editor_refused(request: Request, svc: Svc, caller: Caller, draft_id: int, exc: Exception,
                    field: str | None, reason: str = "") -> Response:
    status, message, exc_field, problems = _message(exc)
    view = uc.view(svc, draft_id, svc.now())
    view["reason"] = reason
    if problems:
        view["problems"] = problems
    elif field or exc_field:
        view["problems"] = [Problem("<form>", None, exc_field or field or "", message), *view["problems"]]
    return _editor(request, svc, caller, view, status=status, notice=message)


def _key_of(doc: dict[str, Any]) -> str | None:
    data = doc.get("data")
    key = data.get("key") if isinstance(data, dict) else None
    return str(key) if key else None


def _units(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [u for u in data.get("units") or [] if isinstance(u, dict) and u.get("key")]


def _chart(data: dict[str, Any] | None, resolved: dict[str, dt.datetime], today: dt.date, lang: str) -> Markup | None:
    """The drawn timeline of helper T's `timeline_chart` (None until that module is there, or for unreadable dates)."""
    if not data:
        return None
    try:
        from .timeline_chart import ChartMark, ChartPhase, timeline_chart  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    phases = []
    for i, p in enumerate(data.get("phases") or []):
        if not isinstance(p, dict) or not isinstance(p.get("start"), dt.date) or not isinstance(p.get("end"), dt.date) \
                or p["end"] < p["start"]:
            return None  # a window that cannot be drawn: the forms say what is wrong with it
        marks = [ChartMark(str(s.get("title") or s.get("key")), resolved[f"phases[{i}].steps[{j}].due"].date(), None)
                 for j, s in enumerate(p.get("steps") or []) if f"phases[{i}].steps[{j}].due" in resolved]
        phases.append(ChartPhase(str(p.get("key")), str(p.get("title") or p.get("key")), p["start"], p["end"], marks))
    try:
        chart: Markup = timeline_chart(phases, specedit.calendar_of(data), today, lang)
    except Exception:  # noqa: BLE001 - a drawing is a convenience: the forms work without it
        return None
    return chart


def _editor(request: Request, svc: Svc, caller: Caller, view: dict[str, Any], *, status: int = 200,
            saved: bool = False, refused: bool = False, notice: str | None = None) -> Response:
    lang = render.lang_of(request)
    data = view["data"]
    today = svc.now().astimezone(specedit.zone_of(data or {})).date()
    resolved = specedit.resolved_dues(data) if data else {}
    placed = specedit.place_problems(view["problems"], data) if data else {"": view["problems"]}
    errors = [p for p in view["problems"] if p.severity == "error"]
    warnings = [p for p in view["problems"] if p.severity != "error"]
    units = _shown(_units(data)) if data else []
    tags = sorted({str(t) for u in units for t in u.get("tags") or []})
    tz_choices = {z: z for z in TIMEZONES}
    if data and data.get("timezone"):
        tz_choices.setdefault(str(data["timezone"]), str(data["timezone"]))
    return render.page(
        request, "draft.html", status=status, can=rights(caller), draft=_Shown(view), data=_shown(data), placed=placed,
        errors=errors, warnings=warnings, resolved=resolved, units=units, tags=tags, saved=saved, refused=refused,
        notice=notice, fid=specedit.field_id, due_parts=specedit.due_parts, from_parts=specedit.from_parts,
        weekday=lambda d: specedit.weekday(d, lang), kinds=KIND_NAMES, calendars=CALENDARS, timezones=tz_choices,
        advance=ADVANCE, from_modes=FROM_MODES, policy={**specedit.REMINDER_DEFAULTS, **((data or {}).get("reminders") or {})},
        empty=_Shown(), shown=_shown, rows_yaml=_rows_yaml, chart=_chart(data, resolved, today, lang))


class _Shown(dict[str, Any]):
    """The spec's data as the template reads it: an optional field not written is None, not an error."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)


def _shown(value: Any) -> Any:
    if isinstance(value, dict):
        return _Shown({k: _shown(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_shown(v) for v in value]
    return value


def _rows_yaml(kind: Any) -> str:
    if not isinstance(kind, dict):
        return ""
    shown = {k: _plain(kind[k]) for k in ("rows", "tally", "acknowledge") if k in kind}
    return specedit.dump(shown) if shown else ""


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
