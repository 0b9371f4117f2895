"""The filing form: a unit of the caller's scope files one of the artifacts it owes, with its files, the
signer and, for a list kind, the rows file.

The form posts to the same `api.file_for` as the API, so the checks are the same: scope, upload types
and sizes, rows. A refused filing stores nothing and the form comes back with every problem listed,
a rows problem with its row and column.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError
from campaign_model.store import board
from campaign_model.store.campaigns import CampaignCtx, unit_rows
from campaign_model.store.filing_query import filing_list

from . import render
from .api import file_for
from .deps import Caller, Svc, check_csrf, check_units, scoped
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights
from .uploads import form_files

router = APIRouter(include_in_schema=False)
RECENT = 20


@router.get("/c/{key}/file")
def filing_form(key: str, request: Request, svc: Svc, unit: str = "", filed: str = "", artifact: str = "",
                step: str = "", caller: Caller = page_caller("filing.create")) -> Response:
    # `artifact` and `step` preselect the form (a reminder links here for one unit and artifact); one the
    # unit does not owe is simply not preselected
    return _form(request, svc, caller, key, unit or filed.partition("/")[0], strict=bool(unit), filed=filed,
                 values={"artifact": artifact[:64], "step": step[:64]})


@router.post("/c/{key}/file")
def file_post(key: str, request: Request, svc: Svc,
                  unit: Annotated[str, Form(max_length=64)] = "", artifact: Annotated[str, Form(max_length=64)] = "",
                  signed_by: Annotated[str, Form(max_length=200)] = "", step: Annotated[str, Form(max_length=64)] = "",
                  csrf: Annotated[str, Form()] = "",
                  files: Annotated[list[UploadFile] | None, File()] = None,
                  rows: Annotated[UploadFile | None, File()] = None,
                  caller: Caller = page_caller("filing.create")) -> Response:
    check_csrf(request, caller, csrf)
    chosen = [f for f in form_files(files) if f.filename]  # an empty file input still sends a part
    rows_file = rows if rows is not None and rows.filename else None
    try:
        done = file_for(svc, caller, key, unit, artifact, chosen, rows_file, signed_by, step)
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc)
        return _form(request, svc, caller, key, unit, status=err.status, problems=_problems(err),
                     values={"artifact": artifact, "signed_by": signed_by, "step": step})
    filed = quote(f"{unit}/{artifact}/{done['version']}", safe="/")
    return RedirectResponse(f"/c/{quote(key)}/file?filed={filed}", status_code=303)


def _problems(err: ApiError) -> list[dict[str, Any]]:
    """One entry per problem: a rows problem keeps its row and column, anything else its message."""
    return [{"row": f.get("row"), "column": f.get("column"), "message": f["message"]} for f in err.fields] or \
        [{"row": None, "column": None, "message": err.message}]


def _form(request: Request, svc: Any, caller: Caller, key: str, unit: str, *, strict: bool = False,
          status: int = 200, problems: list[dict[str, Any]] | None = None, values: dict[str, str] | None = None,
          filed: str = "") -> Response:
    """The form for `unit` (or the caller's own unit, or the first one in scope); `strict`: a unit asked
    for by name must be in scope (a 403 page), else it is only a preference."""
    with svc.read() as conn:
        ctx, scope = scoped(conn, key, caller)
        if strict:
            check_units(scope, [unit])
        units = [{"key": u.key, "name": u.name} for u in unit_rows(conn, ctx)
                 if u.active and (scope is None or u.key in scope)]
        keys = [u["key"] for u in units]
        chosen = next((k for k in (unit, caller.principal.unit) if k in keys), keys[0] if keys else None)
        owed = _owed(board.matrix(conn, key, svc.now(), units={chosen})) if chosen else []
        recent = filing_list(conn, ctx, scope, chosen)[:RECENT] if chosen else []
    kinds = _artifacts(owed)
    return render.page(request, "filing.html", status=status, can=rights(caller), key=key, title=ctx.title,
                       units=units, unit=chosen, owed=owed, artifacts=kinds, recent=recent,
                       steps=[(k["title"], s) for k in kinds if len(k["steps"]) > 1 for s in k["steps"]],
                       problems=problems or [], columns=_column_titles(ctx), values=values or {},
                       titles={k: str(v.get("title", k)) for k, v in ctx.artifacts.items()},
                       workbooks=[(k, str(v.get("title", k))) for k, v in ctx.artifacts.items() if v.get("rows")],
                       filed=_filed(filed, units, ctx))


def _owed(m: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen unit's obligations (its one row of the matrix), in due order."""
    if not m["rows"]:
        return []
    return [{"artifact": col["artifact"], "title": col["title"], "step": col["step"], **cell}
            for col, cell in zip(m["columns"], m["rows"][0]["cells"], strict=True) if cell is not None]


def _artifacts(owed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The artifact kinds owed, each once, with the steps it is owed under (a choice only when several)."""
    kinds: dict[str, dict[str, Any]] = {}
    for o in owed:
        kind = kinds.setdefault(o["artifact"], {"artifact": o["artifact"], "title": o["title"], "steps": []})
        kind["steps"].append(o["step"])
    return list(kinds.values())


def _column_titles(ctx: CampaignCtx) -> dict[str, str]:
    """Row columns by key -> their titles, to name a rows problem's column as the spreadsheet does."""
    return {col: str(spec.get("title", col)) for kind in ctx.artifacts.values()
            for col, spec in (kind.get("rows") or {}).items() if isinstance(spec, dict)}


def _filed(filed: str, units: list[dict[str, str]], ctx: CampaignCtx) -> dict[str, str] | None:
    """The success message's parts from `?filed=unit/artifact/version`, named as people read them."""
    unit, _, rest = filed.partition("/")
    artifact, _, version = rest.partition("/")
    if not (unit and artifact and version.isdigit()):
        return None
    names = {u["key"]: u["name"] for u in units}
    return {"unit": names.get(unit, unit), "artifact": str(ctx.artifacts.get(artifact, {}).get("title", artifact)),
            "version": version}
