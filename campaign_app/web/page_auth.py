"""Who may see a page: the dashboard's counterpart of `deps.require`.

A page answers a visitor without a session by sending them to the login form (and back afterwards),
not with a 401; a caller without the right gets the 403 page. A user holding a one-time password
(`must_change_password`) is sent to /password from every page until they have chosen their own. A unit user's scope is `deps.scope_of`,
as in the API. State-changing forms check the session's CSRF token in the route, first thing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from campaign_model.access import allowed

from .deps import Caller, Svc, identify
from .errors import forbidden

PASSWORD_PAGE = "/password"


class PasswordChangeRequired(Exception):
    """Raised by a page's dependency for a user who must first replace a one-time password."""


async def password_redirect(request: Request, exc: Exception) -> Response:
    return RedirectResponse(PASSWORD_PAGE, status_code=303)


class LoginRequired(Exception):
    """Raised by a page's dependency when nobody is logged in; answered with a redirect to /login."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


async def login_redirect(request: Request, exc: Exception) -> Response:
    target = exc.next_url if isinstance(exc, LoginRequired) else "/"
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def page_caller(action: str) -> Any:
    """A dependency: the logged-in caller, who must be allowed `action` (else the login form, or 403)."""

    def dependency(request: Request, svc: Svc) -> Caller:
        caller = identify(request, svc)
        if caller is None:
            if request.method != "GET":  # a form's action is no page to come back to
                raise LoginRequired("/")
            query = request.url.query
            raise LoginRequired(request.url.path + (f"?{query}" if query else ""))
        if caller.principal.must_change_password and caller.via == "session":
            raise PasswordChangeRequired()
        if not allowed(caller.role, action):
            raise forbidden(f"{caller.role} → {action}")
        return caller

    return Depends(dependency)


def logged_in() -> Any:
    """A dependency: the logged-in caller, whatever their role (and even with a one-time password)."""

    def dependency(request: Request, svc: Svc) -> Caller:
        caller = identify(request, svc)
        if caller is None:
            raise LoginRequired(request.url.path if request.method == "GET" else "/")
        return caller

    return Depends(dependency)


def rights(caller: Caller) -> Any:
    """`can(action)` for templates: whether to offer a link or a form at all (the routes check again)."""
    return lambda action: allowed(caller.role, action)
