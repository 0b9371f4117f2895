"""Who is calling, what they may do, and which units they may see: the dependencies every route takes.

A program sends `Authorization: Bearer TOKEN`; a browser carries the session cookie, and then every
state-changing request must also carry the session's CSRF token (form field `csrf` or header
`X-CSRF-Token`): a cookie alone never changes anything.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import Field

from campaign_model.access import allowed, outside, sees_everything, visible_units
from campaign_model.store.accounts import Principal
from campaign_model.store.campaigns import CampaignCtx, load_ctx
from campaign_model.store.scope import active_parent, unit_parents

from ..usecases import accounts
from ..usecases.services import Services
from .errors import ApiError, forbidden, unauthenticated

SESSION_COOKIE = "cf_session"

# Every number a client sends is bounded: a stored id or a count fits a signed 64-bit integer, so a
# larger one is a 422 naming the field, never an OverflowError from the database.
MAX_INT = 2**63 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_INT)]
IndexPath = Annotated[int, Path(ge=0, le=10_000)]  # the n-th file of a filing or an evidence entry
PageQuery = Annotated[int, Query(ge=1, le=1_000_000)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_INT)]  # an optional id in the query: `item: IdQuery = None`
CountQuery = Annotated[int | None, Query(ge=0, le=MAX_INT)]  # a count a redirect carries back to its page
IdField = Annotated[int, Field(ge=1, le=MAX_INT)]  # an id in a JSON body or a form list: `list[IdField]`
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    principal: Principal
    via: str  # "token" | "session"
    csrf: str | None = None

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role


def get_services(request: Request) -> Services:
    return request.app.state.services


Svc = Annotated[Services, Depends(get_services)]


def identify(request: Request, svc: Services) -> Caller | None:
    """The caller of this request, looked up once; None without credentials. A bad token is a 401."""
    if hasattr(request.state, "caller"):
        return request.state.caller
    caller: Caller | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated", "Authorization 头应为 'Bearer TOKEN' (use Authorization: Bearer TOKEN)",
                           headers={"WWW-Authenticate": "Bearer"})
        principal = accounts.caller_of_token(svc, token.strip())
        if principal is None:
            raise ApiError(401, "unauthenticated", "令牌无效、已过期或已撤销 (the token is unknown, expired or revoked)",
                           headers={"WWW-Authenticate": "Bearer"})
        caller = Caller(principal, "token")
    elif cookie := request.cookies.get(SESSION_COOKIE):
        found = accounts.caller_of_session(svc, cookie)
        if found is not None:
            caller = Caller(found[0], "session", found[1])
    request.state.caller = caller
    return caller


def csrf_ok(caller: Caller, presented: str | None) -> bool:
    return bool(presented) and caller.csrf is not None and hmac.compare_digest(caller.csrf, presented or "")


def check_csrf(request: Request, caller: Caller, form_token: str | None = None) -> None:
    """A session's state-changing request must carry its CSRF token; a bearer token needs none (no cookie)."""
    if caller.via != "session" or request.method in SAFE_METHODS:
        return
    if not csrf_ok(caller, form_token or request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "csrf", "缺少或错误的 CSRF 令牌，请刷新页面后重试 (missing or wrong CSRF token; reload the page)")


def require(action: str) -> Any:
    """A dependency: the caller, who must be allowed `action` (401 without credentials, 403 without the right)."""

    def dependency(request: Request, svc: Svc) -> Caller:
        caller = identify(request, svc)
        if caller is None:
            raise unauthenticated()
        if caller.via == "session" and caller.principal.must_change_password:
            # a one-time password opens /password only; a bearer token (a program's) keeps working
            raise ApiError(403, "password_change_required", "请先在 /password 设置新密码 "
                                                            "(choose a new password at /password first)")
        if not allowed(caller.role, action):
            raise forbidden(f"{caller.role} → {action}")
        check_csrf(request, caller)
        return caller

    dependency.right = action  # type: ignore[attr-defined]  # read by openapi_doc: this operation needs credentials
    return Depends(dependency)


def scope_of(conn: Any, ctx: CampaignCtx, caller: Caller) -> frozenset[str] | None:
    """The units the caller may see in this campaign; None means all of them."""
    if sees_everything(caller.role):
        return None
    own = caller.principal.unit
    scope = visible_units(own, unit_parents(conn, ctx.id)) if own else frozenset()
    if not scope:
        raise _not_in_campaign(ctx)
    return scope


def _not_in_campaign(ctx: CampaignCtx) -> ApiError:
    return forbidden(f"您的单位不在活动 {ctx.key} 中 (your unit takes no part in {ctx.key})")


def check_unit(conn: Any, ctx: CampaignCtx, caller: Caller, unit: str, field: str = "unit") -> None:
    """`check_units(scope_of(conn, ctx, caller), [unit], field)` for one unit, with the same answers and errors,
    without reading every unit: walks up from `unit` through active units until the caller's own unit
    (a few indexed lookups; scope_of costs milliseconds per request in a campaign of thousands of units)."""
    if sees_everything(caller.role):
        return
    own = caller.principal.unit
    if not own:
        raise _not_in_campaign(ctx)
    seen: set[str] = set()
    at: str | None = unit
    while at is not None and at not in seen:  # a cycle cannot be stored, but never loop on one
        seen.add(at)
        active, parent = active_parent(conn, ctx.id, at)
        if not active:
            break
        if at == own:
            return
        at = parent
    if not active_parent(conn, ctx.id, own)[0]:
        raise _not_in_campaign(ctx)
    check_units(frozenset(), [unit], field)


def scoped(conn: Any, key: str, caller: Caller) -> tuple[CampaignCtx, frozenset[str] | None]:
    """The campaign and the caller's units in it (None: all); 403 when the caller's unit takes no part."""
    ctx = load_ctx(conn, key)
    return ctx, scope_of(conn, ctx, caller)


def check_units(scope: frozenset[str] | None, units: Collection[str], field: str = "unit") -> None:
    if scope is None:
        return
    beyond = outside(scope, units)
    if beyond:
        raise ApiError(403, "forbidden", f"无权访问单位 {', '.join(beyond)} (not your unit: {', '.join(beyond)})", field)


@dataclass(frozen=True)
class CallerScope:
    """A unit user's scope as the use cases ask it (usecases.scope.Scope), refused as the routes refuse it."""

    caller: Caller

    def units(self, conn: Any, ctx: CampaignCtx) -> frozenset[str] | None:
        return scope_of(conn, ctx, self.caller)

    def check(self, conn: Any, ctx: CampaignCtx, unit: str, seen: frozenset[str] | None = None) -> None:
        if seen is not None:
            check_units(seen, [unit])
        else:
            check_unit(conn, ctx, self.caller, unit)


def reach(caller: Caller) -> CallerScope | None:
    """The scope a use case takes for this caller: None for a role that sees every unit."""
    return None if sees_everything(caller.role) else CallerScope(caller)
