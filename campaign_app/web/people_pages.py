"""人员与股室 (people and offices) of admins and supervisors: the leading group, the offices with the steps they
lead (牵头), the responsible leaders, each with contacts and how many ledger items name them, and the names in
the ledger that match nobody (kept as free text). Read only: people and offices are edited in the spec (the
timeline editor's YAML, or `campaign amend`). One use case (`usecases.people.people_view`), right `people.read`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..usecases import people as uc
from . import render
from .deps import Caller, Svc
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)


@router.get("/c/{key}/people")
def people_page(key: str, request: Request, svc: Svc, caller: Caller = page_caller("people.read")) -> Response:
    view = uc.people_view(svc, key, render.lang_of(request))
    return render.page(request, "people.html", can=rights(caller), key=key, title=view["title"], view=view)
