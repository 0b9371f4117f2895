"""Accounts: users, API tokens, logging in and out, and who a token or a session belongs to.

Accounts belong to no campaign. The command line manages them (`campaign user|token ...`); the web
layer logs in, logs out and identifies its callers here. Secrets (passwords, tokens) pass through as
arguments and results, never into the audit log (campaign_model.store.accounts sees to that).
"""

from __future__ import annotations

from typing import Any

from campaign_model.accounts import check_role, check_user_name
from campaign_model.store import accounts as store
from campaign_model.store.accounts import Principal
from campaign_model.store.audit import Act

from .services import Services


def check_new_user(name: str, role: str, unit: str | None) -> None:
    """Refuse a bad name or role before anyone types a password."""
    check_user_name(name)
    check_role(role, unit)


def check_user(svc: Services, name: str) -> None:
    """Refuse an unknown user name (NotFound) before anyone types a password."""
    with svc.read() as conn:
        store.get_principal(conn, name)


def add_user(svc: Services, act: Act, name: str, role: str, *, unit: str | None = None,
             password: str | None = None, display_name: str | None = None) -> dict[str, Any]:
    """Add an account; without a password it can only use API tokens."""
    with svc.write() as conn:
        return store.add_user(conn, name, role, unit, password, act, display_name)


def list_users(svc: Services) -> list[dict[str, Any]]:
    """Every account, with its count of live tokens."""
    with svc.read() as conn:
        return store.list_users(conn, svc.now())


def set_password(svc: Services, act: Act, name: str, password: str) -> None:
    """Set a user's password; their browser sessions end."""
    with svc.write() as conn:
        store.set_password(conn, name, password, act)


def set_disabled(svc: Services, act: Act, name: str, disabled: bool) -> None:
    """Disable an account (sessions end, tokens are refused) or enable it again."""
    with svc.write() as conn:
        store.set_disabled(conn, name, disabled, act)


def create_token(svc: Services, act: Act, name: str, *, expires_days: int | None = None,
                 label: str | None = None) -> dict[str, Any]:
    """A new API token for `name`: its listing entry and, under "token", the plaintext (shown this once)."""
    with svc.write() as conn:
        token, doc = store.create_token(conn, name, act, expires_days, label)
    return {"token": token, **doc}


def list_tokens(svc: Services, name: str | None = None) -> list[dict[str, Any]]:
    """The API tokens (of one user, or all), each with its prefix and state: active, expired or revoked."""
    at = svc.now()
    with svc.read() as conn:
        tokens = store.list_tokens(conn, name)
    for t in tokens:
        t["state"] = ("revoked" if t["revoked_at"] is not None
                      else "expired" if t["expires_at"] is not None and t["expires_at"] <= at else "active")
    return tokens


def revoke_token(svc: Services, act: Act, token_id: int) -> None:
    """Revoke an API token."""
    with svc.write() as conn:
        store.revoke_token(conn, token_id, act)


def login(svc: Services, name: str, password: str, source: str) -> dict[str, Any]:
    """Log in: a new session's token and CSRF token; AuthFailed or Throttled (per account and per address)."""
    now = svc.now()
    # deferred, not svc.write(): the password hash is checked outside the writer lock, and a failure is
    # recorded (for the throttle) in a transaction of its own, which BEGIN IMMEDIATE here would block
    with svc.engine.begin() as conn:
        principal = store.authenticate(conn, name.strip(), password, now, source)
    with svc.write() as conn:
        token, csrf = store.create_session(conn, principal.user_id, now)
    return {"session": token, "csrf": csrf, "user": principal.name}


def logout(svc: Services, session: str) -> None:
    """End a browser session."""
    with svc.write() as conn:
        store.end_session(conn, session)


def caller_of_token(svc: Services, token: str) -> Principal | None:
    """Whose API token this is; None when unknown, expired, revoked or its user disabled."""
    now = svc.now()
    with svc.read() as conn:  # a lookup reads; noting the last use is a write of its own, once a minute
        principal, stale = store.lookup_token(conn, token, now)
    if stale is not None:
        with svc.write() as conn:
            store.touch_token(conn, stale, now)
    return principal


def caller_of_session(svc: Services, session: str) -> tuple[Principal, str] | None:
    """(whose browser session this is, its CSRF token); None when unknown, idle too long, too old or disabled."""
    now = svc.now()
    with svc.read() as conn:
        found = store.lookup_session(conn, session, now)
    if found is None:
        return None
    principal, csrf, stale = found
    if stale is not None:
        with svc.write() as conn:
            store.touch_session(conn, stale, now)
    return principal, csrf
