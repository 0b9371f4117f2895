"""The review queue (待审核) of supervisors and admins: the filings waiting for a decision, oldest first, with
"accept selected"; one filing with its files previewed, its rows, its versions and what changed, and the
decision form (a rejection needs a comment, which the unit reads on its tasks and in its next reminder).

Each route calls one use case (`usecases.filings`: review_queue, review_view, decide_filing,
accept_filings, filed_file); the rights are `filing.review`, so a unit user gets the 403 page. Filed files
are shown in the page only as PDF or image, sandboxed (`uploads.inline`); anything else is downloaded.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError, InvalidInput

from ..usecases import filings as uc
from . import labels, render
from .deps import MAX_INT, Caller, IdPath, IndexPath, Svc, check_csrf, reach
from .errors import ApiError, from_domain
from .page_auth import page_caller, rights
from .uploads import attachment, inline, previewable

router = APIRouter(include_in_schema=False)

Filter = Annotated[str, Query(max_length=64)]
FILTERS = ("phase", "artifact", "parent")


def _filters(phase: str, artifact: str, parent: str) -> dict[str, str]:
    return {k: v for k, v in zip(FILTERS, (phase, artifact, parent), strict=True) if v}


def _queue_url(key: str, filters: dict[str, str], **extra: Any) -> str:
    query = urlencode({**filters, **{k: v for k, v in extra.items() if v is not None}})
    return f"/c/{quote(key)}/reviews" + (f"?{query}" if query else "")


@router.get("/c/{key}/reviews")
def queue(key: str, request: Request, svc: Svc, phase: Filter = "", artifact: Filter = "", parent: Filter = "",
          decided: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
          accepted: Annotated[int | None, Query(ge=0, le=uc.BATCH)] = None,
          skipped: Annotated[int | None, Query(ge=0, le=uc.BATCH)] = None,
          caller: Caller = page_caller("filing.review")) -> Response:
    return _queue(request, svc, caller, key, _filters(phase, artifact, parent), decided=decided,
                  accepted=accepted, skipped=skipped)


def _queue(request: Request, svc: Svc, caller: Caller, key: str, filters: dict[str, str], *, status: int = 200,
           error: str | None = None, **flash: Any) -> Response:
    view = uc.review_queue(svc, key, decided=flash.get("decided"), scope=reach(caller), **filters)
    return render.page(request, "reviews.html", status=status, can=rights(caller), key=key, title=view["title"],
                       view=view, filters=filters, query=urlencode(filters), error=error,
                       accepted=flash.get("accepted"), skipped=flash.get("skipped"))


@router.post("/c/{key}/reviews")
def accept_selected(key: str, request: Request, svc: Svc, filing: Annotated[list[str] | None, Form()] = None,
                    phase: Annotated[str, Form(max_length=64)] = "", artifact: Annotated[str, Form(max_length=64)] = "",
                    parent: Annotated[str, Form(max_length=64)] = "", csrf: Annotated[str, Form()] = "",
                    caller: Caller = page_caller("filing.review")) -> Response:
    """批量通过: accept every filing ticked, in one transaction; back to the queue with the counts."""
    check_csrf(request, caller, csrf)
    filters = _filters(phase, artifact, parent)
    try:
        ids = [_filing_id(v) for v in (filing or [])[: uc.BATCH + 1]]
        done = uc.accept_filings(svc, svc.act(caller.name), key, ids, scope=reach(caller))
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc)
        if err.status in (403, 404):
            raise
        return _queue(request, svc, caller, key, filters, status=err.status, error=err.message)
    return RedirectResponse(_queue_url(key, filters, accepted=len(done["accepted"]), skipped=len(done["skipped"])),
                            status_code=303)


def _filing_id(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_INT:
        raise InvalidInput(f"报送编号无效：'{value[:20]}' (not a filing number)", field="filing")
    return int(value)


@router.get("/c/{key}/reviews/{filing_id}")
def review_page(key: str, filing_id: IdPath, request: Request, svc: Svc, phase: Filter = "", artifact: Filter = "",
                parent: Filter = "", caller: Caller = page_caller("filing.review")) -> Response:
    return _review(request, svc, caller, key, filing_id, _filters(phase, artifact, parent))


def _review(request: Request, svc: Svc, caller: Caller, key: str, filing_id: int, filters: dict[str, str], *,
            status: int = 200, error: str | None = None, error_field: str | None = None, comment: str = "") -> Response:
    view = uc.review_view(svc, key, filing_id, scope=reach(caller))
    files = [{**f, "media": previewable(svc.blobs, f["sha256"], f["name"])} for f in view["filing"]["files"]]
    names = labels.actor_names(view["units"], view["accounts"])
    return render.page(request, "review.html", status=status, can=rights(caller), key=key, title=view["title"],
                       view=view, doc=view["filing"], files=files, filters=filters, who=lambda k: names.get(k, k),
                       back=_queue_url(key, filters), error=error, error_field=error_field, comment=comment)


@router.post("/c/{key}/reviews/{filing_id}")
def decide(key: str, filing_id: IdPath, request: Request, svc: Svc,
           decision: Annotated[str, Form(max_length=16)] = "", comment: Annotated[str, Form(max_length=2000)] = "",
           phase: Annotated[str, Form(max_length=64)] = "", artifact: Annotated[str, Form(max_length=64)] = "",
           parent: Annotated[str, Form(max_length=64)] = "", csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller("filing.review")) -> Response:
    """通过 or 退回 one filing; refused (nothing stored) the page comes back with the message and the comment."""
    check_csrf(request, caller, csrf)
    filters = _filters(phase, artifact, parent)
    try:
        if decision not in ("accept", "reject"):
            raise InvalidInput("请选择通过或退回 (choose accept or reject)", field="decision")
        uc.decide_filing(svc, svc.act(caller.name), key, filing_id, accept=decision == "accept", comment=comment,
                         scope=reach(caller))
    except (ApiError, CampaignError) as exc:
        err = exc if isinstance(exc, ApiError) else from_domain(exc)
        if err.status in (403, 404):
            raise
        field = err.fields[0]["field"] if err.fields else None
        return _review(request, svc, caller, key, filing_id, filters, status=err.status, error=err.message,
                       error_field=field, comment=comment)
    return RedirectResponse(_queue_url(key, filters, decided=filing_id), status_code=303)


@router.get("/c/{key}/reviews/{filing_id}/preview/{n}")
def preview(key: str, filing_id: IdPath, n: IndexPath, svc: Svc, caller: Caller = page_caller("filing.review")) -> Response:
    """A filed PDF or image, inline and sandboxed, for the review page's frame; any other file is an attachment."""
    f = uc.filed_file(svc, key, filing_id, n, scope=reach(caller))
    return inline(svc.blobs, f["sha256"], f["name"])


@router.get("/c/{key}/reviews/{filing_id}/files/{n}")
def download(key: str, filing_id: IdPath, n: IndexPath, svc: Svc, caller: Caller = page_caller("filing.review")) -> Response:
    """A filed file, downloaded."""
    f = uc.filed_file(svc, key, filing_id, n, scope=reach(caller))
    return attachment(svc.blobs, f["sha256"], f["name"])
