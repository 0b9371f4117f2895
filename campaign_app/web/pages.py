"""The dashboard: campaigns, a campaign's overview, the traffic-light matrix, the overdue list with
"remind now", the audit log, and the public board 作风整改进行时 (no login).

Each route turns a request into one call of a use case (`campaign_app.usecases`) and one
template; a unit user sees only the units of its scope, as in the API. Filing and the ledger have
their own modules, included here. The instant is always the server's clock.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from campaign_model.errors import NotFound
from campaign_model.store import audit, board
from campaign_model.store.accounts import list_users
from campaign_model.store.campaigns import load_ctx, unit_rows
from campaign_model.store.queries import campaign_list

from ..usecases import campaigns as campaigns_uc
from . import labels, render
from .api import remind_now
from .charts import progress_svg, timeline_svg
from .deps import Caller, Svc, check_csrf, reach, scoped
from .filing_pages import router as filing_router
from .ledger_pages import router as ledger_router
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)
router.include_router(filing_router)
router.include_router(ledger_router)

AUDIT_PAGE = 50
UTC = ZoneInfo("UTC")


def _page(request: Request, template: str, caller: Caller | None, status_code: int = 200, **context: Any) -> Response:
    can = rights(caller) if caller else (lambda _action: False)
    return render.page(request, template, status=status_code, can=can, **context)


# --- campaigns ---

@router.get("/")
def home(request: Request, svc: Svc, caller: Caller = page_caller("campaign.read")) -> Response:
    # a unit user: only the campaigns its unit takes part in
    cards = campaigns_uc.cards(svc, svc.now(), role=caller.role, unit=caller.principal.unit)
    return _page(request, "home.html", caller, campaigns=cards)


@router.get("/c/{key}")
def overview(key: str, request: Request, svc: Svc, caller: Caller = page_caller("campaign.read")) -> Response:
    now, lang = svc.now(), render.lang_of(request)
    view = campaigns_uc.overview(svc, key, now, scope=reach(caller))
    charts = [{"phase": s["phase"], "svg": Markup(progress_svg(s, lang))} for s in view["series"]]
    return _page(request, "campaign.html", caller, key=key, title=view["title"], doc=view["status"],
                 scope=view["scope"], charts=charts, own=view["own"],
                 timeline=Markup(timeline_svg(view["status"]["phases"], now, lang)))


# --- the matrix and the overdue list ---

@router.get("/c/{key}/matrix")
def matrix(key: str, request: Request, svc: Svc, parent: str = "", tag: str = "",
           caller: Caller = page_caller("obligations.read")) -> Response:
    view = campaigns_uc.matrix(svc, key, svc.now(), parent=parent or None, tag=tag or None, scope=reach(caller))
    return _page(request, "matrix.html", caller, key=key, title=view["title"], mx=view["matrix"],
                 parents=view["parents"], parent=parent, tag=tag)


@router.get("/c/{key}/overdue")
def overdue(key: str, request: Request, svc: Svc, done: int | None = None, items: int | None = None,
            caller: Caller = page_caller("obligations.read")) -> Response:
    with svc.read() as conn:
        ctx, scope = scoped(conn, key, caller)
        rows = board.overdue(conn, key, svc.now(), units=scope)
    return _page(request, "overdue.html", caller, key=key, title=ctx.title, rows=rows, done=done, items=items)


@router.post("/c/{key}/remind")
def remind(key: str, request: Request, svc: Svc, background: BackgroundTasks,
           obligation: Annotated[list[int] | None, Form()] = None, csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller("reminders.send")) -> Response:
    check_csrf(request, caller, csrf)
    chosen = obligation or []
    result = remind_now(svc, caller, key, chosen, background) if chosen else {"planned": 0, "obligations": []}
    query = urlencode({"done": result["planned"], "items": len(result["obligations"])})
    return RedirectResponse(f"/c/{quote(key)}/overdue?{query}", status_code=303)


# --- the audit log ---

@router.get("/audit")
def audit_log(request: Request, svc: Svc, campaign: str = "", q: Annotated[str, Query(max_length=200)] = "",
              page: Annotated[int, Query(ge=1)] = 1, caller: Caller = page_caller("audit.read")) -> Response:
    """The log, newest first, and the latest full verification of the chain (a view re-hashes nothing:
    the chain is verified by the button below and on the schedule of `serve`)."""
    lang = render.lang_of(request)
    with svc.read() as conn:
        check, head = audit.last_check(conn), audit.head_seq(conn)
        total, rows = audit.search(conn, campaign or None, q.strip() or None, AUDIT_PAGE, (page - 1) * AUDIT_PAGE)
        ctxs = _ctxs(conn, {r.campaign for r in rows if r.campaign})
        names = labels.actor_names({u.key: u.name for ctx in ctxs.values() for u in unit_rows(conn, ctx)},
                                   list_users(conn))
        campaigns = campaign_list(conn)
    titles = {c["key"]: c["title"] for c in campaigns}
    events = [{"seq": r.seq, "at": r.at.astimezone(ctxs[r.campaign].tz if r.campaign in ctxs else UTC).isoformat(),
               "actor": labels.actor(r.actor, lang, names), "action": r.action,
               "action_label": labels.audit_action(r.action, lang), "campaign": r.campaign,
               "campaign_title": titles.get(r.campaign or "", r.campaign), "subject": r.subject,
               "before": _brief(r.before), "after": _brief(r.after), "hash": r.hash[:12]} for r in rows]
    pages = max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1)

    def link(n: int) -> str:
        return "/audit?" + urlencode({"campaign": campaign, "q": q, "page": n})

    if check is not None:
        tz = next(iter(ctxs.values())).tz if ctxs else ZoneInfo("Asia/Shanghai")
        check = {**check, "at": check["checked_at"].astimezone(tz).isoformat(),
                 "by_name": labels.actor(check["by"], lang, names), "reason": labels.one_language(check["reason"], lang),
                 "newer": max(head - check["up_to_seq"], 0)}
    return _page(request, "audit.html", caller, check=check, head=head, events=events, total=total, page=page,
                 pages=pages, campaign=campaign, q=q, campaigns=campaigns, prev_url=link(page - 1) if page > 1 else None,
                 next_url=link(page + 1) if page < pages else None)


@router.post("/audit/verify")
def audit_verify(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "", campaign: Annotated[str, Form()] = "",
                 caller: Caller = page_caller("audit.read")) -> Response:
    """Verify the whole chain now (in a read) and record the result (a short write)."""
    check_csrf(request, caller, csrf)
    with svc.read() as conn:
        verdict, up_to = audit.full_check(conn)
    with svc.write() as conn:
        audit.record_check(conn, verdict, up_to, svc.now(), caller.name)
    return RedirectResponse("/audit?" + urlencode({"campaign": campaign, "checked": 1}), status_code=303)


def _ctxs(conn: Any, keys: set[str]) -> dict[str, Any]:
    """The campaigns named by events, for their time zone (instants as their people read them) and units."""
    ctxs = {}
    for key in keys:
        try:
            ctxs[key] = load_ctx(conn, key)
        except NotFound:  # an event may name a campaign that was never stored (a refused command)
            continue
    return ctxs


def _brief(value: Any, limit: int = 300) -> str:
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the public board ---

@router.get("/public/{key}")
def public(key: str, request: Request, svc: Svc) -> Response:
    """No login, and nobody is looked up: aggregated figures only, the same for every visitor."""
    now = svc.now()
    with svc.read() as conn:
        doc = board.public_board(conn, key, now)
    return _page(request, "public.html", None, doc=doc,
                 timeline=Markup(timeline_svg(doc["phases"], now, render.lang_of(request))))
