"""Accounts in the browser (/admin/users, right `users.manage`): the list with filters, adding an account,
disabling and enabling, one-time passwords, API tokens, and unit accounts in bulk from a campaign's units.

Each route calls one use case (`usecases.accounts`). A secret (a one-time password, an API token) is
shown once, on the page answering the POST that made it, with `Cache-Control: no-store`; it is never
put in a URL, a redirect or the log. The bulk accounts and a bulk reset answer with the handover XLSX,
the only copy of their passwords. Bad input comes back as the same page with the message next to the
field, nothing changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.access import ROLE_TITLES
from campaign_model.accounts import PASSWORD_MIN_LENGTH, ROLES, SKIP_REASONS
from campaign_model.errors import CampaignError, InvalidInput

from ..usecases import accounts as uc
from ..usecases.account_sheet import account_sheet
from . import labels, render
from .deps import Caller, IdPath, Svc, check_csrf
from .errors import from_domain
from .page_auth import page_caller, rights

router = APIRouter(include_in_schema=False)

NamePath = Annotated[str, Path(min_length=1, max_length=64)]
KeyQuery = Annotated[str, Query(max_length=64)]
TextForm = Annotated[str, Form(max_length=200)]
NO_STORE = {"Cache-Control": "no-store"}
SHOWN_TZ = ZoneInfo("Asia/Shanghai")  # accounts belong to no campaign: instants in the default zone, as the CLI shows them
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _render(request: Request, template: str, caller: Caller, status: int = 200, **context: Any) -> Response:
    lang = render.lang_of(request)
    return render.page(request, template, status=status, can=rights(caller),
                       one=lambda text: labels.one_language(text, lang), **context)


def _login_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/login"


def _users_page(request: Request, svc: Svc, caller: Caller, *, role: str = "", unit: str = "", status: int = 200,
                **extra: Any) -> Response:
    view = uc.accounts_page(svc, role=role or None, unit=unit or None)
    view["users"] = [{**_local(u), "token_list": [_local(t) for t in u["token_list"]]} for u in view["users"]]
    context: dict[str, Any] = {"error": None, "field": None, "form": {}, "done": None, **extra}
    return _render(request, "users.html", caller, status=status, view=view, roles=ROLES,
                       role_titles=ROLE_TITLES, unit_options=uc.unit_choices(svc), min_length=PASSWORD_MIN_LENGTH,
                       me=caller.name, **context)


def _local(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v.astimezone(SHOWN_TZ).isoformat() if isinstance(v, dt.datetime) else v for k, v in doc.items()}


def _back(done: str, user: str = "") -> RedirectResponse:
    return RedirectResponse("/admin/users?" + urlencode({"done": done, "user": user}) + (f"#user-{quote(user)}" if user else ""),
                            status_code=303)


def _secret(request: Request, caller: Caller, kind: str, **context: Any) -> Response:
    response = _render(request, "users_secret.html", caller, kind=kind, login_url=_login_url(request), **context)
    response.headers.update(NO_STORE)
    return response


@router.get("/admin/users")
def users_list(request: Request, svc: Svc, role: KeyQuery = "", unit: KeyQuery = "", done: KeyQuery = "",
               user: KeyQuery = "", caller: Caller = page_caller("users.manage")) -> Response:
    return _users_page(request, svc, caller, role=role, unit=unit, done={"what": done, "user": user} if done else None)


@router.post("/admin/users")
def user_add(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "", name: Annotated[str, Form(max_length=64)] = "",
             display_name: TextForm = "", role: Annotated[str, Form(max_length=16)] = "",
             unit: Annotated[str, Form(max_length=64)] = "", password: Annotated[str, Form(max_length=1024)] = "",
             one_time: Annotated[str, Form(max_length=8)] = "", caller: Caller = page_caller("users.manage")) -> Response:
    check_csrf(request, caller, csrf)
    form = {"name": name, "display_name": display_name, "role": role, "unit": unit, "one_time": bool(one_time)}
    try:
        if not name.strip():
            raise InvalidInput("请填写用户名 (a user name is required)", field="name")
        if not one_time and not password:
            raise InvalidInput("请填写初始密码，或选择“生成一次性密码” (give an initial password, or choose "
                               "\"generate a one-time password\")", field="password")
        doc = uc.add_user(svc, svc.act(caller.name), name.strip(), role, unit=unit.strip() or None,
                          password=None if one_time else password, display_name=display_name.strip() or None,
                          one_time=bool(one_time))
    except CampaignError as exc:
        err = from_domain(exc)
        return _users_page(request, svc, caller, status=err.status, error=err.message,
                           field=err.fields[0]["field"] if err.fields else None, form=form)
    if doc.get("one_time_password"):
        return _secret(request, caller, "password", user=doc, secret=doc["one_time_password"], added=True)
    return _back("added", doc["name"])


@router.post("/admin/users/{name}/disable")
def user_disable(name: NamePath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
                 caller: Caller = page_caller("users.manage")) -> Response:
    check_csrf(request, caller, csrf)
    if name == caller.name:
        return _users_page(request, svc, caller, status=409, field="user", error=(
            "不能停用自己正在使用的账号 (you cannot disable the account you are logged in with)"))
    uc.set_disabled(svc, svc.act(caller.name), name, True)
    return _back("disabled", name)


@router.post("/admin/users/{name}/enable")
def user_enable(name: NamePath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
                caller: Caller = page_caller("users.manage")) -> Response:
    check_csrf(request, caller, csrf)
    uc.set_disabled(svc, svc.act(caller.name), name, False)
    return _back("enabled", name)


@router.post("/admin/users/{name}/reset")
def user_reset(name: NamePath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
               caller: Caller = page_caller("users.manage")) -> Response:
    check_csrf(request, caller, csrf)
    password = uc.reset_password(svc, svc.act(caller.name), name)
    return _secret(request, caller, "password", user={"name": name}, secret=password, added=False)


@router.post("/admin/users/{name}/tokens")
def token_create(name: NamePath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
                 label: TextForm = "", expires: Annotated[str, Form(max_length=8)] = "",
                 caller: Caller = page_caller("users.manage")) -> Response:
    check_csrf(request, caller, csrf)
    try:
        days = _days(expires)
        doc = uc.create_token(svc, svc.act(caller.name), name, expires_days=days, label=label.strip() or None)
    except CampaignError as exc:
        err = from_domain(exc)
        return _users_page(request, svc, caller, status=err.status, error=f"{name}: {err.message}", field="expires",
                           form={"token_user": name, "label": label, "expires": expires})
    return _secret(request, caller, "token", user={"name": name}, secret=doc["token"], token=doc)


def _days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise InvalidInput("有效期应为 1 至 3650 之间的天数，留空为长期有效 (expiry: a number of days from 1 to 3650, "
                           "or empty for none)", field="expires")
    return int(text)


@router.post("/admin/users/tokens/{token_id}/revoke")
def token_revoke(token_id: IdPath, request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
                 user: Annotated[str, Form(max_length=64)] = "", caller: Caller = page_caller("users.manage")) -> Response:
    check_csrf(request, caller, csrf)
    uc.revoke_token(svc, svc.act(caller.name), token_id)
    return _back("revoked", user)


# --- in bulk ---

@router.get("/admin/users/bulk")
def bulk_preview(request: Request, svc: Svc, campaign: KeyQuery = "", parent: KeyQuery = "", tag: KeyQuery = "",
                 caller: Caller = page_caller("users.manage")) -> Response:
    choices = uc.bulk_choices(svc, campaign or None)
    plan, error = None, None
    if campaign:
        try:
            plan = uc.unit_account_plan(svc, campaign, parent=parent or None, tag=tag or None)
        except CampaignError as exc:
            error = from_domain(exc).message
    return _render(request, "users_bulk.html", caller, status=422 if error else 200, choices=choices, campaign=campaign,
                   parent=parent, tag=tag, plan=plan, error=error, login_url=_login_url(request), reasons=SKIP_REASONS)


@router.post("/admin/users/bulk")
def bulk_create(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "", campaign: Annotated[str, Form(max_length=64)] = "",
                parent: Annotated[str, Form(max_length=64)] = "", tag: Annotated[str, Form(max_length=64)] = "",
                caller: Caller = page_caller("users.manage")) -> Response:
    """Create the accounts and answer with the handover sheet (the one copy of their passwords)."""
    check_csrf(request, caller, csrf)
    plan = uc.create_unit_accounts(svc, svc.act(caller.name), campaign, parent=parent or None, tag=tag or None)
    if not plan["create"]:
        return RedirectResponse("/admin/users/bulk?" + urlencode({"campaign": campaign, "parent": parent, "tag": tag}),
                                status_code=303)
    body = account_sheet(plan["create"], _login_url(request), f"{plan['title']} 单位账号（一次性密码）")
    return _download(body, f"{campaign}-accounts.xlsx")


@router.post("/admin/users/reset-bulk")
def bulk_reset(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
               user: Annotated[list[Annotated[str, Form(max_length=64)]] | None, Form()] = None,
               caller: Caller = page_caller("users.manage")) -> Response:
    """New one-time passwords for the chosen accounts, answered as the handover sheet."""
    check_csrf(request, caller, csrf)
    try:
        if len(user or []) > 5000:
            raise InvalidInput("一次最多 5000 个账号 (at most 5000 accounts at once)", field="user")
        done = uc.reset_passwords(svc, svc.act(caller.name), list(user or []))
    except CampaignError as exc:
        err = from_domain(exc)
        return _users_page(request, svc, caller, status=err.status, error=err.message, field="user")
    rows = [{"unit_name": d["display_name"] or d["unit"] or d["name"], "name": d["name"], "password": d["password"]}
            for d in done]
    return _download(account_sheet(rows, _login_url(request), "账号一次性密码（重置）"), "accounts-reset.xlsx")


def _download(body: bytes, filename: str) -> Response:
    return Response(body, media_type=XLSX, headers={
        **NO_STORE, "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})
