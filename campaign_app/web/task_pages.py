"""我的待办 (my tasks): the first page a unit user sees (`/`), and 签收 (acknowledging a notice) from it.

`pages.home` hands a unit user's `/` to `tasks_home`; the other roles keep the campaign cards. The list
is one use case (`usecases.tasks.my_tasks`) over every campaign the caller's unit takes part in; the
campaign cards stay below it. Acknowledging posts to the filing use case through `usecases.tasks.acknowledge`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError

from ..usecases import campaigns as campaigns_uc
from ..usecases import tasks as tasks_uc
from . import render
from .deps import Caller, Svc, check_csrf, reach
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)


def tasks_home(request: Request, svc: Svc, caller: Caller, *, status_code: int = 200,
               problem: str | None = None) -> Response:
    """The unit user's to-do list across its campaigns, urgent first, and the campaign cards below it."""
    now = svc.now()
    doc = tasks_uc.my_tasks(svc, now, unit=caller.principal.unit)
    cards = campaigns_uc.cards(svc, now, role=caller.role, unit=caller.principal.unit)
    return render.page(request, "tasks.html", status=status_code, can=rights(caller), doc=doc, campaigns=cards,
                       problem=problem, acknowledged=request.query_params.get("acknowledged") == "1")


@router.post("/c/{key}/acknowledge")
def acknowledge(key: str, request: Request, svc: Svc, unit: Annotated[str, Form(max_length=64)] = "",
                artifact: Annotated[str, Form(max_length=64)] = "", step: Annotated[str, Form(max_length=64)] = "",
                csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("filing.create")) -> Response:
    """签收: the caller, by name, acknowledges receipt for a unit of its scope; recorded as a filing."""
    check_csrf(request, caller, csrf)
    signer = caller.principal.display_name or caller.name
    try:
        tasks_uc.acknowledge(svc, svc.act(caller.name), key, unit, artifact, signer=signer, step=step or None,
                             scope=reach(caller))
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc)
        if caller.role != "unit":  # an admin has no to-do list to come back to: the error page
            raise err from None
        return tasks_home(request, svc, caller, status_code=err.status, problem=err.message)
    return RedirectResponse("/?" + urlencode({"acknowledged": 1}), status_code=303)
