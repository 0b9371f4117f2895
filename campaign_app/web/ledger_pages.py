"""The rectification ledger (整改台账) in the dashboard: the items of the caller's scope, a unit's
progress reports with evidence, and the supervisor's 销号 or sending back.

The forms call the same use cases as the API (`usecases.ledger.report_progress`, `verify`), which make
the same checks: the item's unit in the caller's scope, uploads checked and spooled before anything is
stored. A refused change comes back as the ledger page with the reason, and nothing stored; an item that
is not there, or not the caller's, is an error page as for any other address.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError
from campaign_model.ledger import STATES

from ..usecases import ledger as uc
from . import labels, render
from .deps import Caller, Svc, check_csrf, reach
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights
from .uploads import attachment, evidence_uploads, form_files

router = APIRouter(include_in_schema=False)


@router.get("/c/{key}/ledger")
def ledger_page(key: str, request: Request, svc: Svc, unit: str = "", state: str = "", done: str = "",
                item: int | None = None, caller: Caller = page_caller("ledger.read")) -> Response:
    return _page(request, svc, caller, key, unit, state, done=done, done_item=item)


@router.post("/c/{key}/ledger/{item}/verify")
def verify(key: str, item: int, request: Request, svc: Svc,
           decision: Annotated[str, Form()] = "", comment: Annotated[str, Form(max_length=4000)] = "",
           deadline: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller("ledger.verify")) -> Response:
    check_csrf(request, caller, csrf)
    try:
        if decision not in ("close", "reopen"):
            raise ApiError(422, "invalid", "请选择销号或退回 (choose close or reopen)", "decision")
        if not comment.strip():
            raise ApiError(422, "invalid", "核验须写明意见 (a verification needs a comment)", "comment")
        uc.verify(svc, svc.act(caller.name), item, close=decision == "close", comment=comment, deadline=_date(deadline),
                  campaign=key, scope=reach(caller))
    except (ApiError, CampaignError) as exc:
        return _refused(request, svc, caller, key, item, exc)
    return _back(key, "closed" if decision == "close" else "reopened", item)


@router.post("/c/{key}/ledger/{item}/progress")
def progress(key: str, item: int, request: Request, svc: Svc,
             state: Annotated[str, Form()] = "", note: Annotated[str, Form(max_length=4000)] = "",
             evidence: Annotated[list[UploadFile] | None, File()] = None, csrf: Annotated[str, Form()] = "",
             caller: Caller = page_caller("ledger.update")) -> Response:
    check_csrf(request, caller, csrf)
    try:
        if state not in ("in_progress", "rectified"):
            raise ApiError(422, "invalid", "请选择整改中或已整改 (choose in progress or rectified)", "state")
        files = [f for f in form_files(evidence) if f.filename]
        uc.report_progress(svc, svc.act(caller.name), item, state=state, note=note,
                           evidence=partial(evidence_uploads, files, svc.limits), campaign=key, scope=reach(caller))
    except (ApiError, CampaignError) as exc:
        return _refused(request, svc, caller, key, item, exc)
    return _back(key, state, item)


@router.get("/c/{key}/ledger/{item}/evidence/{n}")
def evidence(key: str, item: int, n: int, svc: Svc, caller: Caller = page_caller("ledger.read")) -> Response:
    """An evidence file of an item, as an attachment (never shown in our origin)."""
    f = uc.evidence_file(svc, item, n, campaign=key, scope=reach(caller))
    return attachment(svc.blobs, f["sha256"], f["name"])


def _date(text: str) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ApiError(422, "invalid", f"日期应写作 2023-06-30 (a date is written 2023-06-30), got '{text}'",
                       "deadline") from None


def _back(key: str, done: str, item: int) -> Response:
    query = urlencode({"done": done, "item": item})
    return RedirectResponse(f"/c/{quote(key)}/ledger?{query}#item-{item}", status_code=303)


def _refused(request: Request, svc: Svc, caller: Caller, key: str, item: int, exc: Exception) -> Response:
    err = exc if isinstance(exc, ApiError) else from_domain(exc)  # type: ignore[arg-type]
    if err.status in (403, 404):  # no such item here, or not the caller's: an error page, not the ledger's
        raise exc
    return _page(request, svc, caller, key, "", "", status=err.status, error=err.message, error_item=item)


def _page(request: Request, svc: Svc, caller: Caller, key: str, unit: str, state: str, *, status: int = 200,
          done: str = "", done_item: int | None = None, error: str | None = None,
          error_item: int | None = None) -> Response:
    view = uc.ledger_view(svc, key, unit=unit, state=state, scope=reach(caller))
    every, scope, items = view["units"], view["scope"], view["items"]
    names = {k: n for k, n in every.items() if scope is None or k in scope}
    actors = labels.actor_names(every, view["accounts"])
    lang = render.lang_of(request)
    for i in items:  # the history in the page's language, people and units by name
        i["entries"] = [labels.ledger_entry(h, lang, actors) for h in i["history"]]
    return render.page(request, "ledger.html", status=status, can=rights(caller), key=key, title=view["title"],
                       items=items, names=names, unit=unit, state=state, states=STATES, done=done,
                       done_item=done_item, error=error, error_item=error_item)
