"""Logging in and out in the browser.

The login form is protected by a double-submit token (a cookie and a form field that must match), since
there is no session yet; a successful login always starts a new session (no fixation), whose cookie is
HttpOnly and SameSite=Lax, and whose CSRF token every later form carries. Failed logins are throttled
per account and per client address (campaign_model.accounts).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.accounts import PASSWORD_MIN_LENGTH
from campaign_model.errors import AuthFailed, InvalidInput, Throttled

from ..usecases import accounts
from . import labels
from .deps import SESSION_COOKIE, Caller, Svc, check_csrf, identify
from .page_auth import logged_in
from .render import lang_of, page

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "cf_login"


def safe_next(target: str | None) -> str:
    """Only a path on this site: never another origin (//host, scheme:, backslashes)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or ":" in target.split("?")[0]:
        return "/"
    return target


def _login_page(request: Request, status: int = 200, error: str | None = None, name: str = "",
                next_url: str = "/") -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", status=status, csrf=token, error=error, name=name, next_url=safe_next(next_url))
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.app.state.services.secure_cookies)
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    return _login_page(request, next_url=next)


@router.post("/login")
def login(request: Request, svc: Svc, name: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=1024)],
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:  # noqa: A002
    lang_en = request.cookies.get("lang") == "en"
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not expected or not hmac.compare_digest(expected, csrf):
        msg = "Your login form expired; please try again." if lang_en else "登录表单已过期，请重试。"
        return _login_page(request, 403, msg, name, next)
    source = request.client.host if request.client else "unknown"
    try:
        session = accounts.login(svc, name, password, source)
    except Throttled as exc:
        msg = (f"Too many failed logins; try again in {exc.retry_after} seconds." if lang_en
               else f"登录失败次数过多，请 {exc.retry_after} 秒后再试。")
        response = _login_page(request, 429, msg, name, next)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthFailed:
        msg = "Wrong name or password." if lang_en else "用户名或密码错误。"
        return _login_page(request, 401, msg, name, next)
    # a one-time password: first the change form, then the page asked for
    target = f"/password?next={quote(safe_next(next), safe='/')}" if session["must_change_password"] else safe_next(next)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session["session"], httponly=True, samesite="lax", path="/", secure=svc.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "") -> Response:
    caller = identify(request, svc)
    if caller is not None and caller.via == "session":
        check_csrf(request, caller, csrf)
        accounts.logout(svc, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- one's own password (and the forced change after a one-time password) ---

def _password_page(request: Request, caller: Caller, next_url: str, status: int = 200, error: str | None = None,
                   field: str | None = None) -> Response:
    lang = lang_of(request)
    response = page(request, "password.html", status=status, forced=caller.principal.must_change_password,
                    next_url=safe_next(next_url), error=error, field=field, min_length=PASSWORD_MIN_LENGTH,
                    one=lambda text: labels.one_language(text, lang))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/password")
def password_form(request: Request, next: str = "/", caller: Caller = logged_in()) -> Response:  # noqa: A002
    return _password_page(request, caller, next)


@router.post("/password")
def password_change(request: Request, svc: Svc, csrf: Annotated[str, Form()] = "",
                    current: Annotated[str, Form(max_length=1024)] = "", new: Annotated[str, Form(max_length=1024)] = "",
                    repeat: Annotated[str, Form(max_length=1024)] = "", next: Annotated[str, Form()] = "/",  # noqa: A002
                    caller: Caller = logged_in()) -> Response:
    if caller.via != "session":  # a program changes no password with its token
        return _password_page(request, caller, next, 403, "请在浏览器中登录后修改密码 (log in with a browser to change a password)")
    check_csrf(request, caller, csrf)
    try:
        if new != repeat:
            raise InvalidInput("两次输入的新密码不一致 (the two new passwords differ)", field="repeat")
        accounts.change_own_password(svc, svc.act(caller.name), caller.name, current, new,
                                     keep_session=request.cookies.get(SESSION_COOKIE),
                                     source=request.client.host if request.client else "unknown")
    except InvalidInput as exc:
        return _password_page(request, caller, next, 422, str(exc), exc.field)
    return RedirectResponse(safe_next(next), status_code=303)
