"""Accounts: users, API tokens, logging in and out, and who a token or a session belongs to.

Accounts belong to no campaign. The command line manages them (`campaign user|token ...`); the web
layer logs in, logs out and identifies its callers here. Secrets (passwords, tokens) pass through as
arguments and results, never into the audit log (campaign_model.store.accounts sees to that).
"""

from __future__ import annotations

from typing import Any

from campaign_model.accounts import check_role, check_user_name, one_time_password
from campaign_model.errors import AuthFailed, InvalidInput, Throttled
from campaign_model.store import account_bulk as bulk
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
             password: str | None = None, display_name: str | None = None, one_time: bool = False) -> dict[str, Any]:
    """Add an account; without a password it can only use API tokens. With `one_time` (and no password) a
    one-time password is made, returned under "one_time_password" (shown once), to be replaced at the first login."""
    if one_time and password is not None:
        raise InvalidInput("一次性密码由系统生成，不能同时给出初始密码 (a one-time password is generated: "
                           "give no initial password with it)", field="password")
    made = one_time_password() if one_time else None
    with svc.write() as conn:
        doc = store.add_user(conn, name, role, unit, made or password, act, display_name, one_time=one_time)
    return {**doc, "one_time_password": made} if made else doc


def reset_password(svc: Services, act: Act, name: str) -> str:
    """A new one-time password for `name` (returned, shown once): their sessions end, and they must choose
    their own at the next login."""
    with svc.write() as conn:
        return str(bulk.reset_one_time(conn, [name], act)[0]["password"])


def reset_passwords(svc: Services, act: Act, names: list[str]) -> list[dict[str, Any]]:
    """New one-time passwords for several accounts at once (all or none): [{name, display_name, role, unit, password}]."""
    with svc.write() as conn:
        return bulk.reset_one_time(conn, names, act)


def change_own_password(svc: Services, act: Act, name: str, current: str, new: str,
                        keep_session: str | None = None, source: str = "unknown") -> None:
    """A user chooses their own password (the current or one-time one first); their other sessions end.
    A wrong current password counts as a failed login (throttled alike), so a session left open is no
    way to guess it."""
    try:
        # deferred, as for a login: a failure is recorded in a transaction of its own
        with svc.engine.begin() as conn:
            store.authenticate(conn, name, current, svc.now(), source)
    except AuthFailed:
        raise InvalidInput("当前密码不正确 (the current password is wrong)", field="current") from None
    except Throttled as exc:
        raise InvalidInput(f"尝试次数过多，请 {exc.retry_after} 秒后再试 (too many attempts; try again in "
                           f"{exc.retry_after} seconds)", field="current") from None
    with svc.write() as conn:
        store.change_own_password(conn, name, current, new, act, keep_session)


def unit_account_plan(svc: Services, campaign: str, *, parent: str | None = None,
                      tag: str | None = None) -> dict[str, Any]:
    """Which units of a campaign would get an account in bulk, and which are skipped with the reason."""
    with svc.read() as conn:
        return bulk.unit_account_plan(conn, campaign, parent, tag)


def create_unit_accounts(svc: Services, act: Act, campaign: str, *, parent: str | None = None,
                         tag: str | None = None) -> dict[str, Any]:
    """One unit account per unit that has none, each with a one-time password (in the result only)."""
    with svc.write() as conn:
        return bulk.create_unit_accounts(conn, campaign, act, parent, tag)


def accounts_page(svc: Services, *, role: str | None = None, unit: str | None = None) -> dict[str, Any]:
    """The accounts (filtered by role and unit key), each unit account with its unit's names and campaigns,
    each with its API tokens; and the choices of the filters."""
    users = list_users(svc)
    tokens = list_tokens(svc)
    with svc.read() as conn:
        units = bulk.unit_names(conn, sorted({u["unit"] for u in users if u["unit"]}))
    by_user: dict[str, list[dict[str, Any]]] = {}
    for t in tokens:
        by_user.setdefault(t["user"], []).append(t)
    shown = [{**u, "unit_campaigns": units.get(u["unit"], []) if u["unit"] else [],
              "token_list": by_user.get(u["name"], [])}
             for u in users if (not role or u["role"] == role) and (not unit or u["unit"] == unit)]
    unit_choices = {k: (v[0]["name"] if v else k) for k, v in units.items()}
    return {"users": shown, "total": len(users), "units": unit_choices, "role": role, "unit": unit}


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
    return {"session": token, "csrf": csrf, "user": principal.name,
            "must_change_password": principal.must_change_password}


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


def bulk_choices(svc: Services, campaign: str | None) -> dict[str, Any]:
    """What the bulk form offers: the campaigns, and for the chosen one its units (parents) and tags."""
    from campaign_model.store.campaigns import load_ctx
    from campaign_model.store.queries import campaign_list
    from campaign_model.store.unit_lookup import unit_listing

    with svc.read() as conn:
        campaigns = campaign_list(conn)
        if not campaign:
            return {"campaigns": campaigns, "units": [], "tags": []}
        listing = unit_listing(conn, load_ctx(conn, campaign))
    parents = {u["parent"] for u in listing if u["parent"]}
    return {"campaigns": campaigns, "units": [u for u in listing if u["active"] and u["key"] in parents],
            "tags": sorted({t for u in listing if u["active"] for t in u["tags"]})}


def unit_choices(svc: Services) -> list[dict[str, Any]]:
    """Every active unit key of any campaign with its name and campaigns: the unit a new unit account may name."""
    with svc.read() as conn:
        names = bulk.unit_names(conn, bulk.unit_keys(conn))
    return [{"key": k, "name": v[0]["name"] if v else k, "campaigns": [c["campaign"] for c in v]} for k, v in names.items()]
