"""The rectification ledger (整改台账) in the dashboard: a filtered, paged list of the items in the caller's
scope; each item's page (the item whole, its history, its evidence previewed, a unit's progress form, the
supervisor's 销号 or sending back); a supervision finding (督查发现) recorded from the list.

The list is filtered, counted and paged by the database (`usecases.ledger.ledger_list`), never by
loading every item. The forms call the same use cases as the API (`report_progress`, `verify`,
`record_finding`), which make the same checks: the item's unit in the caller's scope, uploads checked and
spooled before anything is stored. A refused change comes back as the item's page (or the list, for a
finding) with the reason and the field, nothing stored; an item that is not there, or not the caller's,
is an error page as for any other address.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError
from campaign_model.ledger import STATES

from ..usecases import ledger as uc
from . import labels, render
from .deps import Caller, IdPath, IdQuery, IndexPath, PageQuery, Svc, check_csrf, reach
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights
from .uploads import attachment, evidence_uploads, form_files, inline, previewable

router = APIRouter(include_in_schema=False)

Short = Annotated[str, Query(max_length=200)]  # a filter's value: a unit key, a state, a category, a source

# the sources of ledger items: a filed self-check issue list, the masses' opinions, a supervision finding, ...
SOURCES: dict[str, tuple[str, str]] = {
    "self_check": ("自查自纠", "self-check"), "mass_opinion": ("群众意见", "public opinion"),
    "supervision": ("督查发现", "supervision finding"), "import": ("台账导入", "imported"),
    "lookback": ("回头看", "look-back"),
}


@router.get("/c/{key}/ledger")
def ledger_page(key: str, request: Request, svc: Svc, unit: Short = "", state: Short = "", category: Short = "",
                source: Short = "", overdue: Short = "", page: PageQuery = 1, found: IdQuery = None,
                caller: Caller = page_caller("ledger.read")) -> Response:
    filters = {"unit": unit, "state": state, "category": category, "source": source, "overdue": overdue}
    return _list(request, svc, caller, key, filters, page, found=found)


FINDING_FIELDS = ("unit", "problem", "category", "measure", "leader", "office", "deadline", "long_term", "mechanism")


@router.post("/c/{key}/findings")
def finding(key: str, request: Request, svc: Svc, unit: Annotated[str, Form(max_length=200)] = "",
            problem: Annotated[str, Form(max_length=4000)] = "", category: Annotated[str, Form(max_length=200)] = "",
            measure: Annotated[str, Form(max_length=4000)] = "", leader: Annotated[str, Form(max_length=200)] = "",
            office: Annotated[str, Form(max_length=200)] = "", deadline: Annotated[str, Form(max_length=40)] = "",
            long_term: Annotated[str, Form(max_length=10)] = "", mechanism: Annotated[str, Form(max_length=4000)] = "",
            csrf: Annotated[str, Form()] = "", caller: Caller = page_caller("finding.create")) -> Response:
    """A supervision finding (督查发现) against a unit: an open ledger item of that unit, source supervision."""
    check_csrf(request, caller, csrf)
    form = dict(zip(FINDING_FIELDS, (unit, problem, category, measure, leader, office, deadline, long_term, mechanism),
                    strict=True))
    try:
        if not unit.strip():
            raise ApiError(422, "invalid", "请选择单位 (choose the unit)", "unit")
        if not problem.strip():
            raise ApiError(422, "invalid", "请写明发现的问题 (write the problem found)", "problem")
        done = uc.record_finding(svc, svc.act(caller.name), key, unit.strip(), problem.strip(),
                                 deadline=_date(deadline), category=category.strip() or None,
                                 measure=measure.strip() or None, leader=leader.strip() or None,
                                 office=office.strip() or None, long_term=bool(long_term),
                                 mechanism=mechanism.strip() or None)
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc)
        if err.status == 403:
            raise
        field = err.fields[0]["field"] if err.fields else None
        return _list(request, svc, caller, key, {}, 1, status=err.status,
                     finding={"form": form, "error": err.message, "field": field or _field_of(err.message)})
    query = urlencode({"unit": done["unit"], "source": "supervision", "found": done["id"]})
    return RedirectResponse(f"/c/{quote(key)}/ledger?{query}#item-{done['id']}", status_code=303)


@router.get("/c/{key}/ledger/{item}")
def item_page(key: str, item: IdPath, request: Request, svc: Svc, done: Short = "",
              caller: Caller = page_caller("ledger.read")) -> Response:
    return _item(request, svc, caller, key, item, done=done)


@router.post("/c/{key}/ledger/{item}/verify")
def verify(key: str, item: IdPath, request: Request, svc: Svc,
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
def progress(key: str, item: IdPath, request: Request, svc: Svc,
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
def evidence(key: str, item: IdPath, n: IndexPath, svc: Svc, caller: Caller = page_caller("ledger.read")) -> Response:
    """An evidence file of an item, as an attachment (never shown in our origin)."""
    f = uc.evidence_file(svc, item, n, campaign=key, scope=reach(caller))
    return attachment(svc.blobs, f["sha256"], f["name"])


@router.get("/c/{key}/ledger/{item}/evidence/{n}/preview")
def evidence_preview(key: str, item: IdPath, n: IndexPath, svc: Svc,
                     caller: Caller = page_caller("ledger.read")) -> Response:
    """An evidence file shown in the item's page: a PDF, PNG or JPEG (by name and by content) inline, in a
    sandbox (no script, no origin), framed only by our own pages; anything else as an attachment."""
    f = uc.evidence_file(svc, item, n, campaign=key, scope=reach(caller))
    return inline(svc.blobs, f["sha256"], f["name"])


def _date(text: str) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ApiError(422, "invalid", f"日期应写作 2023-06-30 (a date is written 2023-06-30), got '{text}'",
                       "deadline") from None


def _field_of(message: str) -> str | None:
    return "deadline" if "时限" in message else None


def _back(key: str, done: str, item: int) -> Response:
    return RedirectResponse(f"/c/{quote(key)}/ledger/{item}?{urlencode({'done': done})}", status_code=303)


def _refused(request: Request, svc: Svc, caller: Caller, key: str, item: int, exc: Exception) -> Response:
    err = exc if isinstance(exc, ApiError) else from_domain(exc)  # type: ignore[arg-type]
    if err.status in (403, 404):  # no such item here, or not the caller's: an error page, not the item's
        raise exc
    field = err.fields[0]["field"] if err.fields else None
    return _item(request, svc, caller, key, item, status=err.status, error=err.message, error_field=field)


def _overdue(value: str) -> bool | None:
    return True if value == "yes" else False if value == "no" else None


def _list(request: Request, svc: Svc, caller: Caller, key: str, filters: dict[str, str], page: int, *,
          status: int = 200, found: int | None = None, finding: dict[str, Any] | None = None) -> Response:
    f = {k: filters.get(k, "") for k in ("unit", "state", "category", "source", "overdue")}
    view = uc.ledger_list(svc, key, unit=f["unit"] or None, state=f["state"] or None, category=f["category"] or None,
                          source=f["source"] or None, overdue=_overdue(f["overdue"]), page=page, scope=reach(caller))
    every, scope = view["units"], view["scope"]
    names = {k: n for k, n in every.items() if scope is None or k in scope}
    kept = {k: v for k, v in f.items() if v}  # the filters, kept in every link of the page

    def link(**changes: Any) -> str:
        query = {**kept, **{k: v for k, v in changes.items()}}
        query = {k: v for k, v in query.items() if v not in ("", None, 1) or (k == "page" and v != 1)}
        return f"/c/{quote(key)}/ledger" + (f"?{urlencode(query)}" if query else "")

    return render.page(request, "ledger.html", status=status, can=rights(caller), key=key, title=view["title"],
                       view=view, names=names, every=every, filters=f, states=STATES, sources=SOURCES, link=link,
                       found=found, finding=finding or {"form": dict.fromkeys(FINDING_FIELDS, ""), "error": None,
                                                        "field": None})


def _item(request: Request, svc: Svc, caller: Caller, key: str, item: int, *, status: int = 200, done: str = "",
          error: str | None = None, error_field: str | None = None) -> Response:
    view = uc.item_view(svc, key, item, scope=reach(caller))
    doc, every = view["item"], view["units"]
    actors = labels.actor_names(every, view["accounts"])
    lang = render.lang_of(request)
    entries = [labels.ledger_entry(h, lang, actors) for h in doc["history"]]
    for e, h in zip(entries, doc["history"], strict=True):
        e.update(before=h["state_before"] or "", after=h["state_after"] or "", files=str(len(h["evidence"])))
    files = [{**f, "n": n, "inline": previewable(svc.blobs, f["sha256"], f["name"]),
              "by_name": labels.actor(f.get("by"), lang, actors)} for n, f in enumerate(doc["evidence"])]
    return render.page(request, "ledger_item.html", status=status, can=rights(caller), key=key, title=view["title"],
                       i=doc, unit_name=every.get(doc["unit"], doc["unit"]), entries=entries, files=files,
                       sources=SOURCES, done=done, error=error, error_field=error_field)
