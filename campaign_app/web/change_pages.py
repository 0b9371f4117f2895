"""Changes to a running campaign in the dashboard (变更与延期): the spec's version history (who, when, why, what
changed) and the 延期 form — a step, all units or chosen ones (grouped by parent), a new date and time, a
reason — which shows, once saved, each affected obligation's old and new due date and its next reminder.

Each form calls the same use case as the API and the command line (usecases.changes); a refused change comes
back as the same page with the reason next to its field, nothing changed. Amending the spec itself is the
timeline editor's (draft pages) and `campaign amend`'s.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from campaign_model.errors import CampaignError, InvalidInput

from ..usecases import changes as uc
from . import render
from .deps import Caller, IdPath, Svc, check_csrf
from .errors import from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)

MAX_UNITS = 10000


@router.get("/c/{key}/changes")
def changes_page(key: str, request: Request, svc: Svc, step: Annotated[str, Query(max_length=130)] = "",
                 unit: Annotated[str, Query(max_length=64)] = "",
                 caller: Caller = page_caller("campaign.versions")) -> Response:
    """The history; for an administrator the 延期 form, pre-filled from a matrix cell (?step=&unit=)."""
    form = {"step": step, "scope": "chosen" if unit else "all", "units": [unit] if unit else [], "date": "",
            "time": "", "reason": ""}
    return _page(request, svc, caller, key, form=form, prefill=True)


@router.get("/c/{key}/changes/{version}/spec.yaml")
def spec_download(key: str, version: IdPath, svc: Svc, caller: Caller = page_caller("campaign.versions")) -> Response:
    """A stored spec version as a YAML file (the interchange format: to read, compare, or edit and upload)."""
    text = uc.spec_text(svc, key, version)
    name = quote(f"{key}-v{version}.yaml")
    return Response(text.encode("utf-8"), media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}",
                             "X-Content-Type-Options": "nosniff"})


@router.post("/c/{key}/changes/extend")
def extend(key: str, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
           step: Annotated[str, Form(max_length=130)] = "", scope: Annotated[str, Form(max_length=8)] = "all",
           units: Annotated[list[str] | None, Form()] = None, date: Annotated[str, Form(max_length=10)] = "",
           time: Annotated[str, Form(max_length=5)] = "", reason: Annotated[str, Form(max_length=2000)] = "",
           caller: Caller = page_caller("campaign.amend")) -> Response:
    check_csrf(request, caller, csrf)
    chosen = [u[:64] for u in (units or [])][:MAX_UNITS]
    form = {"step": step, "scope": scope, "units": chosen, "date": date, "time": time, "reason": reason}
    try:
        if not step:
            raise InvalidInput("请选择步骤 (choose a step)", field="step")
        if not date:
            raise InvalidInput("请填写新的截止日期 (give the new due date)", field="date")
        due = uc.due_instant(svc, key, f"{date}T{time}" if time else date)
        result = uc.extend(svc, svc.act(caller.name), key, step=step, units=chosen if scope == "chosen" else None,
                           due=due, reason=reason, at=svc.now())
    except CampaignError as exc:
        err = from_domain(exc)
        fld = {"due": "date", "unit": "units"}.get(exc.field or "", exc.field or "")
        return _page(request, svc, caller, key, form=form, status=err.status, error=err.message, error_field=fld)
    return _page(request, svc, caller, key, form={**form, "reason": ""}, result=result)


def _page(request: Request, svc: Svc, caller: Caller, key: str, *, form: dict[str, Any], status: int = 200,
          prefill: bool = False, **extra: Any) -> Response:
    view = uc.extension_form(svc, key)
    if prefill:  # a matrix cell links with phase/step: the option that stands for it
        form["step"] = next((s["key"] for s in view["steps"] if form["step"] in (s["key"], s["path"])), form["step"])
    groups: dict[str, dict[str, Any]] = {}
    for u in view["units"]:  # grouped by parent, in hierarchy order
        g = groups.setdefault(u["parent"] or "", {"name": u["parent_name"], "units": []})
        g["units"].append(u)
    return render.page(request, "changes.html", status=status, can=rights(caller), key=key, view=view,
                       groups=list(groups.values()), form=form,
                       **{"result": None, "error": None, "error_field": None, **extra})
