"""Overrides from where the problem is seen: 免报 (waive) one obligation from its cell of the matrix, and 特批转段
(a forced advance) of the running phase from the campaign's overview. Each asks for the reason and is audited
by the store, as from the command line and the API.

GET /c/{key}/waive?unit=&artifact=&step=   what would be waived, and the form (right `obligation.waive`)
POST /c/{key}/waive                        waive it; back to the matrix
POST /c/{key}/advance                      force the running phase on (right `phase.advance`); back to the overview

A refusal (no reason, nothing open any more, no phase running) shows the form again with the message naming
the field, and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError

from ..usecases import campaigns as campaigns_uc
from ..usecases import filings as filing_cases
from ..usecases import overrides as uc
from . import labels, render
from .deps import Caller, Svc, check_csrf
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)

Key = Annotated[str, Query(min_length=1, max_length=64)]
KeyField = Annotated[str, Form(max_length=64)]
Reason = Annotated[str, Form(max_length=2000)]
REASON_FIELD = ("免报理由", "reason")
ADVANCE_REASON_FIELD = ("特批理由", "reason")


def _error(exc: ApiError | CampaignError) -> ApiError:
    err = exc if isinstance(exc, ApiError) else from_domain(exc)
    if err.status in (403, 404):
        raise err
    return err


# --- 免报 from the matrix ---

@router.get("/c/{key}/waive")
def waive_form(key: str, request: Request, svc: Svc, unit: Key, artifact: Key, step: Key,
               caller: Caller = page_caller("obligation.waive")) -> Response:
    view = uc.waive_view(svc, key, unit, artifact, step, svc.now())
    return _waive_page(request, caller, key, view)


def _waive_page(request: Request, caller: Caller, key: str, view: dict[str, Any], *, status: int = 200,
                error: ApiError | None = None, reason: str = "") -> Response:
    lang = render.lang_of(request)
    return render.page(request, "waive.html", status=status, can=rights(caller), key=key, title=view["title"], o=view,
                       reason=reason, error=labels.one_language(error.message, lang) if error else None,
                       error_field=error.fields[0]["field"] if error and error.fields else None)


@router.post("/c/{key}/waive")
def waive(key: str, request: Request, svc: Svc, unit: KeyField = "", artifact: KeyField = "", step: KeyField = "",
          reason: Reason = "", csrf: Annotated[str, Form()] = "",
          caller: Caller = page_caller("obligation.waive")) -> Response:
    check_csrf(request, caller, csrf)
    try:
        if not reason.strip():
            raise ApiError(422, "invalid", "请填写免报理由 (write the reason for the waiver)", "reason")
        filing_cases.waive(svc, svc.act(caller.name), key, unit, artifact, reason=reason.strip(), step=step or None)
    except (ApiError, CampaignError) as exc:
        err = _error(exc)
        view = uc.waive_view(svc, key, unit, artifact, step, svc.now())
        return _waive_page(request, caller, key, view, status=err.status, error=err, reason=reason)
    return RedirectResponse(f"/c/{quote(key)}/matrix?" + urlencode({"waived": 1}), status_code=303)


# --- 特批转段 from the overview ---

@router.post("/c/{key}/advance")
def advance(key: str, request: Request, svc: Svc, reason: Reason = "", phase: KeyField = "",
            csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("phase.advance")) -> Response:
    """Force the running phase on. `phase` is the one the form was shown for: if another phase is running by
    now (someone advanced it meanwhile), nothing is forced and the page says so."""
    check_csrf(request, caller, csrf)
    now = svc.now()
    try:
        if not reason.strip():
            raise ApiError(422, "invalid", "请填写特批转段的理由 (write the reason for the forced advance)", "reason")
        view = uc.advance_view(svc, key, now)
        if view is None:
            raise ApiError(409, "conflict", "当前没有转段条件未满足的进行中阶段，无需特批 (no running phase with an "
                                            "unmet gate: nothing to force)", "phase")
        if phase and phase != view["phase"]:
            raise ApiError(409, "conflict", f"进行中的阶段已变为「{view['title']}」，请核对后再提交 (the running phase is "
                                            f"now '{view['phase']}'; check and submit again)", "phase")
        done = campaigns_uc.advance(svc, svc.act(caller.name), key, force=True, reason=reason.strip())
    except (ApiError, CampaignError) as exc:
        err = _error(exc)
        lang = render.lang_of(request)
        return render.page(request, "advance.html", status=err.status, can=rights(caller), key=key,
                           title=campaigns_uc.timeline(svc, key, now)["title"], gate=uc.advance_view(svc, key, now),
                           reason=reason, error=labels.one_language(err.message, lang),
                           error_field=err.fields[0]["field"] if err.fields else None)
    return RedirectResponse(f"/c/{quote(key)}?" + urlencode({"advanced": done["completed"]}), status_code=303)
