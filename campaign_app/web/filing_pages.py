"""The filing form: a unit of the caller's scope files one of the artifacts it owes, with its files, the
signer and, for a list kind, the rows file.

The form posts to the same use case as the API (`usecases.filings.file_uploads`), so the checks are
the same: scope, upload types and sizes, rows. A refused filing stores nothing and the form comes back
with every problem listed, a rows problem with its row and column.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError

from ..usecases import filings
from ..usecases.services import Services
from . import render
from .deps import Caller, Svc, check_csrf, reach
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights
from .uploads import filing_uploads, form_files

router = APIRouter(include_in_schema=False)


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
                  figure_key: Annotated[list[str] | None, Form(max_length=200)] = None,
                  figure: Annotated[list[str] | None, Form(max_length=40)] = None,
                  caller: Caller = page_caller("filing.create")) -> Response:
    check_csrf(request, caller, csrf)
    chosen = [f for f in form_files(files) if f.filename]  # an empty file input still sends a part
    rows_file = rows if rows is not None and rows.filename else None
    numbers = _figures(artifact, figure_key or [], figure or []) if rows_file is None else None
    try:
        done = filings.file_uploads(svc, svc.act(caller.name), key, unit, artifact,
                                    partial(filing_uploads, chosen, rows_file, svc.limits), signed_by=signed_by,
                                    step=step, scope=reach(caller), figures=numbers)
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc)
        return _form(request, svc, caller, key, unit, status=err.status, problems=_problems(err),
                     values={"artifact": artifact, "signed_by": signed_by, "step": step,
                             **{f"figure:{k}": v for k, v in zip(figure_key or [], figure or [], strict=False)}})
    filed = quote(f"{unit}/{artifact}/{done['version']}", safe="/")
    return RedirectResponse(f"/c/{quote(key)}/file?filed={filed}", status_code=303)


def _figures(artifact: str, keys: list[str], values: list[str]) -> dict[str, str] | None:
    """The chosen artifact's numbers from the form's figure fields (`ARTIFACT.FIGURE` beside each value),
    or None when none was typed (a figures kind then asks for its numbers or a rows file)."""
    mine = {k.partition(".")[2]: v.strip() for k, v in zip(keys, values, strict=False) if k.partition(".")[0] == artifact}
    return mine if any(mine.values()) else None


def _problems(err: ApiError) -> list[dict[str, Any]]:
    """One entry per problem: a rows problem keeps its row and column, anything else its message."""
    return [{"row": f.get("row"), "column": f.get("column"), "message": f["message"], "cell": f.get("cell")}
            for f in err.fields] or \
        [{"row": None, "column": None, "message": err.message}]


def _form(request: Request, svc: Services, caller: Caller, key: str, unit: str, *, strict: bool = False,
          status: int = 200, problems: list[dict[str, Any]] | None = None, values: dict[str, str] | None = None,
          filed: str = "") -> Response:
    """The form for `unit` (or the caller's own unit, or the first one in scope); `strict`: a unit asked
    for by name must be in scope (a 403 page), else it is only a preference."""
    form = filings.filing_form(svc, key, unit=unit, own=caller.principal.unit, strict=strict, scope=reach(caller))
    kinds = _artifacts(form["owed"])
    titles = form["titles"]
    return render.page(request, "filing.html", status=status, can=rights(caller), key=key, title=form["title"],
                       units=form["units"], unit=form["unit"], owed=form["owed"], artifacts=kinds, recent=form["recent"],
                       steps=[(k["title"], s) for k in kinds if len(k["steps"]) > 1 for s in k["steps"]],
                       problems=problems or [], columns=form["columns"], values=values or {}, titles=titles,
                       workbooks=[(k, titles[k]) for k in form["workbooks"]],
                       figures=[(k["artifact"], k["title"], form["figures"][k["artifact"]]) for k in kinds
                                if k["artifact"] in form["figures"]],
                       filed=_filed(filed, form["units"], titles))


def _artifacts(owed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The artifact kinds owed, each once, with the steps it is owed under (a choice only when several)."""
    kinds: dict[str, dict[str, Any]] = {}
    for o in owed:
        kind = kinds.setdefault(o["artifact"], {"artifact": o["artifact"], "title": o["title"], "steps": []})
        kind["steps"].append(o["step"])
    return list(kinds.values())


def _filed(filed: str, units: list[dict[str, str]], titles: dict[str, str]) -> dict[str, str] | None:
    """The success message's parts from `?filed=unit/artifact/version`, named as people read them."""
    unit, _, rest = filed.partition("/")
    artifact, _, version = rest.partition("/")
    if not (unit and artifact and version.isdigit()):
        return None
    names = {u["key"]: u["name"] for u in units}
    return {"unit": names.get(unit, unit), "artifact": titles.get(artifact, artifact), "version": version}
