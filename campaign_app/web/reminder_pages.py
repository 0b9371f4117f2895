"""The reminders page (催办记录): a campaign's outbox with each reminder's state, "send again" for a dead one,
and the configured delivery channels (secrets masked) with a test message through each.

Each route calls one use case (`usecases.reminders.outbox_page`, `resend`; `usecases.configuration.channels`,
`send_test_message`). Sending again only re-plans the reminder: the tick that sends it runs after the
redirect (a background task), as for "remind now". A refused change comes back as this page with the
reason, nothing changed; a reminder that is not there is an error page as for any other address.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.errors import CampaignError, ConflictError
from campaign_model.labels import OUTBOX_STATE
from notifications.dispatch import CHANNEL_LABEL

from ..usecases import configuration as configuration_uc
from ..usecases import reminders as uc
from . import render
from .deps import MAX_INT, Caller, IdPath, PageQuery, Svc, check_csrf
from .errors import from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)

StateQuery = Annotated[str, Query(max_length=16)]
UnitQuery = Annotated[str, Query(max_length=200)]


@router.get("/c/{key}/reminders")
def reminders_page(key: str, request: Request, svc: Svc, state: StateQuery = "", unit: UnitQuery = "",
                   page: PageQuery = 1, resent: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                   held: Annotated[int, Query(ge=0, le=1)] = 0, caller: Caller = page_caller("reminders.read")) -> Response:
    return _page(request, svc, caller, key, state, unit, page, resent=resent, held=bool(held))


@router.post("/c/{key}/reminders/{outbox_id}/resend")
def resend(key: str, outbox_id: IdPath, request: Request, svc: Svc, background: BackgroundTasks,
           csrf: Annotated[str, Form()] = "", state: Annotated[str, Form(max_length=16)] = "",
           unit: Annotated[str, Form(max_length=200)] = "", page: Annotated[int, Form(ge=1, le=1_000_000)] = 1,
           caller: Caller = page_caller("reminders.send")) -> Response:
    check_csrf(request, caller, csrf)
    try:
        result = uc.resend(svc, svc.act(caller.name), key, outbox_id, defer=background.add_task)
    except ConflictError as exc:
        return _page(request, svc, caller, key, state, unit, page, status=409, error=str(exc), error_row=outbox_id)
    query = urlencode({"state": state, "unit": unit, "page": page, "resent": outbox_id, "held": int(result["held"])})
    return RedirectResponse(f"/c/{quote(key)}/reminders?{query}#outbox-{outbox_id}", status_code=303)


@router.post("/c/{key}/reminders/channels/test")
def channel_test(key: str, request: Request, svc: Svc, channel: Annotated[str, Form(max_length=100)] = "",
                 to: Annotated[str, Form(max_length=320)] = "", csrf: Annotated[str, Form()] = "",
                 caller: Caller = page_caller("channels.test")) -> Response:
    """Send a test message now and show the page with the result (the send takes the channel's time)."""
    check_csrf(request, caller, csrf)
    try:
        result = configuration_uc.send_test_message(svc, svc.act(caller.name), channel, to=to, campaign=key)
    except CampaignError as exc:
        err = from_domain(exc)
        return _page(request, svc, caller, key, "", "", 1, status=err.status,
                     tested={"channel": channel, "ok": False, "refused": True, "error": err.message})
    return _page(request, svc, caller, key, "", "", 1, tested=result)


def _page(request: Request, svc: Svc, caller: Caller, key: str, state: str, unit: str, page: int, *,
          status: int = 200, **extra: Any) -> Response:
    view = uc.outbox_page(svc, key, state=state or None, unit=unit or None, page=page)
    try:
        channels, channels_error = configuration_uc.channels(svc)["channels"], None
    except CampaignError as exc:  # a broken channels file: said on the page, the outbox still shown
        channels, channels_error = [], str(exc)
    lang = render.lang_of(request)

    def link(**change: Any) -> str:
        query = {"state": view["state"] or "", "unit": view["unit"] or "", "page": view["page"], **change}
        return f"/c/{quote(key)}/reminders?" + urlencode({k: v for k, v in query.items() if v not in ("", None)})

    return render.page(request, "reminders.html", status=status, can=rights(caller), key=key, view=view,
                       states=OUTBOX_STATE, channels=channels, channels_error=channels_error,
                       channel_kinds=CHANNEL_LABEL["en" if lang == "en" else "zh"], link=link,
                       **{"resent": None, "held": False, "error": None, "error_row": None, "tested": None, **extra})
