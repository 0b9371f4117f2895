"""The units of a campaign in the dashboard (单位管理): the hierarchy as a tree with tags, contacts and state,
a filter; a unit's own page with its obligations and, for the administrator, its forms (rename, move,
merge, close, contacts); a new unit; the unit list imported from XLSX/CSV in two steps — an upload shows a
preview (what would be added, renamed, moved, removed, and every row error with the workbook's own row
number and column; nothing is imported while there are errors), and a confirm button applies it — and the
list as a workbook with the current units, to edit and import back.

Between preview and confirm the upload is kept in the file store by its SHA-256 (as filings' files are);
the confirm form carries that hash, and the list is read again from the stored bytes, so what is applied is
what was previewed. Every form calls the same use case as the API and the command line; a refused change
comes back as the same page with the reason next to its field, nothing stored.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from campaign_model.errors import CampaignError, InvalidInput, SpecInvalid
from campaign_model.spec import Contact, UnitSpec
from campaign_model.unitfile import read_units

from ..usecases import units as uc
from . import render
from .deps import Caller, Svc, check_csrf, reach
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights
from .uploads import spooled

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Form(max_length=200)]
Reason = Annotated[str, Form(max_length=2000)]
LIST_SUFFIXES = (".csv", ".xlsx")
SHA256 = re.compile(r"[0-9a-f]{64}")
TAG_SPLIT = re.compile(r"[;；,，、|]")
MAX_CONTACTS = 10


def _own(caller: Caller) -> str | None:
    return caller.principal.unit if caller.role == "unit" else None


# --- the tree ---

@router.get("/c/{key}/units")
def units_page(key: str, request: Request, svc: Svc, q: Annotated[str, Query(max_length=100)] = "",
               done: Annotated[str, Query(max_length=40)] = "", caller: Caller = page_caller("units.read")) -> Response:
    return _tree(request, svc, caller, key, q=q.strip(), done=done)


def _tree(request: Request, svc: Svc, caller: Caller, key: str, *, q: str = "", done: str = "", status: int = 200,
          **context: Any) -> Response:
    view = uc.unit_forest(svc, key, scope=reach(caller), own=_own(caller))
    needle = q.casefold()

    def matches(u: dict[str, Any]) -> bool:
        text = " ".join([u["key"], u["name"], *u["tags"], *(c.get("name", "") for c in u["contacts"] or [])])
        return needle in text.casefold()

    found = [u for u in view["units"] if matches(u)] if q else None
    active = [{"key": u["key"], "name": u["name"]} for u in view["units"] if u["active"]]
    context.setdefault("add", {"form": {}, "error": None, "field": None})
    return render.page(request, "units.html", status=status, can=rights(caller), key=key, title=view["title"],
                       view=view, q=q, found=found, done=done, active=active, query=request.query_params, **context)


@router.get("/c/{key}/units.xlsx")
def units_workbook(key: str, svc: Svc, caller: Caller = page_caller("units.manage")) -> Response:
    """The current units as a unit list (the headers the import reads), to edit and import back."""
    from notifications.reports.workbook import MEDIA_TYPE

    filename, data = uc.units_workbook(svc, key)
    fallback = f"{key}-units.xlsx".encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=MEDIA_TYPE, headers={"Content-Disposition": disposition})


# --- a new unit ---

@router.post("/c/{key}/units")
def add_unit(key: str, request: Request, svc: Svc, unit_key: Short = "", name: Short = "", parent: Short = "",
             tags: Short = "", contact: Short = "", role: Short = "", email: Short = "", phone: Short = "",
             csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("units.manage")) -> Response:
    check_csrf(request, caller, csrf)
    form = {"unit_key": unit_key, "name": name, "parent": parent, "tags": tags, "contact": contact, "role": role,
            "email": email, "phone": phone}
    try:
        unit = _unit_spec(unit_key, name, parent, tags, contact, role, email, phone)
        done = uc.add_unit(svc, svc.act(caller.name), key, unit)
    except (ApiError, CampaignError) as exc:
        err = _as_api(exc)
        field = {"key": "unit_key", "unit": "unit_key"}.get(_field(err) or "", _field(err))
        return _tree(request, svc, caller, key, status=err.status, add={"form": form, "error": err.message, "field": field})
    return _to_unit(key, done["unit"], "added", done["obligations_added"])


def _unit_spec(key: str, name: str, parent: str, tags: str, contact: str, role: str, email: str,
               phone: str) -> UnitSpec:
    from campaign_model.unitfile import _pydantic_message

    if not key.strip():
        raise InvalidInput("请填写单位代码 (give the unit's key)", field="unit_key")
    if not name.strip():
        raise InvalidInput("请填写单位名称 (give the unit's name)", field="name")
    data: dict[str, Any] = {"key": key.strip(), "name": name.strip(), "parent": parent.strip() or None,
                            "tags": [t.strip() for t in TAG_SPLIT.split(tags) if t.strip()]}
    if contact.strip():
        data["contacts"] = [{"name": contact.strip(), "role": role.strip() or None, "email": email.strip() or None,
                             "phone": phone.strip() or None}]
    elif email.strip() or phone.strip() or role.strip():
        raise InvalidInput("填写了职务、邮箱或电话，请同时填写联系人姓名 (a role, email or phone needs the contact's name)",
                           field="contact")
    try:
        return UnitSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = {"key": "unit_key", "name": "name", "parent": "parent", "tags": "tags"}.get(loc[0], "unit_key")
        if loc[0] == "contacts":
            field = loc[-1] if loc[-1] in ("email", "phone", "role") else "contact"
        raise InvalidInput(_pydantic_message(err), field=field) from None


# --- the import: upload, preview, confirm ---

@router.post("/c/{key}/units/import")
def import_preview(key: str, request: Request, svc: Svc, file: Annotated[UploadFile | None, File()] = None,
                   csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("units.import")) -> Response:
    """Read the uploaded list and show what it would change (or its row errors); nothing is imported here."""
    check_csrf(request, caller, csrf)
    try:
        if file is None or not file.filename:
            raise ApiError(422, "invalid", "请选择单位名单文件 (CSV 或 XLSX) (choose the unit list file)", "file")
        with spooled([("file", file)], svc.limits, frozenset({"file"})) as files:
            f = files["file"][0]
            assert f.path is not None  # a rows field is spooled to a file
            if f.path.suffix not in LIST_SUFFIXES:
                raise ApiError(415, "unsupported_type", "单位名单须为 CSV 或 XLSX 文件 (a unit list is a CSV or XLSX file)",
                               "file")
            data = f.path.read_bytes()
            try:
                listed = read_units(f.path, f.name)
            except SpecInvalid as exc:
                return _tree(request, svc, caller, key, status=422, upload={"name": f.name, "problems": _problems(exc)})
            sha, _ = svc.blobs.put_bytes(data)
            preview = uc.preview_import(svc, key, listed)
    except (ApiError, CampaignError) as exc:
        err = _as_api(exc)
        if err.status == 403:
            raise
        return _tree(request, svc, caller, key, status=err.status, upload={"name": None, "error": err.message})
    return _tree(request, svc, caller, key, upload={"name": f.name, "sha256": sha, "suffix": f.path.suffix,
                                                    "preview": preview, "count": len(listed)})


@router.post("/c/{key}/units/import/confirm")
def import_confirm(key: str, request: Request, svc: Svc, sha256: Annotated[str, Form(max_length=64)] = "",
                   name: Short = "", suffix: Annotated[str, Form(max_length=8)] = "", reason: Reason = "",
                   csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("units.import")) -> Response:
    """Apply the list previewed (kept by its hash): new units owe their artifacts, units left off are closed."""
    check_csrf(request, caller, csrf)
    try:
        if not SHA256.fullmatch(sha256) or suffix not in LIST_SUFFIXES or not svc.blobs.path(sha256).is_file():
            raise ApiError(422, "invalid", "预览的名单已不在，请重新上传 (the previewed list is gone; upload it again)", "file")
        with tempfile.TemporaryDirectory(prefix="campaignflow-units-") as work:
            path = Path(work) / f"units{suffix}"
            path.write_bytes(svc.blobs.get(sha256))
            listed = read_units(path, name or path.name)
        summary = uc.import_units(svc, svc.act(caller.name), key, listed, reason=reason.strip() or None,
                                  source=f"{name or path.name} (sha256 {sha256[:12]})")
    except (ApiError, CampaignError) as exc:
        err = _as_api(exc)
        if err.status == 403:
            raise
        return _tree(request, svc, caller, key, status=err.status, upload={"name": name, "error": err.message})
    query = urlencode({"done": "imported", "added": len(summary["added"]), "updated": len(summary["updated"]),
                       "removed": len(summary["removed"]), "obligations": summary["obligations_added"],
                       "waived": summary["obligations_waived"]})
    return RedirectResponse(f"/c/{quote(key)}/units?{query}", status_code=303)


def _problems(exc: SpecInvalid) -> list[dict[str, Any]]:
    """Each problem with the workbook's row and the column's own header ('row 7.上级单位' -> 7, 上级单位)."""
    out = []
    for p in exc.problems:
        column = p.path.partition(".")[2] if p.path.startswith("row ") else p.path.removeprefix("header.")
        out.append({"row": p.line, "column": column, "message": p.message})
    return out


# --- one unit ---

@router.get("/c/{key}/units/{unit}")
def unit_page(key: str, unit: str, request: Request, svc: Svc, done: Annotated[str, Query(max_length=40)] = "",
              n: Annotated[int, Query(ge=0, le=1_000_000)] = 0, caller: Caller = page_caller("units.read")) -> Response:
    return _unit(request, svc, caller, key, unit, done=done, n=n)


@router.post("/c/{key}/units/{unit}/rename")
def rename(key: str, unit: str, request: Request, svc: Svc, name: Short = "", csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller("units.manage")) -> Response:
    check_csrf(request, caller, csrf)
    return _do(request, svc, caller, key, unit, "rename",
               lambda: uc.rename_unit(svc, svc.act(caller.name), key, unit, name), "renamed")


@router.post("/c/{key}/units/{unit}/move")
def move(key: str, unit: str, request: Request, svc: Svc, parent: Short = "", reason: Reason = "",
         csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("units.manage")) -> Response:
    check_csrf(request, caller, csrf)
    return _do(request, svc, caller, key, unit, "move",
               lambda: uc.move_unit(svc, svc.act(caller.name), key, unit, parent.strip() or None, reason), "moved",
               count="obligations_added")


@router.post("/c/{key}/units/{unit}/merge")
def merge(key: str, unit: str, request: Request, svc: Svc, into: Short = "", reason: Reason = "",
          csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("units.manage")) -> Response:
    check_csrf(request, caller, csrf)

    def call() -> dict[str, Any]:
        if not into.strip():
            raise InvalidInput("请选择并入的单位 (choose the unit it is merged into)", field="into")
        return uc.merge_unit(svc, svc.act(caller.name), key, unit, into.strip(), reason)

    return _do(request, svc, caller, key, unit, "merge", call, "merged", count="obligations_waived")


@router.post("/c/{key}/units/{unit}/close")
def close(key: str, unit: str, request: Request, svc: Svc, reason: Reason = "", csrf: Annotated[str, Form()] = "",
          caller: Caller = page_caller("units.manage")) -> Response:
    check_csrf(request, caller, csrf)
    return _do(request, svc, caller, key, unit, "close",
               lambda: uc.close_unit(svc, svc.act(caller.name), key, unit, reason), "closed", count="obligations_waived")


ContactColumn = Annotated[list[str] | None, Form()]


@router.post("/c/{key}/units/{unit}/contacts")
def contacts(key: str, unit: str, request: Request, svc: Svc, contact_name: ContactColumn = None,
             contact_role: ContactColumn = None, contact_email: ContactColumn = None,
             contact_phone: ContactColumn = None, csrf: Annotated[str, Form()] = "",
             caller: Caller = page_caller("units.manage")) -> Response:
    """The contacts as rows of the form (contact_name, contact_role, contact_email, contact_phone, repeated);
    a row without a name is dropped, so clearing a name removes that contact."""
    check_csrf(request, caller, csrf)
    columns = [[v.strip()[:200] for v in (c or [])] for c in (contact_name, contact_role, contact_email, contact_phone)]
    longest = max(len(c) for c in columns)
    rows = [tuple(c[i] if i < len(c) else "" for c in columns) for i in range(min(longest, 50))]

    def call() -> dict[str, Any]:
        people = []
        for n, (who, role, email, phone) in enumerate(rows, start=1):
            if not who:
                if role or email or phone:
                    raise InvalidInput(f"第 {n} 位联系人缺少姓名 (contact {n} has no name)", field="contacts")
                continue
            try:
                people.append(Contact(name=who, role=role or None, email=email or None, phone=phone or None))
            except ValidationError as exc:
                first = exc.errors()[0]
                why = str(first["ctx"]["error"]) if "ctx" in first else str(first["msg"])
                raise InvalidInput(f"第 {n} 位联系人：{why} (contact {n})", field="contacts") from None
        if len(people) > MAX_CONTACTS:
            raise InvalidInput(f"联系人最多 {MAX_CONTACTS} 位 (at most {MAX_CONTACTS} contacts)", field="contacts")
        return uc.set_contacts(svc, svc.act(caller.name), key, unit, people)

    return _do(request, svc, caller, key, unit, "contacts", call, "contacts")


def _do(request: Request, svc: Svc, caller: Caller, key: str, unit: str, form: str, call: Any, done: str,
        count: str | None = None) -> Response:
    try:
        result = call()
    except (ApiError, CampaignError) as exc:
        err = _as_api(exc)
        if err.status == 403 or (err.status == 404 and _field(err) in (None, "unit")):
            raise exc from None
        return _unit(request, svc, caller, key, unit, status=err.status, form=form, error=err.message, field=_field(err))
    return _to_unit(key, result["unit"], done, result.get(count, 0) if count else 0)


def _to_unit(key: str, unit: str, done: str, n: int = 0) -> Response:
    return RedirectResponse(f"/c/{quote(key)}/units/{quote(unit, safe='')}?{urlencode({'done': done, 'n': n})}",
                            status_code=303)


def _unit(request: Request, svc: Svc, caller: Caller, key: str, unit: str, *, status: int = 200, done: str = "",
          n: int = 0, form: str | None = None, error: str | None = None, field: str | None = None) -> Response:
    view = uc.unit_page(svc, key, unit, scope=reach(caller), own=_own(caller))
    return render.page(request, "unit.html", status=status, can=rights(caller), key=key, title=view["title"],
                       u=view["unit"], units=view["units"], done=done, n=n, form=form, error=error, field=field)


def _as_api(exc: Exception) -> ApiError:
    return exc if isinstance(exc, ApiError) else from_domain(exc)  # type: ignore[arg-type]


def _field(err: ApiError) -> str | None:
    return err.fields[0]["field"] if err.fields else None
