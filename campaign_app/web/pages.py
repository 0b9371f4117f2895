"""The dashboard: campaigns, a campaign's overview, the traffic-light matrix, the overdue list with
"remind now", the audit log, and the public board (公示, its heading from the spec) (no login).

Each route turns a request into one call of a use case (`campaign_app.usecases`) and one
template; a unit user sees only the units of its scope, as in the API. Filing and the ledger have
their own modules, included here. The instant is always the server's clock.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from ..usecases import audit as audit_uc
from ..usecases import campaigns as campaigns_uc
from ..usecases import overrides as overrides_uc
from ..usecases import reminders as reminders_uc
from . import labels, render
from .change_pages import router as change_router
from .charts import progress_svg, timeline_svg
from .deps import Caller, CountQuery, IdField, PageQuery, Svc, check_csrf, reach
from .draft_pages import router as draft_router
from .filing_pages import router as filing_router
from .grade_pages import router as grade_router
from .ledger_pages import router as ledger_router
from .override_pages import router as override_router
from .page_auth import page_caller, rights
from .people_pages import router as people_router
from .reminder_pages import router as reminder_router
from .report_pages import router as report_router
from .review_pages import router as review_router
from .task_pages import router as task_router
from .task_pages import tasks_home
from .timeline_chart import campaign_phases, timeline_chart
from .unit_pages import router as unit_router
from .user_pages import router as user_router

router = APIRouter(include_in_schema=False)
router.include_router(filing_router)
router.include_router(ledger_router)
router.include_router(draft_router)
router.include_router(change_router)
router.include_router(reminder_router)
router.include_router(task_router)
router.include_router(review_router)
router.include_router(override_router)
router.include_router(report_router)
router.include_router(grade_router)
router.include_router(people_router)
router.include_router(unit_router)
router.include_router(user_router)

AUDIT_PAGE = 50


def _page(request: Request, template: str, caller: Caller | None, status_code: int = 200, **context: Any) -> Response:
    can = rights(caller) if caller else (lambda _action: False)
    return render.page(request, template, status=status_code, can=can, **context)


# --- campaigns ---

@router.get("/")
def home(request: Request, svc: Svc, caller: Caller = page_caller("campaign.read")) -> Response:
    if caller.role == "unit":  # a unit user lands on its to-do list (我的待办), its campaigns below it
        return tasks_home(request, svc, caller)
    cards = campaigns_uc.cards(svc, svc.now(), role=caller.role, unit=caller.principal.unit)
    return _page(request, "home.html", caller, campaigns=cards)


@router.get("/c/{key}")
def overview(key: str, request: Request, svc: Svc, caller: Caller = page_caller("campaign.read")) -> Response:
    now, lang = svc.now(), render.lang_of(request)
    view = campaigns_uc.overview(svc, key, now, scope=reach(caller))
    charts = [{"phase": s["phase"], "svg": Markup(progress_svg(s, lang))} for s in view["series"]]
    today = dt.datetime.fromisoformat(view["status"]["at"]).date()  # the campaign's local day
    chart = timeline_chart(campaign_phases(view["status"]["phases"], view["marks"]), view["calendar"], today, lang)
    # 特批转段: the running phase's unmet gate, for those who may force it on (override_pages)
    gate = overrides_uc.advance_view(svc, key, now) if rights(caller)("phase.advance") else None
    return _page(request, "campaign.html", caller, key=key, title=view["title"], doc=view["status"], led_steps=view["led_steps"],
                 scope=view["scope"], charts=charts, own=view["own"], timeline=chart, gate=gate)


# --- the matrix and the overdue list ---

@router.get("/c/{key}/matrix")
def matrix(key: str, request: Request, svc: Svc, parent: str = "", tag: str = "",
           caller: Caller = page_caller("obligations.read")) -> Response:
    view = campaigns_uc.matrix(svc, key, svc.now(), parent=parent or None, tag=tag or None, scope=reach(caller))
    return _page(request, "matrix.html", caller, key=key, title=view["title"], mx=view["matrix"],
                 parents=view["parents"], parent=parent, tag=tag)


@router.get("/c/{key}/overdue")
def overdue(key: str, request: Request, svc: Svc, done: CountQuery = None, items: CountQuery = None,
            caller: Caller = page_caller("obligations.read")) -> Response:
    doc = reminders_uc.overdue(svc, key, scope=reach(caller))
    return _page(request, "overdue.html", caller, key=key, title=doc["title"], rows=doc["rows"], done=done, items=items)


@router.post("/c/{key}/remind")
def remind(key: str, request: Request, svc: Svc, background: BackgroundTasks,
           obligation: Annotated[list[IdField] | None, Form()] = None, csrf: Annotated[str, Form()] = "",
           caller: Caller = page_caller("reminders.send")) -> Response:
    check_csrf(request, caller, csrf)
    # the tick that sends them runs after the redirect, not inside this request
    result = reminders_uc.remind_now(svc, svc.act(caller.name), key, obligation or [], defer=background.add_task)
    query = urlencode({"done": result["planned"], "items": len(result["obligations"])})
    return RedirectResponse(f"/c/{quote(key)}/overdue?{query}", status_code=303)


# --- the audit log ---

@router.get("/audit")
def audit_log(request: Request, svc: Svc, campaign: str = "", q: Annotated[str, Query(max_length=200)] = "",
              page: PageQuery = 1, caller: Caller = page_caller("audit.read")) -> Response:
    """The log, newest first, and the latest full verification of the chain (a view re-hashes nothing:
    the chain is verified by the button below and on the schedule of `serve`)."""
    lang = render.lang_of(request)
    log = audit_uc.browse(svc, campaign=campaign or None, text=q.strip() or None, limit=AUDIT_PAGE,
                          offset=(page - 1) * AUDIT_PAGE)
    names = labels.actor_names(log["units"], log["users"])
    campaigns, total, check = log["campaigns"], log["total"], log["check"]
    titles = {c["key"]: c["title"] for c in campaigns}
    events = [{**e, "actor": labels.actor(e["actor"], lang, names), "action_label": labels.audit_action(e["action"], lang),
               "campaign_title": titles.get(e["campaign"] or "", e["campaign"]), "before": _brief(e["before"]),
               "after": _brief(e["after"]), "hash": e["hash"][:12]} for e in log["events"]]
    pages = max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1)

    def link(n: int) -> str:
        return "/audit?" + urlencode({"campaign": campaign, "q": q, "page": n})

    if check is not None:
        check = {**check, "by_name": labels.actor(check["by"], lang, names),
                 "reason": labels.one_language(check["reason"], lang)}
    return _page(request, "audit.html", caller, check=check, head=log["head"], events=events, total=total, page=page,
                 pages=pages, campaign=campaign, q=q, campaigns=campaigns, prev_url=link(page - 1) if page > 1 else None,
                 next_url=link(page + 1) if page < pages else None)


@router.post("/audit/verify")
def audit_verify(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "", campaign: Annotated[str, Form()] = "",
                 caller: Caller = page_caller("audit.read")) -> Response:
    """Verify the whole chain now and keep the result."""
    check_csrf(request, caller, csrf)
    audit_uc.verify(svc, caller.name)
    return RedirectResponse("/audit?" + urlencode({"campaign": campaign, "checked": 1}), status_code=303)


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
    doc = audit_uc.public_board(svc, key, at=now)
    return _page(request, "public.html", None, doc=doc,
                 timeline=Markup(timeline_svg(doc["phases"], now, render.lang_of(request))))
