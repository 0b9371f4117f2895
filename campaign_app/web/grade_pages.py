"""考核排名 (the ranking) of admins, supervisors and viewers: every unit's three measures, score, grade and rank as
of now, filtered by parent unit; the `grades` report's files are on the reports page. One use case
(`usecases.grades.ranking`), right `grades.read` (a unit user gets the 403 page).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from campaign_model.errors import CampaignError

from ..usecases import grades as uc
from . import labels, render
from .deps import Caller, Svc
from .errors import from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)


@router.get("/c/{key}/grades")
def ranking(key: str, request: Request, svc: Svc, parent: Annotated[str, Query(max_length=64)] = "",
            caller: Caller = page_caller("grades.read")) -> Response:
    lang = render.lang_of(request)
    try:
        view = uc.ranking(svc, key, parent=parent or None, lang=lang)
    except CampaignError as exc:
        err = from_domain(exc)
        if err.status in (403, 404):
            raise err from None
        # an unknown parent: the page says so, the filter shows again
        fallback = uc.ranking_frame(svc, key)
        return render.page(request, "grades.html", status=err.status,
                           can=rights(caller), key=key, title=fallback["title"], view=None, parents=fallback["parents"],
                           parent=parent, error=labels.one_language(err.message, lang), error_field=exc.field)
    return render.page(request, "grades.html", can=rights(caller), key=key, title=view["title"], view=view,
                       parents=view["parents"], parent=parent, error=None, error_field=None)
